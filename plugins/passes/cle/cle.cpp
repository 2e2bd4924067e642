// Cross-layer equalization (Nagel et al. 2019, "Data-Free Quantization Through Weight
// Equalization and Bias Correction", section 4.1). After BatchNorm folding the output channels of
// a convolution differ in range by orders of magnitude (each was multiplied by its own
// gamma / sigma), and a per-tensor weight grid sized for the widest channel leaves the narrow ones
// with a handful of levels. For a pair conv_a -> ReLU -> conv_b, scaling output channel i of conv_a
// by 1/s_i and input channel i of conv_b by s_i leaves the function unchanged (ReLU is positively
// homogeneous); s_i = sqrt(r_a,i / r_b,i), with r the channel's largest |weight|, gives both
// layers the same per-channel range sqrt(r_a,i r_b,i). Data-free: it needs no calibration images.
#include <cmath>

#include "qx/core/error.h"
#include "qx/passes/pass.h"
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"

namespace {

using namespace qx::passes;

class CrossLayerEqualization : public Pass {
 public:
  PassStage stage() const override { return PassStage::kFloatModel; }
  void check(const qx::spec::CellSpec& cell, const qx::quant::Quantizer&, qx::QuantizableModel& model) const override {
    if (!cell.fold_batch_norm) {
      qx::fail("pass 'cle' needs fold_batch_norm = true: an unfolded BatchNorm would renormalise the scaled channels");
    }
    if (model.equalization_pairs().empty()) qx::fail("pass 'cle': the model names no equalization_pairs()");
  }

  void run(PassContext& context) override {
    torch::NoGradGuard no_grad;
    auto modules = context.model.named_modules("", false);
    for (const auto& pair : context.model.equalization_pairs()) {
      auto* first = modules[pair.first]->as<torch::nn::Conv2d>();
      auto* second = modules[pair.second]->as<torch::nn::Conv2d>();
      if (!first || !second) qx::fail("{}: {} and {} must both be Conv2d", context.name, pair.first, pair.second);
      const auto range_first = first->weight.abs().amax({1, 2, 3});
      const auto range_second = second->weight.abs().amax({0, 2, 3});
      // A dead channel (all zeros on either side) keeps s = 1.
      auto s = torch::sqrt(range_first / range_second);
      s = torch::where((range_first > 0) & (range_second > 0), s, torch::ones_like(s));
      first->weight.div_(s.reshape({-1, 1, 1, 1}));
      if (first->bias.defined()) first->bias.div_(s);
      scale_following_bias(context, pair.first, s);
      second->weight.mul_(s.reshape({1, -1, 1, 1}));
    }
  }

 private:
  // The folded BatchNorm after conv_a adds its bias (and subtracts its mean) per channel: both
  // scale with the channel.
  static void scale_following_bias(PassContext& context, const std::string& conv, const torch::Tensor& s) {
    auto modules = context.model.named_modules("", false);
    for (const auto& pair : context.model.conv_bn_pairs()) {
      if (pair.conv != conv) continue;
      auto* bn = modules[pair.batch_norm]->as<torch::nn::BatchNorm2d>();
      bn->bias.div_(s);
      bn->running_mean.div_(s);
    }
  }
};

}  // namespace

QX_PLUGIN(pass, cle, "1.0.0", registrar) {
  registrar.add_pass("cle", [](const qx::Options&) { return std::make_unique<CrossLayerEqualization>(); });
}
