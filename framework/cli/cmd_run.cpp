#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "qx/config/ptq_config.h"
#include "qx/core/error.h"
#include "qx/host/plugin_host.h"
#include "qx/run/mpi_farm.h"
#include "qx/run/ptq_runner.h"
#include "qx/spec/cell.h"

namespace qx::cli {

namespace {

struct RunArgs {
  std::string experiment;
  std::string shard;
  bool list = false;
  run::RunOverrides overrides;
  config::RunBudget budget;
};

// The grid as the runner will plan it, one cell a line, without loading the model or the data:
// what scripts/reproduce.sh counts before it starts a stage.
void list_cells(const config::PtqExperiment& experiment) {
  for (const auto& cell : experiment.cells) fmt::print("{}\n", spec::describe(cell));
  fmt::print("{} cells\n", experiment.cells.size());
}

void run_experiment(const RunArgs& args, const GlobalOptions& global) {
  auto experiment = config::load_ptq_experiment(args.experiment);
  config::apply_budget(experiment, args.budget);
  if (args.list) return list_cells(experiment);
  PluginHost host(resolve_plugin_dir(global.plugin_dir, experiment.plugin_dir));
  run::RunSummary summary;
  if (run::launched_as_mpi_job()) {
    if (!args.shard.empty()) fail("--shard splits a grid without MPI; under mpirun the ranks share the cells already");
    summary = run::run_ptq_experiment_mpi(experiment, host, args.overrides);
    if (!summary.primary) return;  // rank 0 reports for the job
  } else {
    const auto shard = args.shard.empty() ? run::Shard{} : run::parse_shard(args.shard);
    spdlog::info("{}: {} cells{}", experiment.source_path, experiment.cells.size(),
                 shard.count > 1 ? fmt::format(", shard {}/{}", shard.index, shard.count) : std::string());
    summary = run::run_ptq_experiment(experiment, host, args.overrides, shard);
  }
  spdlog::info("{} cells: {} run, {} skipped (finished earlier), {} failed{}{}, in {:.0f} s", summary.cells,
               summary.finished, summary.skipped, summary.failed,
               summary.by_others ? fmt::format(", {} finished by another process", summary.by_others) : std::string(),
               summary.other_shards ? fmt::format(", {} left to other shards", summary.other_shards) : std::string(),
               summary.seconds);
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
  command->add_option("--threads", args->overrides.threads,
                      "CPU threads instead of [evaluation] threads (0 = all cores); per rank under mpirun")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--shard", args->shard,
                      "K/N: run only every N-th cell, starting with the K-th (1 <= K <= N), for job arrays; "
                      "`qx merge` joins the shards' databases");
  command->add_option("--test-images", args->budget.test_images,
                      "a smaller budget: the first N test images instead of [evaluation] images (a new cell key)")
      ->check(CLI::PositiveNumber);
  command->add_option("--calibration-batches", args->budget.calibration_batches,
                      "a smaller budget: N calibration batches instead of [calibration] batches (a new cell key)")
      ->check(CLI::PositiveNumber);
  command->add_option("--first", args->budget.first_cells, "a smaller budget: only the experiment's first N cells")
      ->check(CLI::PositiveNumber);
  command->add_option("--pass-option", args->budget.pass_options,
                      "PASS.KEY=VALUE, set on every cell that runs PASS (repeatable), e.g. lsq.epochs=1 for a smoke run");
  command->add_flag("--list", args->list, "print the grid's cells and their count, and exit (nothing is computed)");
  command->callback([args, &global] { run_experiment(*args, global); });
}

}  // namespace qx::cli
