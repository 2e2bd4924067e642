#include "qx/deploy/onnx_export.h"

#include <fstream>
#include <limits>
#include <map>
#include <set>

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include "qx/core/error.h"
#include "qx/quant/integer_bias.h"
#include "onnx_graph.h"
#include "weight_codes.h"

namespace qx::deploy {

namespace {

using nn::GraphOp;
using nn::GraphOpKind;

// The scale and zero point a value was last dequantized with: the grid it lies on.
struct ValueGrid {
  torch::Tensor scale;       // float32 []
  torch::Tensor zero_point;  // the container's type, []
  std::int64_t qmin = 0, qmax = 0;
  int type = 0;  // onnx::TensorProto_DataType
};

// The 8-bit container of a grid, or a one-line refusal naming `what`.
int container_for(std::int64_t qmin, std::int64_t qmax, int bits, const std::string& what) {
  if (qmin >= 0 && qmax <= 255) return onnx::TensorProto_DataType_UINT8;
  if (qmin >= -128 && qmax <= 127) return onnx::TensorProto_DataType_INT8;
  fail("cannot export {} to ONNX: it is quantized at {} bits ([{}, {}]), and opset 13's QuantizeLinear holds 8-bit "
       "integers only",
       what, bits, qmin, qmax);
}

// A convolution's padding when it is explicit (not "same" or "valid"). The option is a c10::variant
// in LibTorch 1.x and a std::variant in 2.x: the unqualified get_if finds either by argument lookup.
template <typename>
void get_if();
template <typename Padding>
const torch::ExpandingArray<2>* explicit_padding(const Padding& padding) {
  return get_if<torch::ExpandingArray<2>>(&padding);
}

torch::ScalarType torch_type(int onnx_type) {
  return onnx_type == onnx::TensorProto_DataType_UINT8 ? torch::kUInt8 : torch::kInt8;
}

class CellExporter {
 public:
  CellExporter(sim::QuantSim& sim, onnx::GraphProto& graph) : sim_(sim), out_(graph) {
    for (const auto& item : sim.model().named_modules("", false)) modules_[item.key()] = item.value();
  }

  void normalize_input(const std::string& pixels, const data::Normalization& stats) {
    // data::normalize(): (pixel - 255 mean) / (255 std) in float32; pixel = 255 (pixel / 255) exactly.
    const auto options = torch::TensorOptions().dtype(torch::kFloat32);
    const auto mean = torch::tensor({stats.mean[0], stats.mean[1], stats.mean[2]}, options).mul_(255.0).view({1, 3, 1, 1});
    const auto scale = torch::tensor({stats.std[0], stats.std[1], stats.std[2]}, options).mul_(255.0).view({1, 3, 1, 1});
    out_.node("Mul", {pixels, out_.constant("input.255", torch::full({}, 255.0f))}, "input.pixels");
    out_.node("Sub", {"input.pixels", out_.constant("input.mean", mean)}, "input.centred");
    out_.node("Div", {"input.centred", out_.constant("input.std", scale)}, nn::kGraphInput);
  }

  std::string run(const std::vector<GraphOp>& graph) {
    absorbed_ = absorbed_batch_norms(graph);
    for (const auto& op : graph) add(op);
    return value(graph.back().output);
  }

  OnnxExportSummary summary() const { return summary_; }

 private:
  // The BatchNorms folding left as "add b'" right behind a convolution: they become its bias.
  std::map<std::string, std::string> absorbed_batch_norms(const std::vector<GraphOp>& graph) const {
    std::map<std::string, std::string> conv_of_output, absorbed;  // conv output -> conv; bn -> conv
    if (!sim_.cell().quantize || !sim_.cell().fold_batch_norm) return absorbed;
    for (const auto& op : graph) {
      if (op.kind == GraphOpKind::kConv2d) conv_of_output[op.output] = op.module;
      if (op.kind != GraphOpKind::kBatchNorm2d || !conv_of_output.count(op.inputs.at(0))) continue;
      const auto& bn = module<torch::nn::BatchNorm2dImpl>(op);
      const bool folded = bn.weight.eq(1).all().item<bool>() && bn.running_mean.eq(0).all().item<bool>();
      if (folded) absorbed[op.module] = conv_of_output[op.inputs.at(0)];
    }
    return absorbed;
  }

  template <typename Module>
  Module& module(const GraphOp& op) const {
    const auto it = modules_.find(op.module);
    Module* found = it == modules_.end() ? nullptr : it->second->as<Module>();
    if (!found) fail("cannot export to ONNX: graph names module '{}', which the model lacks", op.module);
    return *found;
  }

  std::string value(const std::string& name) const {
    const auto it = alias_.find(name);
    return it == alias_.end() ? name : it->second;
  }

  void add(const GraphOp& op) {
    const auto x = value(op.inputs.at(0));
    switch (op.kind) {
      case GraphOpKind::kQuantPoint: {
        auto* site = sim_.cell().quantize ? sim_.find_activation_site(op.module) : nullptr;
        if (!site) {
          alias_[op.output] = x;
          return;
        }
        const auto& q = site->qparams;
        ValueGrid grid{q.scale.detach().to(torch::kCPU, torch::kFloat32).reshape({}), {}, q.qmin, q.qmax,
                       container_for(q.qmin, q.qmax, site->spec.bits, fmt::format("activation point '{}'", op.module))};
        grid.zero_point = q.zero_point.detach().to(torch::kCPU).reshape({}).to(torch_type(grid.type));
        quantize(x, op.output, grid);
        ++summary_.quantized_activations;
        return;
      }
      case GraphOpKind::kConv2d: return conv(op, x);
      case GraphOpKind::kLinear: return linear(op, x);
      case GraphOpKind::kBatchNorm2d: {
        if (absorbed_.count(op.module)) {
          alias_[op.output] = x;
          return;
        }
        const auto& bn = module<torch::nn::BatchNorm2dImpl>(op);
        auto& node = out_.node("BatchNormalization",
                               {x, out_.constant(op.module + ".weight", bn.weight), out_.constant(op.module + ".bias", bn.bias),
                                out_.constant(op.module + ".running_mean", bn.running_mean),
                                out_.constant(op.module + ".running_var", bn.running_var)},
                               op.output);
        OnnxGraph::attribute(node, "epsilon", static_cast<float>(bn.options.eps()));
        return;
      }
      case GraphOpKind::kRelu: out_.node("Relu", {x}, op.output); return;
      case GraphOpKind::kAdd: out_.node("Add", {x, value(op.inputs.at(1))}, op.output); return;
      case GraphOpKind::kSubsample: {
        const auto end = std::numeric_limits<std::int64_t>::max();
        out_.node("Slice",
                  {x, out_.constant(op.output + ".starts", torch::tensor({0L, 0L})),
                   out_.constant(op.output + ".ends", torch::tensor({end, end})),
                   out_.constant(op.output + ".axes", torch::tensor({2L, 3L})),
                   out_.constant(op.output + ".steps", torch::tensor({op.stride, op.stride}))},
                  op.output + (grids_.count(x) ? ".float" : ""));
        return keep_grid(x, op.output);
      }
      case GraphOpKind::kPadChannels: {
        auto& node = out_.node(
            "Pad",
            {x, out_.constant(op.output + ".pads", torch::tensor({0L, op.pad_before, 0L, 0L, 0L, op.pad_after, 0L, 0L})),
             out_.constant(op.output + ".value", torch::zeros({}))},
            op.output + (grids_.count(x) ? ".float" : ""));
        OnnxGraph::attribute(node, "mode", std::string("constant"));
        return keep_grid(x, op.output);
      }
      case GraphOpKind::kGlobalAveragePool: {
        out_.node("GlobalAveragePool", {x}, op.output + ".pooled");
        auto& node = out_.node("Flatten", {op.output + ".pooled"}, op.output);
        OnnxGraph::attribute(node, "axis", std::int64_t{1});
        return;
      }
    }
  }

  // QuantizeLinear, Clip to the grid where it is narrower than its container, DequantizeLinear.
  void quantize(const std::string& x, const std::string& output, const ValueGrid& grid) {
    const auto scale = out_.constant(output + ".scale", grid.scale);
    const auto zero_point = out_.constant(output + ".zero_point", grid.zero_point);
    std::string codes = out_.node("QuantizeLinear", {x, scale, zero_point}, output + ".codes").output(0);
    const bool is_unsigned = grid.type == onnx::TensorProto_DataType_UINT8;
    if (grid.qmin > (is_unsigned ? 0 : -128) || grid.qmax < (is_unsigned ? 255 : 127)) {
      const auto type = torch_type(grid.type);
      codes = out_.node("Clip",
                        {codes, out_.constant(output + ".qmin", torch::full({}, grid.qmin).to(type)),
                         out_.constant(output + ".qmax", torch::full({}, grid.qmax).to(type))},
                        output + ".clipped")
                  .output(0);
      ++summary_.clipped_activations;
    }
    out_.node("DequantizeLinear", {codes, scale, zero_point}, output);
    grids_[output] = grid;
  }

  // Slicing and zero-padding keep every value on its grid (0 is on every grid): the result is
  // quantized again with the same parameters, which changes nothing and lets integer kernels read it.
  void keep_grid(const std::string& x, const std::string& output) {
    const auto it = grids_.find(x);
    if (it != grids_.end()) quantize(output + ".float", output, it->second);
  }

  struct QuantizedWeight {
    std::string name;    // the dequantized weight
    torch::Tensor scale; // float32 [out] (per channel) or []
  };

  QuantizedWeight weight(const std::string& layer, const torch::Tensor& float_weight) {
    if (!sim_.cell().quantize) return {out_.constant(layer + ".weight", float_weight), {}};
    const auto& site = sim_.weight_site(layer);
    const int type = container_for(site.qparams.qmin, site.qparams.qmax, site.spec.bits,
                                   fmt::format("the weight of '{}'", layer));
    const auto w = weight_codes(site, "export to ONNX");
    auto& node = out_.node("DequantizeLinear",
                           {out_.constant(layer + ".weight.codes", w.codes.to(torch_type(type))),
                            out_.constant(layer + ".weight.scale", w.scale),
                            out_.constant(layer + ".weight.zero_point", w.zero_point.to(torch_type(type)))},
                           layer + ".weight");
    if (w.axis >= 0) OnnxGraph::attribute(node, "axis", w.axis);
    ++summary_.quantized_weights;
    return {layer + ".weight", w.scale.reshape({-1})};
  }

  // An int32 bias at the scale integer kernels accumulate in (s_in * s_w), where the layer's input
  // and weight are quantized; float32 otherwise. The pass 'integer_bias' gives a cell these values.
  std::string bias(const std::string& layer, const torch::Tensor& value, const std::string& input,
                   const QuantizedWeight& w) {
    const auto grid = grids_.find(input);
    if (!w.scale.defined() || grid == grids_.end()) return out_.constant(layer + ".bias", value);
    const auto integer = quant::integer_bias(value, grid->second.scale, w.scale);
    auto& node = out_.node("DequantizeLinear",
                           {out_.constant(layer + ".bias.codes", integer.codes),
                            out_.constant(layer + ".bias.scale", integer.scale),
                            out_.constant(layer + ".bias.zero_point", torch::zeros({value.size(0)}, torch::kInt32))},
                           layer + ".bias");
    OnnxGraph::attribute(node, "axis", std::int64_t{0});
    return layer + ".bias";
  }

  void conv(const GraphOp& op, const std::string& x) {
    const auto& conv = module<torch::nn::Conv2dImpl>(op);
    const auto& options = conv.options;
    const auto* padding = explicit_padding(options.padding());
    if (!padding || torch::enumtype::get_enum_name(options.padding_mode()) != std::string("kZeros")) {
      fail("cannot export '{}' to ONNX: only explicit zero padding is exported", op.module);
    }
    const auto channels = options.out_channels();
    auto b = conv.bias.defined() ? conv.bias.detach().clone() : torch::zeros({channels});
    for (const auto& [bn_name, conv_name] : absorbed_) {
      if (conv_name == op.module) b = b + modules_.at(bn_name)->as<torch::nn::BatchNorm2dImpl>()->bias.detach();
    }
    const auto w = weight(op.module, conv.weight.detach());
    auto& node = out_.node("Conv", {x, w.name, bias(op.module, b, x, w)}, op.output);
    const auto& kernel = *options.kernel_size();
    const auto& stride = *options.stride();
    const auto& dilation = *options.dilation();
    const auto& pad = **padding;
    OnnxGraph::ints(node, "kernel_shape", {kernel[0], kernel[1]});
    OnnxGraph::ints(node, "strides", {stride[0], stride[1]});
    OnnxGraph::ints(node, "dilations", {dilation[0], dilation[1]});
    OnnxGraph::ints(node, "pads", {pad[0], pad[1], pad[0], pad[1]});
    OnnxGraph::attribute(node, "group", options.groups());
  }

  void linear(const GraphOp& op, const std::string& x) {
    const auto& linear = module<torch::nn::LinearImpl>(op);
    const auto outputs = linear.options.out_features();
    const auto b = linear.bias.defined() ? linear.bias.detach() : torch::zeros({outputs});
    const auto w = weight(op.module, linear.weight.detach());
    auto& node = out_.node("Gemm", {x, w.name, bias(op.module, b, x, w)}, op.output);
    OnnxGraph::attribute(node, "transB", std::int64_t{1});
  }

  sim::QuantSim& sim_;
  OnnxGraph out_;
  std::map<std::string, std::shared_ptr<torch::nn::Module>> modules_;
  std::map<std::string, std::string> absorbed_;  // BatchNorm -> the convolution whose bias it became
  std::map<std::string, std::string> alias_;     // graph value -> the ONNX value that holds it
  std::map<std::string, ValueGrid> grids_;       // ONNX values that leave a DequantizeLinear
  OnnxExportSummary summary_;
};

}  // namespace

OnnxExportSummary export_onnx(sim::QuantSim& sim, const std::filesystem::path& out, const OnnxExportOptions& options) {
  const auto graph = sim.model().graph();
  if (graph.empty()) fail("cannot export to ONNX: the model plugin does not describe its graph (QuantizableModel::graph())");
  if (sim.cell().quantize && !sim.quantizer().integer_grid()) {
    fail("cannot export to ONNX: quantizer '{}' has no integer grid to express as QuantizeLinear",
         sim.cell().quantizer.name);
  }
  torch::NoGradGuard no_grad;
  onnx::ModelProto model;
  model.set_ir_version(7);  // the IR of opset 13
  model.set_producer_name("qx");
  model.set_doc_string(options.description);
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  auto* graph_proto = model.mutable_graph();
  graph_proto->set_name("qx");

  CellExporter exporter(sim, *graph_proto);
  exporter.normalize_input("pixels", options.normalization);
  const auto logits = exporter.run(graph);
  OnnxGraph(*graph_proto).node("Identity", {logits}, "logits");
  const auto classes = graph.back().kind == GraphOpKind::kLinear
                           ? sim.model().named_modules("", false)[graph.back().module]->as<torch::nn::LinearImpl>()->options.out_features()
                           : -1;
  OnnxGraph::tensor_value(*graph_proto->add_input(), "pixels", {-1, 3, 32, 32});
  OnnxGraph::tensor_value(*graph_proto->add_output(), "logits", {-1, classes});
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& error) {
    fail("cannot export to ONNX: onnx::checker rejects the graph: {}", error.what());
  }

  auto summary = exporter.summary();
  summary.nodes = graph_proto->node_size();
  if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
  const auto partial = std::filesystem::path(out.string() + ".partial");
  {
    std::ofstream file(partial, std::ios::binary | std::ios::trunc);
    if (!file || !model.SerializeToOstream(&file) || !file.flush()) {
      std::filesystem::remove(partial);
      fail("cannot write {}", out.string());
    }
  }
  std::filesystem::rename(partial, out);
  summary.bytes = std::filesystem::file_size(out);
  return summary;
}

}  // namespace qx::deploy
