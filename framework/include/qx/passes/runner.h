#pragma once
// Runs a cell's passes on its simulation, one stage at a time. The simulation knows nothing of
// passes; the engine calls this between the simulation's steps (sim/quant_sim.h lists them).
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "qx/core/options.h"
#include "qx/passes/pass.h"
#include "qx/sim/quant_sim.h"

namespace qx::data {
struct Dataset;
}

namespace qx::passes {

// What provides the passes a cell names: the plugin host, or a test.
class PassSource {
 public:
  virtual ~PassSource() = default;
  virtual std::shared_ptr<Pass> create_pass(const std::string& name, const Options& options) const = 0;
};

// A pass that ran, and how long it took.
struct PassRun {
  spec::PluginChoice pass;
  double seconds = 0;
  std::string report;  // the pass's PassContext::report
};

// Runs the cell's passes of `stage`, in the cell's order, on `sim`'s model. `train_set` may be
// null where no pass trains. A cell that does not quantize runs none. With `resume_stem`, each
// pass's PassContext::resume_file is "<resume_stem>-<pass>.pt".
std::vector<PassRun> run_passes(sim::QuantSim& sim, const PassSource& source, PassStage stage,
                                const std::vector<torch::Tensor>& calibration,
                                const data::Dataset* train_set = nullptr, const std::string& resume_stem = {});

}  // namespace qx::passes
