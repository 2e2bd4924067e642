#include "qx/nn/fold.h"

#include "qx/core/error.h"

namespace qx {

void fold_batch_norms(QuantizableModel& model) {
  torch::NoGradGuard no_grad;
  auto modules = model.named_modules("", false);
  for (const auto& pair : model.conv_bn_pairs()) {
    if (!modules.contains(pair.conv) || !modules.contains(pair.batch_norm)) {
      fail("cannot fold: model names a missing pair {} / {}", pair.conv, pair.batch_norm);
    }
    auto* conv = modules[pair.conv]->as<torch::nn::Conv2d>();
    auto* bn = modules[pair.batch_norm]->as<torch::nn::BatchNorm2d>();
    if (!conv || !bn) fail("cannot fold: {} is not a Conv2d or {} is not a BatchNorm2d", pair.conv, pair.batch_norm);
    const double eps = bn->options.eps();
    auto scale = bn->weight / torch::sqrt(bn->running_var + eps);
    auto shift = bn->bias - bn->running_mean * scale;
    if (conv->bias.defined()) shift = shift + conv->bias * scale;
    conv->weight.mul_(scale.reshape({-1, 1, 1, 1}));
    if (conv->bias.defined()) conv->bias.zero_();
    bn->weight.fill_(1.0);
    bn->bias.copy_(shift);
    bn->running_mean.zero_();
    bn->running_var.fill_(1.0 - eps);
  }
}

}  // namespace qx
