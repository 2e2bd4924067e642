#pragma once
// The interface every model plugin implements, and what the quantization engine sees of it.
//
//  * Weights: every torch::nn::Conv2d and torch::nn::Linear submodule, by its module name.
//  * Activations: every qx::nn::QuantPoint submodule, by its module name, in execution order.
//  * BatchNorm folding: conv_bn_pairs() names each BatchNorm and the convolution it follows.
// See docs/model-interface.md for ResNet20's table of names.
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "qx/nn/quant_point.h"

namespace qx {

struct ConvBnPair {
  std::string conv;
  std::string batch_norm;
};

class QuantizableModel : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(torch::Tensor images) = 0;
  virtual std::vector<ConvBnPair> conv_bn_pairs() const = 0;
};

struct NamedQuantPoint {
  std::string name;
  std::shared_ptr<nn::QuantPointImpl> point;
};
// Quant points in registration order, which qx models keep equal to execution order.
std::vector<NamedQuantPoint> quant_points(torch::nn::Module& model);

struct NamedWeightLayer {
  std::string name;
  std::shared_ptr<torch::nn::Module> module;
  torch::Tensor weight;
  bool is_conv;
};
// Conv2d and Linear layers, in registration order.
std::vector<NamedWeightLayer> weight_layers(torch::nn::Module& model);

}  // namespace qx
