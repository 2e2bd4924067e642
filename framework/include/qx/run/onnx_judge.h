#pragma once
// onnxruntime as the external judge of qx's simulation (docs/deployment.md, "Integer runtimes").
// For each chosen cell (judge.h: recomputed and checked against the database), export it
// (deploy/onnx_export.h), run the file on the same test images in onnxruntime's CPU execution
// provider through tools/onnxruntime/judge.js, and compare image by image. Each verdict is a cell
// of experiment `onnxruntime`, with judge.h's settings under the prefix `onnx.` and these:
//   onnx.unoptimized_agreement   the agreement of the file run with onnxruntime's graph optimisation
//                                off (every node as written, in float): what the file's int32
//                                biases change, apart from the integer kernels
//   onnx.kernel_agreement, onnx.kernel_max_logit_difference   optimised against unoptimised: what
//                                the integer kernels themselves change
//   onnx.integer_layers, onnx.float_layers   what onnxruntime's optimised graph computes with
//   onnx.file               the exported model, where it is kept (--files)
//   onnx.ms_per_image_b1, onnx.images_per_s_b256 and the fp32 export's fp32.ms_per_image_b1,
//   fp32.images_per_s_b256, measured in the same process (--timing)
#include <filesystem>
#include <string>
#include <vector>

#include "qx/run/cell_sink.h"
#include "qx/run/experiment_session.h"
#include "qx/run/judge.h"
#include "qx/store/results_db.h"

namespace qx::run {

struct OnnxJudgeOptions {
  std::filesystem::path files;  // keeps each exported model as KEY_DIGEST.onnx; empty: a temporary folder
  std::filesystem::path tool;   // tools/onnxruntime/judge.js
  std::string node = "node";
  int threads = 1;      // onnxruntime's intra-op threads
  bool timing = false;  // batch-1 latency and batch-256 throughput, and the fp32 export's beside them
};

// The judge.js of this source tree, where qx finds it without being told.
std::filesystem::path default_judge_tool();

// onnxruntime as one of judge_cells()'s judges; with `timing`, the fp32 export is timed here.
Judge onnxruntime_judge(ExperimentSession& session, const OnnxJudgeOptions& options);

RunSummary judge_with_onnxruntime(ExperimentSession& session, const std::vector<const PlannedCell*>& cells,
                                  const OnnxJudgeOptions& options, store::ResultsDb& results,
                                  const std::vector<CellSink*>& extra_sinks = {});

}  // namespace qx::run
