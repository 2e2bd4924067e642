#include <spdlog/spdlog.h>

#include "commands.h"
#include "qx/config/ptq_config.h"
#include "qx/core/error.h"
#include "qx/host/plugin_host.h"
#include "qx/run/experiment_session.h"
#include "qx/run/int8_judge.h"
#include "qx/run/onnx_judge.h"
#include "qx/store/results_db.h"

namespace qx::cli {

namespace {

struct JudgeArgs {
  std::string experiment;
  std::vector<std::string> cells;
  run::RunOverrides overrides;
  std::vector<std::string> runtimes;
  std::vector<std::string> engines;
  run::OnnxJudgeOptions onnx;
};

void judge(const JudgeArgs& args, const GlobalOptions& global) {
  ChosenCells chosen_cells(args.experiment, args.cells, global, args.overrides);
  auto& session = chosen_cells.session();
  const auto& chosen = chosen_cells.cells();
  store::ResultsDb results(session.database_path());
  // One recomputation of each cell serves every runtime named.
  std::vector<run::Judge> judges;
  for (const auto& runtime : args.runtimes.empty() ? std::vector<std::string>{"onnxruntime"} : args.runtimes) {
    if (runtime == "onnxruntime") {
      judges.push_back(run::onnxruntime_judge(session, args.onnx));
      continue;
    }
    for (const auto& engine : args.engines.empty() ? std::vector<std::string>{"qnnpack"} : args.engines) {
      judges.push_back(run::int8_kernels_judge(
          session, {deploy::parse_int8_engine(engine), args.onnx.threads, args.onnx.timing}));
    }
  }
  const auto summary = run::judge_cells(session, chosen, results, judges);
  spdlog::info("{} verdicts: {} now, {} earlier, {} failed, in {:.0f} s", summary.cells, summary.finished,
               summary.skipped, summary.failed, summary.seconds);
  if (summary.failed) fail("{} of {} verdicts failed; the first: {}", summary.failed, summary.cells, summary.first_error);
}

}  // namespace

void add_judge_command(CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand(
      "judge", "run cells on an integer runtime beside qx's simulation, into the database: onnxruntime on their ONNX "
               "export (experiment 'onnxruntime') or LibTorch's int8 kernels (experiment 'int8-kernels'); "
               "docs/deployment.md");
  auto args = std::make_shared<JudgeArgs>();
  args->onnx.tool = run::default_judge_tool();
  command->add_option("experiment", args->experiment, "experiment file whose cells are judged")->required();
  command->add_option("--cell", args->cells,
                      "a cell to judge (repeatable; default: every cell): its label, its description as "
                      "`qx run --list` prints it, its index, or its key's digest");
  command->add_option("--runtime", args->runtimes, "onnxruntime (default) or int8-kernels (repeatable)")
      ->check(CLI::IsMember({"onnxruntime", "int8-kernels"}));
  command->add_option("--engine", args->engines,
                      "the int8 kernels' LibTorch engine: qnnpack (default) or onednn (repeatable)")
      ->check(CLI::IsMember({"qnnpack", "onednn"}));
  command->add_option("--files", args->onnx.files,
                      "keep the exported models in this folder (KEY_DIGEST.onnx, recorded as onnx.file)");
  command->add_flag("--timing", args->onnx.timing,
                    "also measure batch-1 latency and batch-256 throughput, and the fp32 export's beside them");
  command->add_option("--runtime-threads", args->onnx.threads, "the runtime's intra-op threads (default 1)")
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
