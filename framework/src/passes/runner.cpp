#include "qx/passes/runner.h"

#include <chrono>

#include <fmt/format.h>

namespace qx::passes {

std::vector<PassRun> run_passes(sim::QuantSim& sim, const Provider& provider, PassStage stage,
                                const std::vector<torch::Tensor>& calibration, const data::Dataset* train_set) {
  std::vector<PassRun> runs;
  const auto& cell = sim.cell();
  if (!cell.quantize) return runs;
  for (const auto& choice : cell.passes) {
    // Created per stage: a pass holds no state from one stage to the next, and each runs in one.
    const auto pass = provider.create_pass(choice.name, choice.options);
    if (pass->stage() != stage) continue;
    const auto start = std::chrono::steady_clock::now();
    PassContext context{sim.model(), sim, calibration, train_set, cell.seed, fmt::format("pass '{}'", choice.name)};
    pass->run(context);
    runs.push_back(
        {choice, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), context.report});
  }
  sim.forget_measurements();
  return runs;
}

}  // namespace qx::passes
