// Integer biases: each weight layer's bias becomes what an integer kernel adds, an int32 code at
// the scale it accumulates in, s_in * s_w (qx/quant/integer_bias.h). The simulation otherwise
// keeps biases in float, which no int8 runtime does; with this pass last in a cell's list, the
// cell computes what its ONNX export computes in onnxruntime (docs/deployment.md, "Integer
// runtimes"). Run it after every pass that changes biases, weight scales or input scales.
//
// Where folding left the bias in the shift-only BatchNorm behind a convolution, the rounded value
// goes there, with the BatchNorm's mean set to 0 so that it adds exactly that value.
#include "qx/core/error.h"
#include "qx/passes/pass.h"
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"
#include "qx/quant/integer_bias.h"
#include "qx/sim/quant_sim.h"

namespace {

using namespace qx::passes;

// A folded BatchNorm: x * 1 / sqrt(var + eps) with var + eps == 1, i.e. a shift by bias - mean.
bool shift_only(const torch::nn::BatchNorm2dImpl& bn) {
  const auto gain = bn.weight / torch::sqrt(bn.running_var + bn.options.eps());
  return gain.eq(1).all().item<bool>();
}

class IntegerBiasPass : public Pass {
 public:
  PassStage stage() const override { return PassStage::kQuantizedModel; }

  void check(const qx::spec::CellSpec& cell, const qx::quant::Quantizer& quantizer, qx::QuantizableModel& model) const override {
    if (!quantizer.integer_grid()) qx::fail("pass 'integer_bias' needs a quantizer with an integer grid");
    if (!cell.fold_batch_norm && !model.conv_bn_pairs().empty()) {
      qx::fail("pass 'integer_bias' needs folded BatchNorms: an unfolded one runs in float between the convolution and its bias");
    }
  }

  void run(PassContext& context) override {
    torch::NoGradGuard no_grad;
    auto& sim = context.sim;
    auto modules = context.model.named_modules("", false);
    for (auto& site : sim.weight_sites()) {
      if (!site.qparams.scale.defined()) continue;  // a weight the cell keeps in float
      const auto& input = sim.input_site(site.name);
      auto [bias, batch_norm] = bias_of(context.model, modules, site);
      const auto effective = batch_norm ? batch_norm->bias - batch_norm->running_mean : bias;
      const auto grid = qx::quant::integer_bias(effective, input.qparams.scale, site.qparams.scale);
      const auto rounded = (grid.codes.to(torch::kFloat64) * grid.scale.to(torch::kFloat64)).to(torch::kFloat32);
      if (!torch::isfinite(rounded).all().item<bool>()) qx::fail("{}: layer '{}': non-finite bias", context.name, site.name);
      if (batch_norm) batch_norm->running_mean.zero_();
      bias.copy_(rounded.to(bias.device()));
    }
  }

 private:
  // The tensor that holds the layer's bias, and the BatchNorm it lives in where folding put it there.
  static std::pair<torch::Tensor, torch::nn::BatchNorm2dImpl*> bias_of(
      qx::QuantizableModel& model, const torch::OrderedDict<std::string, std::shared_ptr<torch::nn::Module>>& modules,
      const qx::sim::WeightSite& site) {
    auto* conv = dynamic_cast<torch::nn::Conv2dImpl*>(site.module.get());
    auto* linear = dynamic_cast<torch::nn::LinearImpl*>(site.module.get());
    if (conv && conv->bias.defined()) return {conv->bias, nullptr};
    if (linear && linear->bias.defined()) return {linear->bias, nullptr};
    for (const auto& pair : model.conv_bn_pairs()) {
      if (pair.conv != site.name) continue;
      auto* bn = modules[pair.batch_norm]->as<torch::nn::BatchNorm2d>();
      if (!bn || !shift_only(*bn)) qx::fail("pass 'integer_bias': BatchNorm '{}' is not folded", pair.batch_norm);
      return {bn->bias, bn};
    }
    qx::fail("pass 'integer_bias': layer '{}' has no bias and no BatchNorm after it", site.name);
  }
};

}  // namespace

QX_PLUGIN(pass, integer_bias, "1.0.0", registrar) {
  registrar.add_pass("integer_bias", [](const qx::Options&) { return std::make_unique<IntegerBiasPass>(); });
}
