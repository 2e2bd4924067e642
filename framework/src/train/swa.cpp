#include "qx/train/swa.h"

#include "qx/core/error.h"

namespace qx::train {
namespace {

// One more snapshot into a running mean of `count` snapshots, this one included.
void accumulate(torch::Tensor& mean, const torch::Tensor& snapshot, std::int64_t count) {
  mean.add_((snapshot - mean) / static_cast<double>(count));
}

}  // namespace

WeightAverage::WeightAverage(std::map<std::string, torch::Tensor> average, std::int64_t count) : count_(count) {
  // Always a copy: add() updates the average in place, and the caller's tensors must not move.
  for (auto& [name, tensor] : average) {
    average_.emplace(name, tensor.detach().to(torch::kCPU, torch::kFloat64, /*non_blocking=*/false, /*copy=*/true));
  }
}

void WeightAverage::add(const torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  ++count_;
  for (const auto& item : model.named_parameters()) {
    const auto value = item.value().detach().to(torch::kCPU, torch::kFloat64);
    auto it = average_.find(item.key());
    if (it == average_.end()) {
      if (count_ != 1) fail("weight average: parameter '{}' is missing from the average", item.key());
      average_.emplace(item.key(), value.clone());
    } else {
      accumulate(it->second, value, count_);
    }
  }
}

void WeightAverage::copy_to(torch::nn::Module& model) const {
  torch::NoGradGuard no_grad;
  for (auto& item : model.named_parameters()) {
    auto it = average_.find(item.key());
    if (it == average_.end()) fail("weight average: no average for parameter '{}'", item.key());
    item.value().copy_(it->second);
  }
}

void TensorAverage::add(const std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  if (count_ > 0 && tensors.size() != average_.size()) {
    fail("tensor average: snapshot of {} tensors, the average holds {}", tensors.size(), average_.size());
  }
  ++count_;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto value = tensors[i].detach().to(torch::kFloat64);
    if (count_ == 1) {
      average_.push_back(value.clone());
    } else {
      accumulate(average_[i], value, count_);
    }
  }
}

void TensorAverage::restore(std::vector<torch::Tensor> mean, std::int64_t count) {
  if (count < 0 || (count == 0) != mean.empty()) fail("tensor average: {} tensors restored with count {}", mean.size(), count);
  average_ = std::move(mean);
  count_ = count;
}

void TensorAverage::copy_to(std::vector<torch::Tensor>& tensors) const {
  torch::NoGradGuard no_grad;
  if (tensors.size() != average_.size()) {
    fail("tensor average: {} tensors to write, the average holds {}", tensors.size(), average_.size());
  }
  for (std::size_t i = 0; i < tensors.size(); ++i) tensors[i].copy_(average_[i]);
}

void recompute_batchnorm_statistics(QuantizableModel& model, const torch::Tensor& images, std::int64_t batch_size,
                                    const std::function<torch::Tensor(const torch::Tensor&)>& prepare) {
  std::vector<std::pair<torch::nn::BatchNorm2dImpl*, c10::optional<double>>> batch_norms;
  for (const auto& module : model.modules(/*include_self=*/false)) {
    if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
      batch_norms.emplace_back(bn, bn->options.momentum());
      bn->reset_running_stats();
      bn->options.momentum(c10::nullopt);  // cumulative average: every batch weighs the same
    }
  }
  if (batch_norms.empty()) return;
  const bool was_training = model.is_training();
  model.train();
  {
    torch::NoGradGuard no_grad;
    for (std::int64_t start = 0; start < images.size(0); start += batch_size) {
      model.forward(prepare(images.slice(0, start, std::min(start + batch_size, images.size(0)))));
    }
  }
  for (auto& [bn, momentum] : batch_norms) bn->options.momentum(momentum);
  model.train(was_training);
}

}  // namespace qx::train
