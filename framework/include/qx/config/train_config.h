#pragma once
// The training recipe, as read from an experiment file such as experiments/train_resnet20.toml.
// Every key, its type, default and range is declared once, in train_config.cpp.
#include <cstdint>
#include <string>
#include <vector>

#include "qx/core/options.h"

namespace qx::config {

struct ModelSpec {
  std::string plugin;  // a registered model name, e.g. "resnet20"
  Options options;     // the rest of [model], handed to the plugin
};

struct OptimizerConfig {
  double lr = 0.1;  // peak learning rate
  double momentum = 0.9;
  bool nesterov = true;
  double weight_decay = 5e-4;  // applied to weights of rank >= 2 only, never to BatchNorm or biases
};

struct ScheduleConfig {
  std::string kind = "cosine";  // "cosine" or "multistep"
  double warmup_epochs = 2.0;   // linear warm-up, per iteration
  std::vector<std::int64_t> milestones;  // multistep: epochs where lr *= gamma
  double gamma = 0.1;
};

// Stochastic weight averaging (Izmailov et al. 2018) as a phase after the schedule: `epochs`
// more epochs at the constant rate `lr`, averaging the weights at each epoch end; BatchNorm
// statistics of the average are then recomputed over the training set. 0 epochs = no phase.
struct SwaConfig {
  std::int64_t epochs = 0;
  double lr = 0.01;
};

struct TrainConfig {
  std::string source_path;
  std::string source_text;
  std::string name;  // run name, recorded in the results database

  ModelSpec model;
  std::string data_dir;
  bool augment = true;
  // The first N images of each split in file order (0 = all): for smoke tests and kill tests of
  // the trainer, never for a reported model.
  std::int64_t train_images = 0;
  std::int64_t test_images = 0;

  std::int64_t epochs = 30;
  std::int64_t batch_size = 128;
  std::int64_t eval_batch_size = 1000;
  std::int64_t seed = 0;
  std::int64_t threads = 0;  // 0 = all cores
  std::string device = "cpu";
  bool channels_last = true;  // NHWC activations and weights: faster oneDNN convolutions on CPU
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  SwaConfig swa;

  std::string output_dir;  // checkpoints and history go here
  std::string database;    // SQLite results database
  std::string plugin_dir;  // [plugins] dir, optional

  std::int64_t total_epochs() const { return epochs + swa.epochs; }
};

TrainConfig load_train_config(const std::string& path);
// The same for a recipe's text; `path` names it in messages.
TrainConfig load_train_config_text(std::string text, const std::string& path);

// What decides the weights of the first `epochs` epochs (model, data, schedule, optimizer, seed),
// as text; not where or how fast they run, nor the SWA phase that follows. Two recipes with the
// same fingerprint train the same model up to there, so a run may resume across them.
std::string schedule_fingerprint(const TrainConfig& config);
// The SWA phase's part of the recipe.
std::string swa_fingerprint(const TrainConfig& config);

}  // namespace qx::config
