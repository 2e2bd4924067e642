#pragma once
// A model's dataflow as plain data, for whatever runs the model outside its own forward(): the
// ONNX exporter (deploy/onnx_export.h) and the integer-kernel evaluator (deploy/int8_kernels.h).
// A model plugin lists its operations in execution order (QuantizableModel::graph()); values
// are named by strings, the graph reads kGraphInput (normalised images) and its last operation
// writes the logits. Modules are named as in named_modules(), so every consumer finds the
// weights, BatchNorm statistics and QuantPoints the simulation quantized.
//
// run_graph() interprets a graph with LibTorch on the model's own modules: the contract check
// (model_contract.h) compares it with forward(), so a graph that drifts from the model fails
// when the plugin loads, not in an exported file.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace qx::nn {

inline constexpr const char* kGraphInput = "images";

enum class GraphOpKind {
  kQuantPoint,         // module: a QuantPoint (its hook, if any, applies)
  kConv2d,             // module: a Conv2d
  kBatchNorm2d,        // module: a BatchNorm2d, in eval mode (running statistics)
  kLinear,             // module: a Linear
  kRelu,
  kAdd,                // inputs[0] + inputs[1]
  kSubsample,          // every `stride`-th row and column, starting with the first
  kPadChannels,        // zero channels: `pad_before` in front of the first, `pad_after` behind the last
  kGlobalAveragePool,  // [N, C, H, W] -> [N, C]
};

const char* graph_op_name(GraphOpKind kind);

struct GraphOp {
  GraphOpKind kind = GraphOpKind::kRelu;
  std::vector<std::string> inputs;
  std::string output;
  std::string module = {};  // for kQuantPoint, kConv2d, kBatchNorm2d, kLinear
  std::int64_t stride = 1;
  std::int64_t pad_before = 0;
  std::int64_t pad_after = 0;
};

// Runs `graph` on `model`'s modules from `images`; throws qx::Error naming the first operation
// that reads a value nothing wrote or a module the model lacks (or of another type).
torch::Tensor run_graph(torch::nn::Module& model, const std::vector<GraphOp>& graph, const torch::Tensor& images);
// The same, keeping every value the graph writes, by name (the input under kGraphInput): what the
// integer judges compare point by point.
std::map<std::string, torch::Tensor> run_graph_values(torch::nn::Module& model, const std::vector<GraphOp>& graph,
                                                      const torch::Tensor& images);

}  // namespace qx::nn
