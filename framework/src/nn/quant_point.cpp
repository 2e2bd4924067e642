#include "qx/nn/quant_point.h"

#include "qx/nn/model.h"

namespace qx::nn {

torch::Tensor QuantPointImpl::forward(const torch::Tensor& activation) {
  return hook_ ? (*hook_)(activation) : activation;
}

}  // namespace qx::nn

namespace qx {

std::vector<NamedQuantPoint> quant_points(torch::nn::Module& model) {
  std::vector<NamedQuantPoint> points;
  for (const auto& item : model.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    if (auto point = std::dynamic_pointer_cast<nn::QuantPointImpl>(item.value())) {
      points.push_back({item.key(), std::move(point)});
    }
  }
  return points;
}

std::vector<NamedWeightLayer> weight_layers(torch::nn::Module& model) {
  std::vector<NamedWeightLayer> layers;
  for (const auto& item : model.named_modules("", false)) {
    if (auto conv = std::dynamic_pointer_cast<torch::nn::Conv2dImpl>(item.value())) {
      layers.push_back({item.key(), conv, conv->weight, true});
    } else if (auto linear = std::dynamic_pointer_cast<torch::nn::LinearImpl>(item.value())) {
      layers.push_back({item.key(), linear, linear->weight, false});
    }
  }
  return layers;
}

}  // namespace qx
