#pragma once
// SGD with momentum, optional Nesterov and decoupled-from-BN weight decay, with the same update
// as torch.optim.SGD (dampening 0):
//   g = grad + wd * w;  buf = momentum * buf + g;  step = nesterov ? g + momentum * buf : buf;
//   w -= lr * step
// It exists, instead of torch::optim::SGD, because its state must be saved by parameter *name*
// into a checkpoint Python can read; torch::optim keys its state by TensorImpl address, and
// that key changed between LibTorch releases.
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace qx::train {

struct SgdOptions {
  TORCH_ARG(double, lr) = 0.1;  // overwritten every step by the schedule
  TORCH_ARG(double, momentum) = 0.9;
  TORCH_ARG(bool, nesterov) = true;
  // Applied only to parameters of rank >= 2 (conv and linear weights), never to BatchNorm
  // scales/shifts or biases. Read at every step.
  TORCH_ARG(double, weight_decay) = 5e-4;
};

class Sgd {
 public:
  Sgd(std::vector<std::pair<std::string, torch::Tensor>> named_parameters, SgdOptions options);

  void zero_grad();
  void step();

  SgdOptions& options() { return options_; }
  // Momentum buffers by parameter name; empty until the first step.
  const std::map<std::string, torch::Tensor>& state() const { return momentum_; }
  void load_state(const std::map<std::string, torch::Tensor>& state);

 private:
  std::vector<std::pair<std::string, torch::Tensor>> parameters_;
  std::map<std::string, torch::Tensor> momentum_;
  SgdOptions options_;
};

}  // namespace qx::train
