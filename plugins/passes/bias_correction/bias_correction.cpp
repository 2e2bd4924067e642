// Empirical bias correction (Nagel et al. 2019, section 4.2). Quantization error is not zero-mean
// per output channel: rounding and clipping shift E[W_q x_q] away from E[W x], and the shift adds
// up through the network (after ReLU, a negative shift also cuts off signal). Layer by layer, in
// execution order, this pass measures on the calibration images the per-channel mean of the
// layer's float output and of its simulated output (which already carries every earlier
// correction) and adds the difference to the layer's bias. Convolutions without a bias of their
// own are corrected through the BatchNorm that follows them: BN(y + d) = BN(y) with mean - d.
#include "qx/core/error.h"
#include "qx/passes/pass.h"
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"
#include "qx/sim/capture.h"
#include "qx/sim/quant_sim.h"

namespace {

using namespace qx::passes;

torch::Tensor channel_means(const qx::sim::WeightSite& site, const torch::Tensor& inputs) {
  torch::NoGradGuard no_grad;
  if (auto* conv = dynamic_cast<torch::nn::Conv2dImpl*>(site.module.get())) {
    return conv->forward(inputs).mean({0, 2, 3}, false, torch::kFloat64);
  }
  auto* linear = dynamic_cast<torch::nn::LinearImpl*>(site.module.get());
  if (!linear) qx::fail("layer '{}' is neither Conv2d nor Linear", site.name);
  return linear->forward(inputs).mean({0}, false, torch::kFloat64);
}

class BiasCorrection : public Pass {
 public:
  PassStage stage() const override { return PassStage::kQuantizedModel; }
  void check(const qx::spec::CellSpec&, const qx::quant::Quantizer&, qx::QuantizableModel& model) const override {
    for (const auto& layer : qx::weight_layers(model)) bias_of(model, layer.name, layer.module);
  }

  void run(PassContext& context) override {
    auto& sim = context.sim;
    for (auto& site : sim.weight_sites()) {
      auto& input = sim.input_site(site.name);
      torch::Tensor float_mean;
      {
        qx::sim::QuantSim::FloatScope float_model(sim);
        float_mean = channel_means(site, qx::sim::capture_point(context.model, *input.point, context.calibration));
      }
      const auto simulated_mean =
          channel_means(site, qx::sim::capture_point(context.model, *input.point, context.calibration));
      const auto shift = (float_mean - simulated_mean).to(torch::kFloat32);
      if (!torch::isfinite(shift).all().item<bool>()) qx::fail("{}: layer '{}': non-finite mean", context.name, site.name);
      torch::NoGradGuard no_grad;
      auto [tensor, sign] = bias_of(context.model, site.name, site.module);
      tensor.add_(sign * shift.to(tensor.device()));
    }
  }

 private:
  // The tensor to correct and the sign to correct it with.
  static std::pair<torch::Tensor, double> bias_of(qx::QuantizableModel& model, const std::string& layer,
                                                  const std::shared_ptr<torch::nn::Module>& module) {
    if (auto* conv = dynamic_cast<torch::nn::Conv2dImpl*>(module.get()); conv && conv->bias.defined()) {
      return {conv->bias, 1.0};
    }
    if (auto* linear = dynamic_cast<torch::nn::LinearImpl*>(module.get()); linear && linear->bias.defined()) {
      return {linear->bias, 1.0};
    }
    auto modules = model.named_modules("", false);
    for (const auto& pair : model.conv_bn_pairs()) {
      if (pair.conv == layer) return {modules[pair.batch_norm]->as<torch::nn::BatchNorm2d>()->running_mean, -1.0};
    }
    qx::fail("pass 'bias_correction': layer '{}' has no bias and no BatchNorm after it", layer);
  }
};

}  // namespace

QX_PLUGIN(pass, bias_correction, "1.0.0", registrar) {
  registrar.add_pass("bias_correction", [](const qx::Options&) { return std::make_unique<BiasCorrection>(); });
}
