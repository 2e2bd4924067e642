#pragma once
// What both integer judges share (onnx_judge.h, int8_judge.h): for each chosen cell, recompute it
// (its top-1 must be the database's, within 0.1 points for another CPU's float arithmetic, so the
// judged model is the published one), keep the
// simulation's logits on the test images, hand the simulated model to a runtime, and compare the
// runtime's logits with the simulation's image by image. Each verdict is a cell of the judge's
// experiment, keyed by the source cell's key, with the source cell's settings and these:
//   PREFIX.source_cell         the simulated cell's row id
//   PREFIX.simulated_top1      its top-1, as recomputed for the comparison
//   PREFIX.agreement           the fraction of test images whose predicted class is the simulation's
//   PREFIX.max_logit_difference
// and the runtime's own. A rerun skips cells already judged.
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "qx/run/cell_sink.h"
#include "qx/run/experiment_session.h"
#include "qx/spec/json.h"
#include "qx/store/results_db.h"

namespace qx::run {

// What a runtime made of one cell.
struct RuntimeRun {
  torch::Tensor logits;       // float32 [test images, classes], in the test set's order
  double seconds = 0;         // the runtime's evaluation of them
  spec::JsonObject settings;  // its own settings rows
};

struct JudgeSetup {
  std::string experiment;  // of the verdicts: "onnxruntime", "int8-kernels"
  std::string prefix;      // of the settings every verdict has: "onnx", "int8"
  std::string runtime;     // in the verdicts' descriptions: "... in onnxruntime"
  spec::JsonObject key;    // the runtime's own members of the verdict's key, beside judge and source
};

// Runs on the cell's simulation while it is alive, given the simulation's logits on the test
// images (for comparisons of its own); what it throws fails the cell's verdict of this runtime.
using Runtime = std::function<RuntimeRun(sim::QuantSim& sim, const PlannedCell& cell, const torch::Tensor& simulated)>;

struct Judge {
  JudgeSetup setup;
  Runtime runtime;
};

// Every judge's verdict on each cell, from one recomputation of the cell: a judge that has its
// verdict already is skipped, and a cell all judges have is not recomputed.
RunSummary judge_cells(ExperimentSession& session, const std::vector<const PlannedCell*>& cells,
                       store::ResultsDb& results, const std::vector<Judge>& judges,
                       const std::vector<CellSink*>& extra_sinks = {});

// Agreement of predicted classes, and the largest logit difference, of two [images, classes] logits.
double agreement(const torch::Tensor& a, const torch::Tensor& b);
double max_difference(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace qx::run
