#include "qx/config/train_config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "qx/config/toml_reader.h"
#include "qx/core/error.h"

namespace qx::config {

TrainConfig load_train_config(const std::string& path) {
  return load_train_config_text(parse_toml_file(path).text, path);
}

TrainConfig load_train_config_text(std::string text, const std::string& path) {
  TomlDocument document = parse_toml_text(std::move(text), path);
  TrainConfig config;
  config.source_path = path;
  config.source_text = document.text;

  TableReader top(document.root, path, "");
  config.name = top.get_string("name", std::string("train"));

  TableReader model = top.section("model");
  config.model.plugin = model.get_string("plugin", std::nullopt);
  config.model.options = model.remaining_as_options("model '" + config.model.plugin + "'");
  model.finish();

  TableReader data = top.section("data");
  config.data_dir = data.get_string("dir", std::string());
  config.augment = data.get_bool("augment", true);
  config.train_images = data.get_int("train_images", config.train_images, 0, 1 << 30);
  config.test_images = data.get_int("test_images", config.test_images, 0, 1 << 30);
  data.finish();

  TableReader train = top.section("train");
  config.epochs = train.get_int("epochs", config.epochs, 1, 100000);
  config.batch_size = train.get_int("batch_size", config.batch_size, 1, 1 << 20);
  config.eval_batch_size = train.get_int("eval_batch_size", config.eval_batch_size, 1, 1 << 20);
  config.seed = train.get_int("seed", config.seed, 0);
  config.threads = train.get_int("threads", config.threads, 0, 1024);
  config.device = train.get_string("device", config.device);
  config.channels_last = train.get_bool("channels_last", config.channels_last);
  train.finish();

  TableReader optimizer = top.section("optimizer");
  auto& opt = config.optimizer;
  opt.lr = optimizer.get_double("lr", opt.lr, 0.0, 100.0);
  opt.momentum = optimizer.get_double("momentum", opt.momentum, 0.0, 1.0);
  opt.nesterov = optimizer.get_bool("nesterov", opt.nesterov);
  opt.weight_decay = optimizer.get_double("weight_decay", opt.weight_decay, 0.0, 1.0);
  optimizer.finish();
  if (opt.nesterov && opt.momentum == 0.0) fail("{}: [optimizer] nesterov = true needs momentum > 0", path);

  TableReader schedule = top.section("schedule");
  auto& sched = config.schedule;
  sched.kind = schedule.get_choice("kind", sched.kind, {"cosine", "multistep"});
  sched.warmup_epochs = schedule.get_double("warmup_epochs", sched.warmup_epochs, 0.0, 1e6);
  sched.milestones = schedule.get_int_array("milestones", std::vector<std::int64_t>{});
  sched.gamma = schedule.get_double("gamma", sched.gamma, 0.0, 1.0);
  schedule.finish();
  if (sched.kind == "multistep" && sched.milestones.empty()) {
    fail("{}: [schedule] kind = \"multistep\" needs milestones", path);
  }
  if (sched.warmup_epochs > static_cast<double>(config.epochs)) {
    fail("{}: [schedule] warmup_epochs ({}) exceeds [train] epochs ({})", path, sched.warmup_epochs, config.epochs);
  }

  TableReader swa = top.section("swa");
  config.swa.epochs = swa.get_int("epochs", config.swa.epochs, 0, 100000);
  config.swa.lr = swa.get_double("lr", config.swa.lr, 0.0, 100.0);
  swa.finish();

  TableReader output = top.section("output");
  config.output_dir = output.get_string("dir", std::nullopt);
  config.database = output.get_string("database", std::string("results/results.sqlite"));
  output.finish();

  TableReader plugins = top.section("plugins");
  config.plugin_dir = plugins.get_string("dir", std::string());
  plugins.finish();

  top.finish();
  return config;
}

std::string schedule_fingerprint(const TrainConfig& config) {
  std::string model_options;
  for (const auto& [key, value] : config.model.options.values()) {
    model_options += key + "=" + std::visit([](const auto& v) { return fmt::format("{}", v); }, value) + ";";
  }
  const auto& opt = config.optimizer;
  const auto& sched = config.schedule;
  auto fingerprint = fmt::format(
      "model={}({}) augment={} epochs={} batch={} seed={} channels_last={} lr={} momentum={} nesterov={} "
      "weight_decay={} schedule={} warmup={} milestones={} gamma={}",
      config.model.plugin, model_options, config.augment, config.epochs, config.batch_size, config.seed,
      config.channels_last, opt.lr, opt.momentum, opt.nesterov, opt.weight_decay, sched.kind, sched.warmup_epochs,
      fmt::join(sched.milestones, ","), sched.gamma);
  // Appended only when set, so that the recipes of runs in progress keep their fingerprint.
  if (config.train_images > 0) fingerprint += fmt::format(" train_images={}", config.train_images);
  return fingerprint;
}

std::string swa_fingerprint(const TrainConfig& config) {
  return fmt::format("swa_epochs={} swa_lr={}", config.swa.epochs, config.swa.lr);
}

}  // namespace qx::config
