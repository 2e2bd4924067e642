#pragma once
// A named place in a model where an activation may be intercepted.
//
// Models put a QuantPoint wherever a tensor is produced that a quantized deployment would have
// to store in integer form: the input of every conv/linear layer and every residual sum, and
// where a layer may read the residual stream at a narrower width than it is stored. Without
// a hook the point is an identity. The quantization engine installs hooks (observers during
// calibration, fake-quantizers during evaluation) by name, so the model never knows about them.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace qx::nn {

class ActivationHook {
 public:
  virtual ~ActivationHook() = default;
  virtual torch::Tensor operator()(const torch::Tensor& activation) = 0;
};

struct QuantPointOptions {
  // Names of the weight layers (conv/linear) that read this tensor. Lets per-layer settings in an
  // experiment file ("keep conv1 at 8 bits") reach the layer's input as well as its weights.
  // Fixed at construction; changing it later only changes what the engine reports.
  TORCH_ARG(std::vector<std::string>, feeds) = {};
  // The tensor is also the residual stream: a shortcut reads it, not only the layers it feeds.
  TORCH_ARG(bool, residual) = false;
  // The point only re-quantizes a residual stream stored wider than its layers read it
  // (CellSpec::residual_bits). In a cell that stores the stream at its layers' width there is
  // nothing to re-quantize: the engine installs no hook and the point stays an identity.
  TORCH_ARG(bool, requantizes) = false;
};

class QuantPointImpl : public torch::nn::Cloneable<QuantPointImpl> {
 public:
  explicit QuantPointImpl(QuantPointOptions options = {}) : options(std::move(options)) {}

  void reset() override {}
  torch::Tensor forward(const torch::Tensor& activation);

  void set_hook(std::shared_ptr<ActivationHook> hook) { hook_ = std::move(hook); }
  void clear_hook() { hook_.reset(); }
  bool has_hook() const { return hook_ != nullptr; }
  const std::shared_ptr<ActivationHook>& hook() const { return hook_; }

  QuantPointOptions options;

 private:
  std::shared_ptr<ActivationHook> hook_;
};
TORCH_MODULE(QuantPoint);

}  // namespace qx::nn
