#pragma once
// LibTorch's own int8 kernels as the second integer judge of qx's simulation (docs/deployment.md,
// "LibTorch's int8 kernels"): each chosen cell (judge.h: recomputed and checked against the
// database) lowered onto quantized::conv2d and friends (deploy/int8_kernels.h) on the onednn or
// qnnpack engine, in process, on the same test images. Each verdict is a cell of experiment
// `int8-kernels`, keyed by the source cell and the engine, with judge.h's settings under the
// prefix `int8.` and these:
//   int8.engine                            qnnpack or onednn
//   int8.integer_layers, int8.float_layers what ran on integer kernels and what in float
//   int8.codes_moved.<point>               per activation point, the fraction of its values on the
//                                          first 500 test images that the kernels put on another
//                                          code than the simulation: where a gap starts, per layer
//   int8.ms_per_image_b1, int8.images_per_s_b256 and the float model's fp32.ms_per_image_b1,
//   fp32.images_per_s_b256 in LibTorch, measured in the same process (--timing)
#include <vector>

#include "qx/deploy/int8_kernels.h"
#include "qx/run/cell_sink.h"
#include "qx/run/experiment_session.h"
#include "qx/run/judge.h"
#include "qx/store/results_db.h"

namespace qx::run {

struct Int8JudgeOptions {
  deploy::Int8Engine engine = deploy::Int8Engine::kQnnpack;
  int threads = 1;      // LibTorch's intra-op threads while timing
  bool timing = false;  // batch-1 latency and batch-256 throughput, and the float model's beside them
};

// The int8 kernels on one engine as one of judge_cells()'s judges; with `timing`, the float model
// is timed here.
Judge int8_kernels_judge(ExperimentSession& session, const Int8JudgeOptions& options);

RunSummary judge_with_int8_kernels(ExperimentSession& session, const std::vector<const PlannedCell*>& cells,
                                   const Int8JudgeOptions& options, store::ResultsDb& results,
                                   const std::vector<CellSink*>& extra_sinks = {});

}  // namespace qx::run
