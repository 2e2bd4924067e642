#include <filesystem>

#include <spdlog/spdlog.h>

#include "commands.h"
#include "qx/config/train_config.h"
#include "qx/core/error.h"
#include "qx/data/cifar10.h"
#include "qx/eval/runtime.h"
#include "qx/host/plugin_host.h"
#include "qx/store/results_db.h"
#include "qx/train/trainer.h"

namespace qx::cli {

namespace {

struct TrainArgs {
  std::string config;
  std::string data_dir;
  bool resume = false;
  std::int64_t stop_after = 0;
  std::string out_dir;
  std::string device;
  std::int64_t threads = -1;  // -1: the recipe's
};

void train(const TrainArgs& args, const GlobalOptions& global) {
  auto config = config::load_train_config(args.config);
  if (!args.out_dir.empty()) {
    config.output_dir = args.out_dir;
    config.database = (std::filesystem::path(args.out_dir) / "results.sqlite").string();
  }
  const int threads = configure_threads(args.threads >= 0 ? args.threads : config.threads);
  const auto device = parse_device(args.device.empty() ? config.device : args.device);
  PluginHost host(resolve_plugin_dir(global.plugin_dir, config.plugin_dir));

  torch::manual_seed(static_cast<std::uint64_t>(config.seed));  // weight initialisation
  auto model = host.create_model(config.model.plugin, config.model.options);

  const auto data_dir = data::resolve_data_dir(args.data_dir, config.data_dir);
  const auto first = [](const data::Dataset& split, std::int64_t n) {
    return n > 0 && n < split.size() ? data::Dataset{split.images.slice(0, 0, n), split.labels.slice(0, 0, n)} : split;
  };
  const auto train_set = first(data::load_cifar10(data_dir, data::Split::kTrain), config.train_images);
  const auto test_set = first(data::load_cifar10(data_dir, data::Split::kTest), config.test_images);
  train::Trainer trainer(config, model, train_set, test_set,
                         train::TrainerOptions().output_dir(config.output_dir).device(device).stop_after(args.stop_after));
  if (args.resume) {
    trainer.resume(train::load_checkpoint(trainer.checkpoint_path()));
    spdlog::info("resuming {} after epoch {}", trainer.checkpoint_path().string(), trainer.completed_epochs());
  }

  store::ResultsDb results(config.database);
  store::RunRecord run;
  run.uid = trainer.run_uid();
  run.name = config.name;
  run.config_path = config.source_path;
  run.config_text = config.source_text;
  run.model = config.model.plugin;
  run.device = device.str();
  run.threads = threads;
  run.torch_version = TORCH_VERSION;
  const auto run_id = results.open_run(run);
  for (const auto& epoch : trainer.history()) results.record_epoch(run_id, epoch);  // a resumed run's past

  spdlog::info("training {} on {} ({} threads), {} epochs + {} SWA epochs, batch {}, data {}", config.model.plugin,
               device.str(), threads, config.epochs, config.swa.epochs, config.batch_size, data_dir.string());
  try {
    trainer.run([&](const spec::EpochRecord& epoch) { results.record_epoch(run_id, epoch); });
  } catch (const std::exception& e) {
    results.finish_run(run_id, "failed", e.what());
    throw;
  }
  const bool complete = trainer.completed_epochs() == config.total_epochs();
  results.finish_run(run_id, complete ? "finished" : "stopped");
  if (trainer.history().empty()) return;
  const auto& last = trainer.history().back();
  spdlog::info("{}: test top-1 {:.2f}% after epoch {}/{}; checkpoint {}, history {}, run {} in {}",
               complete ? "finished" : "stopped (continue with --resume)", last.test_top1, last.epoch, config.total_epochs(),
               trainer.checkpoint_path().string(), trainer.history_path().string(), run_id, config.database);
}

}  // namespace

void add_train_command(CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand("train", "train a model from an experiment file");
  auto args = std::make_shared<TrainArgs>();
  command->add_option("config", args->config, "experiment file, e.g. experiments/train_resnet20.toml")->required();
  command->add_option("--data", args->data_dir, "CIFAR-10 folder (overrides $QX_DATA_DIR and [data] dir)");
  command->add_flag("--resume", args->resume, "continue from the checkpoint in [output] dir");
  command->add_option("--stop-after", args->stop_after,
                      "stop once this many epochs of the recipe are done (for runs split over sessions)")
      ->check(CLI::PositiveNumber);
  command->add_option("--out", args->out_dir,
                      "write checkpoint, history and results database under DIR instead of [output]");
  command->add_option("--device", args->device,
                      "cpu, cuda or cuda:N instead of [train] device; where a run executes is not part of its recipe, "
                      "so --resume accepts it");
  command->add_option("--threads", args->threads,
                      "CPU threads instead of [train] threads (0 = all cores); like --device, not part of the recipe")
      ->check(CLI::NonNegativeNumber);
  command->callback([args, &global] { train(*args, global); });
}

}  // namespace qx::cli
