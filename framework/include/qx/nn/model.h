#pragma once
// The interface every model plugin implements, and what the quantization engine sees of it.
//
//  * Weights: every torch::nn::Conv2d and torch::nn::Linear submodule, by its module name.
//  * Activations: every qx::nn::QuantPoint submodule, by its module name, in execution order.
//  * BatchNorm folding: conv_bn_pairs() names each BatchNorm and the convolution it follows.
//  * Passes (optional): equalization_pairs() for cross-layer equalization and blocks() for
//    block reconstruction; a model without them simply cannot run those passes.
//  * Deployment (optional): graph() for the ONNX export and the integer-kernel evaluation.
// See docs/model-interface.md for ResNet20's table of names.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "qx/nn/graph.h"
#include "qx/nn/quant_point.h"

namespace qx {

struct ConvBnPair {
  std::string conv;
  std::string batch_norm;
};

// Two weight layers where every output channel of `first` reaches the same input channel of
// `second` only through BatchNorm (folded) and ReLU. ReLU(s x) = s ReLU(x) for s > 0, so a channel
// can be scaled down in `first` and up in `second` without changing the function.
struct EqualizationPair {
  std::string first;
  std::string second;
};

// A piece of the network that block reconstruction (BRECQ) optimises as a whole: it reads what
// leaves `input_point` and runs through its weight layers and activation points, ending with its
// own output point where it has one. `forward` runs exactly that piece of the model's forward().
struct ModelBlock {
  std::string name;
  std::string input_point;
  std::vector<std::string> layers;
  std::vector<std::string> points;
  std::function<torch::Tensor(const torch::Tensor&)> forward;
};

class QuantizableModel : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(torch::Tensor images) = 0;
  virtual std::vector<ConvBnPair> conv_bn_pairs() const = 0;
  virtual std::vector<EqualizationPair> equalization_pairs() const { return {}; }
  // In execution order; together they cover every weight layer once.
  virtual std::vector<ModelBlock> blocks() { return {}; }
  // The dataflow of forward() as plain data (nn/graph.h), for the ONNX export and the integer
  // kernels; a model without it runs only in qx's own simulation.
  virtual std::vector<nn::GraphOp> graph() const { return {}; }
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
