#include "qx/train/sgd.h"

#include "qx/core/error.h"

namespace qx::train {

Sgd::Sgd(std::vector<std::pair<std::string, torch::Tensor>> named_parameters, SgdOptions options)
    : parameters_(std::move(named_parameters)), options_(options) {}

void Sgd::zero_grad() {
  for (auto& [name, parameter] : parameters_) {
    if (parameter.grad().defined()) parameter.mutable_grad() = torch::Tensor();
  }
}

void Sgd::step() {
  torch::NoGradGuard no_grad;
  const double momentum = options_.momentum();
  for (auto& [name, parameter] : parameters_) {
    if (!parameter.grad().defined()) continue;
    auto gradient = parameter.grad();
    if (options_.weight_decay() != 0.0 && parameter.dim() >= 2) {
      gradient = gradient.add(parameter, options_.weight_decay());
    }
    if (momentum != 0.0) {
      auto it = momentum_.find(name);
      if (it == momentum_.end()) {
        it = momentum_.emplace(name, gradient.clone()).first;  // torch.optim starts the buffer at g
      } else {
        it->second.mul_(momentum).add_(gradient);
      }
      gradient = options_.nesterov() ? gradient.add(it->second, momentum) : it->second;
    }
    parameter.add_(gradient, -options_.lr());
  }
}

void Sgd::load_state(const std::map<std::string, torch::Tensor>& state) {
  momentum_.clear();
  for (auto& [name, parameter] : parameters_) {
    auto it = state.find(name);
    if (it == state.end()) continue;
    if (!it->second.sizes().equals(parameter.sizes())) {
      fail("optimizer state for '{}' has shape {}, parameter has {}", name, c10::str(it->second.sizes()), c10::str(parameter.sizes()));
    }
    // Same device and memory format as the parameter (checkpoints store NCHW).
    momentum_[name] = torch::empty_like(parameter).copy_(it->second);
  }
}

}  // namespace qx::train
