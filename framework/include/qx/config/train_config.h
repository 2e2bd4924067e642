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

struct TrainConfig {
  std::string source_path;
  std::string source_text;
  std::string name;  // run name, recorded in the results database

  ModelSpec model;
  std::string data_dir;
  bool augment = true;

  std::int64_t epochs = 30;
  std::int64_t batch_size = 128;
  std::int64_t eval_batch_size = 1000;
  std::int64_t seed = 0;
  std::int64_t threads = 0;  // 0 = all cores
  std::string device = "cpu";
  bool channels_last = true;  // NHWC activations and weights: faster oneDNN convolutions on CPU
  OptimizerConfig optimizer;
  ScheduleConfig schedule;

  std::string output_dir;  // checkpoints and history go here
  std::string database;    // SQLite results database
  std::string plugin_dir;  // [plugins] dir, optional
};

TrainConfig load_train_config(const std::string& path);

}  // namespace qx::config
