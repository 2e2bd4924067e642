#include <spdlog/spdlog.h>

#include "commands.h"
#include "qx/config/ptq_config.h"
#include "qx/core/error.h"
#include "qx/host/plugin_host.h"
#include "qx/run/experiment_session.h"
#include "qx/run/onnx_judge.h"
#include "qx/store/results_db.h"

namespace qx::cli {

namespace {

struct JudgeArgs {
  std::string experiment;
  std::vector<std::string> cells;
  run::RunOverrides overrides;
  run::OnnxJudgeOptions onnx;
};

void judge(const JudgeArgs& args, const GlobalOptions& global) {
  const auto experiment = config::load_ptq_experiment(args.experiment);
  PluginHost host(resolve_plugin_dir(global.plugin_dir, experiment.plugin_dir));
  run::ExperimentSession session(experiment, host, args.overrides);
  const auto chosen = session.select(args.cells);
  store::ResultsDb results(session.database_path());
  const auto summary = run::judge_with_onnxruntime(session, chosen, args.onnx, results);
  spdlog::info("{} cells judged by onnxruntime: {} now, {} earlier, {} failed, in {:.0f} s", summary.cells,
               summary.finished, summary.skipped, summary.failed, summary.seconds);
  if (summary.failed) fail("{} of {} cells failed; the first: {}", summary.failed, summary.cells, summary.first_error);
}

}  // namespace

void add_judge_command(CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand(
      "judge", "export cells as ONNX and run them in onnxruntime beside qx's simulation, into the database "
               "(experiment 'onnxruntime', docs/deployment.md)");
  auto args = std::make_shared<JudgeArgs>();
  args->onnx.tool = run::default_judge_tool();
  command->add_option("experiment", args->experiment, "experiment file whose cells are judged")->required();
  command->add_option("--cell", args->cells,
                      "a cell to judge (repeatable; default: every cell): its label, its description as "
                      "`qx run --list` prints it, its index, or its key's digest");
  command->add_option("--files", args->onnx.files,
                      "keep the exported models in this folder (KEY_DIGEST.onnx, recorded as onnx.file)");
  command->add_flag("--timing", args->onnx.timing,
                    "also measure batch-1 latency and batch-256 throughput, and the fp32 export's beside them");
  command->add_option("--runtime-threads", args->onnx.threads, "onnxruntime's intra-op threads (default 1)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--judge-tool", args->onnx.tool, "tools/onnxruntime/judge.js of another checkout");
  command->add_option("--node", args->onnx.node, "the Node.js program (default: node on PATH)");
  command->add_option("--db", args->overrides.database, "results database instead of [output] database");
  command->add_option("--data", args->overrides.data_dir, "CIFAR-10 folder (overrides $QX_DATA_DIR and [data] dir)");
  command->add_option("--threads", args->overrides.threads, "qx's CPU threads instead of [evaluation] threads")
      ->check(CLI::NonNegativeNumber);
  command->callback([args, &global] { judge(*args, global); });
}

}  // namespace qx::cli
