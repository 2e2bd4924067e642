#include <spdlog/spdlog.h>

#include "commands.h"
#include "qx/config/ptq_config.h"
#include "qx/core/error.h"
#include "qx/plugin/host.h"
#include "qx/run/ptq_runner.h"

namespace qx::cli {

namespace {

struct RunArgs {
  std::string experiment;
  run::RunOverrides overrides;
};

void run_experiment(const RunArgs& args, const GlobalOptions& global) {
  const auto experiment = config::load_ptq_experiment(args.experiment);
  PluginHost host(resolve_plugin_dir(global.plugin_dir, experiment.plugin_dir));
  spdlog::info("{}: {} cells", experiment.source_path, experiment.cells.size());
  const auto summary = run::run_ptq_experiment(experiment, host, args.overrides);
  spdlog::info("{} cells: {} run, {} skipped (finished earlier), {} failed, in {:.0f} s", summary.cells,
               summary.finished, summary.skipped, summary.failed, summary.seconds);
  if (summary.failed) fail("{} of {} cells failed; the first: {}", summary.failed, summary.cells, summary.first_error);
}

}  // namespace

void add_run_command(CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand("run", "run a quantization experiment (a grid of cells) into the results database");
  auto args = std::make_shared<RunArgs>();
  command->add_option("experiment", args->experiment, "experiment file, e.g. experiments/ptq_grid.toml")->required();
  command->add_option("--db", args->overrides.database, "results database instead of [output] database");
  command->add_option("--data", args->overrides.data_dir, "CIFAR-10 folder (overrides $QX_DATA_DIR and [data] dir)");
  command->add_option("--checkpoint", args->overrides.checkpoint,
                      "quantize this checkpoint instead of [model] checkpoint (cells are keyed by its run and epoch)");
  command->add_option("--device", args->overrides.device,
                      "cpu, cuda or cuda:N instead of [evaluation] device; like --checkpoint's path, not part of a "
                      "cell's key, so cells run on a GPU are skipped by a later CPU run on the same database");
  command->callback([args, &global] { run_experiment(*args, global); });
}

}  // namespace qx::cli
