#pragma once
// The training loop: one checkpoint per epoch, exact resume, per-epoch history.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "qx/config/train_config.h"
#include "qx/data/cifar10.h"
#include "qx/nn/model.h"
#include "qx/spec/epoch.h"
#include "qx/train/checkpoint.h"
#include "qx/train/sgd.h"
#include "qx/train/swa.h"

namespace qx::train {

struct TrainerOptions {
  TORCH_ARG(std::filesystem::path, output_dir);
  TORCH_ARG(torch::Device, device) = torch::kCPU;
  // Stop once this many epochs of the recipe are complete (0 = all); --resume continues.
  TORCH_ARG(std::int64_t, stop_after) = 0;
};

class Trainer {
 public:
  Trainer(const config::TrainConfig& config, std::shared_ptr<QuantizableModel> model, const data::Dataset& train_set,
          const data::Dataset& test_set, TrainerOptions options);

  // Continues from a checkpoint written by a run of the same recipe.
  void resume(const Checkpoint& checkpoint);
  // Trains the remaining epochs; `on_epoch` sees each epoch once its checkpoint is on disk.
  void run(const std::function<void(const spec::EpochRecord&)>& on_epoch = {});
  // Trains, evaluates and checkpoints the next epoch.
  spec::EpochRecord run_epoch();

  std::int64_t completed_epochs() const { return epoch_; }
  const std::string& run_uid() const { return run_uid_; }
  const std::vector<spec::EpochRecord>& history() const { return history_; }
  std::filesystem::path checkpoint_path() const { return options_.output_dir() / "checkpoint.pt"; }
  std::filesystem::path history_path() const { return options_.output_dir() / "history.csv"; }

 private:
  void check_resumable(const Checkpoint& checkpoint) const;
  spec::EpochRecord train_epoch(std::int64_t epoch);
  // In an SWA epoch: adds the iterate to the average and loads the average, with its BatchNorm
  // statistics recomputed, into the model (the caller restores the iterate).
  void install_weight_average(std::int64_t epoch);
  bool is_swa_epoch(std::int64_t epoch) const { return epoch > config_.epochs; }
  void save();

  const config::TrainConfig& config_;
  std::shared_ptr<QuantizableModel> model_;
  data::Dataset train_set_;  // on the training device, so that batches are gathered there
  const data::Dataset& test_set_;
  TrainerOptions options_;
  Sgd optimizer_;
  std::int64_t epoch_ = 0;
  std::string run_uid_;
  std::vector<spec::EpochRecord> history_;
  WeightAverage swa_average_;
  std::map<std::string, torch::Tensor> swa_model_;  // the averaged model's state, once there is one
};

// Stores 4-d parameters in NHWC order; values and names are unchanged.
void to_channels_last(torch::nn::Module& model);

// 16 random hex digits.
std::string new_run_uid();

}  // namespace qx::train
