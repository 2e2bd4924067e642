#include "qx/sim/capture.h"

#include <memory>

#include "qx/core/error.h"

namespace qx::sim {

namespace {

// Thrown from the capturing hook to leave the forward pass early; nothing else throws it.
struct CaptureDone {};

class CaptureHook : public nn::ActivationHook {
 public:
  CaptureHook(std::shared_ptr<nn::ActivationHook> inner, std::vector<torch::Tensor>& into)
      : inner_(std::move(inner)), into_(into) {}
  torch::Tensor operator()(const torch::Tensor& x) override {
    into_.push_back(inner_ ? (*inner_)(x) : x.clone());
    throw CaptureDone{};
  }

 private:
  std::shared_ptr<nn::ActivationHook> inner_;
  std::vector<torch::Tensor>& into_;
};

// Puts the point's own hook back however the capture ends.
class HookRestorer {
 public:
  explicit HookRestorer(nn::QuantPointImpl& point) : point_(point), saved_(point.hook()) {}
  ~HookRestorer() {
    if (saved_) point_.set_hook(saved_);
    else point_.clear_hook();
  }
  const std::shared_ptr<nn::ActivationHook>& saved() const { return saved_; }

 private:
  nn::QuantPointImpl& point_;
  std::shared_ptr<nn::ActivationHook> saved_;
};

}  // namespace

torch::Tensor capture_point(QuantizableModel& model, nn::QuantPointImpl& point,
                            const std::vector<torch::Tensor>& batches) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> captured;
  HookRestorer restorer(point);
  point.set_hook(std::make_shared<CaptureHook>(restorer.saved(), captured));
  for (const auto& batch : batches) {
    try {
      model.forward(batch);
    } catch (const CaptureDone&) {
    }
  }
  if (captured.size() != batches.size() || captured.empty()) fail("the forward pass never reached the point");
  return torch::cat(captured);
}

}  // namespace qx::sim
