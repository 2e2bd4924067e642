#pragma once
// Stochastic weight averaging (Izmailov et al. 2018) with torch.optim.swa_utils' semantics:
// the parameters are averaged over snapshots taken at epoch ends, the buffers are not, and the
// BatchNorm statistics of the averaged weights are re-estimated with one pass over the training
// data, because the running statistics of any single snapshot do not describe the average.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "qx/nn/model.h"

namespace qx::train {

class WeightAverage {
 public:
  WeightAverage() = default;
  // Continues an average of `count` snapshots whose current value is `average` (by parameter name).
  WeightAverage(std::map<std::string, torch::Tensor> average, std::int64_t count);

  // Adds the model's current parameters as one more snapshot: mean += (w - mean) / count.
  void add(const torch::nn::Module& model);
  // Overwrites the model's parameters with the average; buffers are left alone.
  void copy_to(torch::nn::Module& model) const;

  std::int64_t count() const { return count_; }
  const std::map<std::string, torch::Tensor>& average() const { return average_; }

 private:
  std::map<std::string, torch::Tensor> average_;  // float64 on the CPU, so the mean never drifts
  std::int64_t count_ = 0;
};

// The same running mean over a fixed list of tensors that are not a module's parameters (the
// latent weights and learned steps of quantization-aware training).
class TensorAverage {
 public:
  // Adds the tensors' current values as one more snapshot; every call passes the same list.
  void add(const std::vector<torch::Tensor>& tensors);
  // Writes the average into the tensors, in place (their dtype and device kept).
  void copy_to(std::vector<torch::Tensor>& tensors) const;
  std::int64_t count() const { return count_; }
  // The running mean (float64) and its count, to carry an average across a restart.
  const std::vector<torch::Tensor>& mean() const { return average_; }
  void restore(std::vector<torch::Tensor> mean, std::int64_t count);

 private:
  // float64 on each tensor's own device: a snapshot is taken every training step, and a copy to
  // the CPU would synchronise a GPU at each one.
  std::vector<torch::Tensor> average_;
  std::int64_t count_ = 0;
};

// Resets every BatchNorm2d's running statistics and re-estimates them as the plain mean over
// the batches of `images` (momentum None, as swa_utils.update_bn does). `prepare` turns a slice
// of `images` into the model's input (augmentation, normalisation, layout).
void recompute_batchnorm_statistics(QuantizableModel& model, const torch::Tensor& images, std::int64_t batch_size,
                                    const std::function<torch::Tensor(const torch::Tensor&)>& prepare);

}  // namespace qx::train
