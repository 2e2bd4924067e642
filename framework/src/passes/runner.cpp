#include "qx/passes/runner.h"

#include <fmt/format.h>

#include "qx/core/clock.h"

namespace qx::passes {

std::vector<PassRun> run_passes(sim::QuantSim& sim, const PassSource& source, PassStage stage,
                                const std::vector<torch::Tensor>& calibration, const data::Dataset* train_set,
                                const std::string& resume_stem) {
  std::vector<PassRun> runs;
  const auto& cell = sim.cell();
  if (!cell.quantize) return runs;
  for (const auto& choice : cell.passes) {
    // Created per stage: a pass holds no state from one stage to the next, and each runs in one.
    const auto pass = source.create_pass(choice.name, choice.options);
    if (pass->stage() != stage) continue;
    const auto start = Clock::now();
    PassContext context{sim.model(), sim, calibration, train_set, cell.seed, fmt::format("pass '{}'", choice.name),
                        resume_stem.empty() ? std::string() : fmt::format("{}-{}.pt", resume_stem, choice.name)};
    pass->run(context);
    runs.push_back({choice, seconds_since(start), context.report});
  }
  sim.forget_measurements();
  return runs;
}

}  // namespace qx::passes
