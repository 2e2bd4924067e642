#include <iostream>

#include <spdlog/spdlog.h>

#include "commands.h"
#include "qx/data/cifar10.h"
#include "qx/eval/evaluate.h"
#include "qx/eval/runtime.h"
#include "qx/host/plugin_host.h"
#include "qx/train/checkpoint.h"

namespace qx::cli {

namespace {

struct EvalArgs {
  std::string checkpoint;
  std::string data_dir;
  std::int64_t batch_size = 200;  // larger batches page-fault their activations in anew (docs/performance.md)
  std::int64_t threads = 0;
  std::string device = "cpu";
};

void evaluate(const EvalArgs& args, const GlobalOptions& global) {
  const int threads = configure_threads(args.threads);
  const auto device = parse_device(args.device);
  const auto checkpoint = train::load_checkpoint(args.checkpoint);
  PluginHost host(resolve_plugin_dir(global.plugin_dir, ""));
  auto model = host.create_model(checkpoint.model, train::options_from_checkpoint(checkpoint));
  train::load_model_state(*model, checkpoint.state_dict, "checkpoint " + args.checkpoint);
  model->to(device);
  const auto data_dir = data::resolve_data_dir(args.data_dir, "");
  const auto test_set = data::load_cifar10(data_dir, data::Split::kTest);
  spdlog::info("evaluating {} ({} after {} epochs) on {} test images, {} threads", args.checkpoint, checkpoint.model,
               checkpoint.epoch, test_set.size(), threads);
  const auto result = eval::evaluate(*model, test_set, args.batch_size, device);
  std::cout << result.to_json() << std::endl;
}

}  // namespace

void add_eval_command(CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand("eval", "evaluate a checkpoint on the CIFAR-10 test set; last line is JSON");
  auto args = std::make_shared<EvalArgs>();
  command->add_option("--checkpoint", args->checkpoint, "a checkpoint written by qx train")->required();
  command->add_option("--data", args->data_dir, "CIFAR-10 folder (default: $QX_DATA_DIR)");
  command->add_option("--batch-size", args->batch_size, "evaluation batch size")->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("--threads", args->threads, "intra-op threads, 0 = all cores")->capture_default_str();
  command->add_option("--device", args->device, "cpu, cuda or cuda:N")->capture_default_str();
  command->callback([args, &global] { evaluate(*args, global); });
}

}  // namespace qx::cli
