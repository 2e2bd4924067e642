#include "qx/nn/graph.h"

#include <map>

#include "qx/core/error.h"
#include "qx/nn/quant_point.h"

namespace qx::nn {

const char* graph_op_name(GraphOpKind kind) {
  switch (kind) {
    case GraphOpKind::kQuantPoint: return "quant_point";
    case GraphOpKind::kConv2d: return "conv2d";
    case GraphOpKind::kBatchNorm2d: return "batch_norm2d";
    case GraphOpKind::kLinear: return "linear";
    case GraphOpKind::kRelu: return "relu";
    case GraphOpKind::kAdd: return "add";
    case GraphOpKind::kSubsample: return "subsample";
    case GraphOpKind::kPadChannels: return "pad_channels";
    case GraphOpKind::kGlobalAveragePool: return "global_average_pool";
  }
  return "?";
}

namespace {

template <typename Module>
Module& module_of(const std::map<std::string, std::shared_ptr<torch::nn::Module>>& modules, const GraphOp& op) {
  const auto it = modules.find(op.module);
  Module* module = it == modules.end() ? nullptr : it->second->as<Module>();
  if (!module) fail("graph: {} '{}' names module '{}', which the model lacks or is of another type",
                    graph_op_name(op.kind), op.output, op.module);
  return *module;
}

}  // namespace

torch::Tensor run_graph(torch::nn::Module& model, const std::vector<GraphOp>& graph, const torch::Tensor& images) {
  if (graph.empty()) fail("graph: the model lists no operations");
  return run_graph_values(model, graph, images).at(graph.back().output);
}

std::map<std::string, torch::Tensor> run_graph_values(torch::nn::Module& model, const std::vector<GraphOp>& graph,
                                                      const torch::Tensor& images) {
  if (graph.empty()) fail("graph: the model lists no operations");
  std::map<std::string, std::shared_ptr<torch::nn::Module>> modules;
  for (const auto& item : model.named_modules("", false)) modules[item.key()] = item.value();
  std::map<std::string, torch::Tensor> values{{kGraphInput, images}};
  for (const auto& op : graph) {
    std::vector<torch::Tensor> in;
    for (const auto& name : op.inputs) {
      const auto it = values.find(name);
      if (it == values.end()) fail("graph: {} '{}' reads '{}', which no earlier operation writes",
                                   graph_op_name(op.kind), op.output, name);
      in.push_back(it->second);
    }
    const std::size_t arity = op.kind == GraphOpKind::kAdd ? 2 : 1;
    if (in.size() != arity) fail("graph: {} '{}' takes {} inputs, got {}", graph_op_name(op.kind), op.output, arity, in.size());
    torch::Tensor out;
    switch (op.kind) {
      case GraphOpKind::kQuantPoint: out = module_of<QuantPointImpl>(modules, op).forward(in[0]); break;
      case GraphOpKind::kConv2d: out = module_of<torch::nn::Conv2dImpl>(modules, op).forward(in[0]); break;
      case GraphOpKind::kBatchNorm2d: out = module_of<torch::nn::BatchNorm2dImpl>(modules, op).forward(in[0]); break;
      case GraphOpKind::kLinear: out = module_of<torch::nn::LinearImpl>(modules, op).forward(in[0]); break;
      case GraphOpKind::kRelu: out = torch::relu(in[0]); break;
      case GraphOpKind::kAdd: out = in[0] + in[1]; break;
      case GraphOpKind::kSubsample: {
        using torch::indexing::None;
        using torch::indexing::Slice;
        out = in[0].index({Slice(), Slice(), Slice(0, None, op.stride), Slice(0, None, op.stride)});
        break;
      }
      case GraphOpKind::kPadChannels:
        out = torch::constant_pad_nd(in[0], {0, 0, 0, 0, op.pad_before, op.pad_after});
        break;
      case GraphOpKind::kGlobalAveragePool: out = torch::adaptive_avg_pool2d(in[0], {1, 1}).flatten(1); break;
    }
    values[op.output] = out;
  }
  return values;
}

}  // namespace qx::nn
