#include "qx/deploy/int8_kernels.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <fmt/format.h>

#include "qx/core/error.h"
#include "weight_codes.h"

namespace qx::deploy {

namespace {

using nn::GraphOp;
using nn::GraphOpKind;

at::QEngine qengine(Int8Engine engine) {
  return engine == Int8Engine::kOnednn ? at::QEngine::ONEDNN : at::QEngine::QNNPACK;
}

// The quantized operators are registered with the dispatcher, not declared in a header: they are
// called boxed, by schema name, as TorchScript calls them.
c10::IValue call(const char* name, const char* overload, torch::jit::Stack stack) {
  const auto op = c10::Dispatcher::singleton().findSchemaOrThrow(name, overload);
  op.callBoxed(&stack);
  return stack.at(0);
}

// The first line of a LibTorch error: the rest is its C++ stack.
std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// The quint8 form of a grid [qmin, qmax] with zero point z: codes moved by -qmin, so that
// [qmin, qmax] becomes [0, qmax - qmin] and every value stays what it was.
struct Quint8Grid {
  double scale = 1;
  std::int64_t zero_point = 0, code_max = 255;
};

Quint8Grid quint8_grid(const quant::QParams& q, const std::string& point) {
  if (q.qmax - q.qmin > 255) {
    fail("LibTorch's int8 kernels cannot hold activation point '{}': its grid [{}, {}] is wider than 8 bits", point,
         q.qmin, q.qmax);
  }
  return {q.scale.detach().to(torch::kCPU, torch::kFloat64).item<double>(),
          q.zero_point.detach().to(torch::kCPU).item<std::int64_t>() - q.qmin, q.qmax - q.qmin};
}

// Codes above the grid's top, which the kernels' 8-bit requantisation does not clip, clipped.
torch::Tensor clip_codes(const torch::Tensor& q, std::int64_t code_max) {
  if (code_max >= 255) return q;
  return at::_make_per_tensor_quantized_tensor(q.int_repr().clamp_max_(code_max), q.q_scale(), q.q_zero_point());
}

torch::Tensor dequantized(const torch::Tensor& x) { return x.is_quantized() ? x.dequantize() : x; }

// qint8 weight codes of a grid of at most 256 levels: an unsigned grid moved by -128.
torch::Tensor qint8_weight(const WeightCodes& w, Int8Engine engine, const std::string& layer) {
  if (w.qmax - w.qmin > 255) {
    fail("LibTorch's int8 kernels cannot hold the weight of '{}': its grid [{}, {}] is wider than 8 bits", layer, w.qmin,
         w.qmax);
  }
  const std::int64_t shift = w.qmin >= -128 && w.qmax <= 127 ? 0 : -128 - w.qmin;
  if (engine == Int8Engine::kOnednn && w.zero_point.add(shift).ne(0).any().item<bool>()) {
    fail("LibTorch's onednn engine cannot run '{}': its weight grid has nonzero zero points, and onednn takes "
         "symmetric weights only (qnnpack runs it)",
         layer);
  }
  const auto codes = (w.codes + shift).to(torch::kInt8);
  if (w.axis >= 0) {
    return at::_make_per_channel_quantized_tensor(codes, w.scale.to(torch::kFloat64), w.zero_point.add(shift), w.axis);
  }
  return at::_make_per_tensor_quantized_tensor(codes, w.scale.item<double>(), w.zero_point.item<std::int64_t>() + shift);
}

// A convolution's padding when it is explicit (not "same" or "valid"). The option is a c10::variant
// in LibTorch 1.x and a std::variant in 2.x: the unqualified get_if finds either by argument lookup.
template <typename>
void get_if();
template <typename Padding>
const torch::ExpandingArray<2>* explicit_padding(const Padding& padding) {
  return get_if<torch::ExpandingArray<2>>(&padding);
}

// A copy on the CPU, where the kernels run, whatever device the simulation ran on.
torch::Tensor on_cpu(const torch::Tensor& t) { return t.detach().to(torch::kCPU).clone(); }

// A BatchNorm that only adds a shift (what folding leaves: g / sqrt(var + eps) = 1), as that shift.
std::optional<torch::Tensor> shift_only(const torch::nn::BatchNorm2dImpl& bn) {
  const auto factor = on_cpu(bn.weight) / (on_cpu(bn.running_var) + bn.options.eps()).sqrt();
  if (!(factor - 1).abs().max().le(1e-6).item<bool>()) return std::nullopt;
  return on_cpu(bn.bias) - on_cpu(bn.running_mean) * factor;
}

}  // namespace

const char* int8_engine_name(Int8Engine engine) { return engine == Int8Engine::kOnednn ? "onednn" : "qnnpack"; }

Int8Engine parse_int8_engine(const std::string& name) {
  if (name == "qnnpack") return Int8Engine::kQnnpack;
  if (name == "onednn") return Int8Engine::kOnednn;
  fail("unknown int8 engine '{}': LibTorch's quantized engines here are qnnpack and onednn", name);
}

QuantizedEngineScope::QuantizedEngineScope(Int8Engine engine) : previous_(at::globalContext().qEngine()) {
  const auto wanted = qengine(engine);
  const auto& supported = at::globalContext().supportedQEngines();
  if (std::find(supported.begin(), supported.end(), wanted) == supported.end()) {
    fail("this LibTorch was built without the {} quantized engine", int8_engine_name(engine));
  }
  at::globalContext().setQEngine(wanted);
}

QuantizedEngineScope::~QuantizedEngineScope() { at::globalContext().setQEngine(previous_); }

Int8Model::Int8Model(sim::QuantSim& sim, Int8Engine engine) : engine_(engine) {
  if (!sim.cell().quantize) fail("LibTorch's int8 kernels have nothing to run: the cell computes in float");
  if (!sim.quantizer().integer_grid()) {
    fail("LibTorch's int8 kernels cannot run quantizer '{}': it has no integer grid", sim.cell().quantizer.name);
  }
  const auto graph = sim.model().graph();
  if (graph.empty()) fail("LibTorch's int8 kernels need the model's graph (QuantizableModel::graph())");
  torch::NoGradGuard no_grad;
  QuantizedEngineScope scope(engine);
  try {
    lower(sim, graph);
  } catch (const c10::Error& error) {
    fail("LibTorch's {} engine refuses the cell: {}", int8_engine_name(engine), first_line(error.what_without_backtrace()));
  }
}

// What lowering the graph knows as it goes.
struct Int8Model::Lowering {
  Lowering(sim::QuantSim& s, const std::vector<GraphOp>& g) : sim(s), graph(g) {
    for (const auto& item : sim.model().named_modules("", false)) modules[item.key()] = item.value();
    for (const auto& op : graph) {
      for (const auto& input : op.inputs) ++readers[input];
    }
  }
  template <typename Module>
  const Module& module(const GraphOp& op) const {
    return *modules.at(op.module)->as<Module>();
  }
  // Whether graph[at] is a `kind` operation and the only reader of `value`.
  bool reads_only(std::size_t at, GraphOpKind kind, const std::string& value) const {
    return at < graph.size() && graph[at].kind == kind && graph[at].inputs.size() == 1 && graph[at].inputs[0] == value &&
           readers.at(value) == 1;
  }

  sim::QuantSim& sim;
  const std::vector<GraphOp>& graph;
  std::map<std::string, std::shared_ptr<torch::nn::Module>> modules;
  std::map<std::string, int> readers;
  std::set<std::string> quantized;  // values the lowered graph holds as quint8
  std::set<std::size_t> fused;      // graph operations an integer convolution took in
};

void Int8Model::lower(sim::QuantSim& sim, const std::vector<GraphOp>& graph) {
  Lowering state(sim, graph);
  for (std::size_t i = 0; i < graph.size(); ++i) {
    if (state.fused.count(i)) continue;
    const auto& op = graph[i];
    Step step;
    step.inputs = op.inputs;
    step.output = op.output;
    switch (op.kind) {
      case GraphOpKind::kQuantPoint: {
        auto* site = sim.find_activation_site(op.module);
        step.kind = site ? Step::Kind::kQuantize : Step::Kind::kAlias;
        if (site) {
          const auto grid = quint8_grid(site->qparams, op.module);
          step.scale = grid.scale, step.zero_point = grid.zero_point, step.code_max = grid.code_max;
        }
        // A point with nothing to do (its input is on its grid already) passes the value on as it is.
        if (site || state.quantized.count(op.inputs.at(0))) state.quantized.insert(op.output);
        break;
      }
      case GraphOpKind::kConv2d: lower_conv(state, i, step); break;
      case GraphOpKind::kLinear: {
        const auto& linear = state.module<torch::nn::LinearImpl>(op);
        step.kind = Step::Kind::kFloatLinear;  // its output, the logits, is not quantized
        step.weight = weight_codes(sim.weight_site(op.module), "prepack for LibTorch's int8 kernels").dequantized();
        step.bias = linear.bias.defined() ? on_cpu(linear.bias) : torch::Tensor();
        float_layers_.push_back(op.module);
        break;
      }
      case GraphOpKind::kBatchNorm2d: {
        const auto& bn = state.module<torch::nn::BatchNorm2dImpl>(op);
        step.kind = Step::Kind::kBatchNorm;
        step.weight = on_cpu(bn.weight);
        step.bias = on_cpu(bn.bias);
        step.mean = on_cpu(bn.running_mean);
        step.var = on_cpu(bn.running_var);
        step.eps = bn.options.eps();
        break;
      }
      case GraphOpKind::kRelu: step.kind = Step::Kind::kRelu; break;
      case GraphOpKind::kAdd: step.kind = Step::Kind::kAdd; break;
      case GraphOpKind::kSubsample: step.kind = Step::Kind::kSubsample, step.stride = op.stride; break;
      case GraphOpKind::kPadChannels:
        step.kind = Step::Kind::kPadChannels, step.pad_before = op.pad_before, step.pad_after = op.pad_after;
        break;
      case GraphOpKind::kGlobalAveragePool: step.kind = Step::Kind::kGlobalAveragePool; break;
    }
    steps_.push_back(std::move(step));
  }
  logits_ = graph.back().output;
}

void Int8Model::lower_conv(Lowering& state, std::size_t i, Step& step) {
  const auto& op = state.graph[i];
  const auto& conv = state.module<torch::nn::Conv2dImpl>(op);
  const auto* padding = explicit_padding(conv.options.padding());
  if (!padding || torch::enumtype::get_enum_name(conv.options.padding_mode()) != std::string("kZeros")) {
    fail("LibTorch's int8 kernels run '{}' only with explicit zero padding", op.module);
  }
  const auto codes = weight_codes(state.sim.weight_site(op.module), "prepack for LibTorch's int8 kernels");
  const auto& stride = *conv.options.stride();
  const auto& pad = **padding;
  if (conv.options.groups() != 1 || conv.options.dilation()->at(0) != 1 || conv.options.dilation()->at(1) != 1 ||
      stride[0] != stride[1] || pad[0] != pad[1]) {
    fail("LibTorch's int8 kernels run '{}' only as a square, ungrouped, undilated convolution", op.module);
  }
  step.stride = stride[0];
  step.padding = pad[0];
  // Look ahead: [a BatchNorm that only shifts] [ReLU] QuantPoint, each the only reader of the one
  // before, go into one kernel call.
  auto bias = conv.bias.defined() ? on_cpu(conv.bias) : torch::zeros({conv.options.out_channels()});
  const auto& graph = state.graph;
  std::size_t next = i + 1;
  std::string value = op.output;
  std::vector<std::size_t> taken;
  if (state.reads_only(next, GraphOpKind::kBatchNorm2d, value)) {
    if (const auto shift = shift_only(state.module<torch::nn::BatchNorm2dImpl>(graph[next]))) {
      bias = bias + *shift;
      value = graph[next].output;
      taken.push_back(next++);
    }
  }
  const bool relu = state.reads_only(next, GraphOpKind::kRelu, value);
  if (relu) {
    value = graph[next].output;
    taken.push_back(next++);
  }
  auto* site = state.reads_only(next, GraphOpKind::kQuantPoint, value) ? state.sim.find_activation_site(graph[next].module)
                                                                        : nullptr;
  if (!site || !state.quantized.count(op.inputs.at(0))) {
    step.kind = Step::Kind::kFloatConv;
    step.weight = codes.dequantized();
    step.bias = conv.bias.defined() ? on_cpu(conv.bias) : torch::Tensor();
    float_layers_.push_back(op.module);
    return;
  }
  const auto grid = quint8_grid(site->qparams, graph[next].module);
  step.kind = Step::Kind::kIntegerConv;
  step.relu = relu;
  step.scale = grid.scale, step.zero_point = grid.zero_point, step.code_max = grid.code_max;
  step.output = graph[next].output;
  taken.push_back(next);
  state.fused.insert(taken.begin(), taken.end());
  step.packed = call("quantized::conv2d_prepack", "",
                     {qint8_weight(codes, engine_, op.module), bias.to(torch::kFloat32),
                      std::vector<std::int64_t>{step.stride, step.stride},
                      std::vector<std::int64_t>{step.padding, step.padding}, std::vector<std::int64_t>{1, 1},
                      std::int64_t{1}});
  state.quantized.insert(step.output);
  integer_layers_.push_back(op.module);
}

torch::Tensor Int8Model::forward(const torch::Tensor& images) const {
  return dequantized(run_steps(images).at(logits_)).contiguous();
}

std::map<std::string, torch::Tensor> Int8Model::forward_values(const torch::Tensor& images) const {
  auto values = run_steps(images);
  for (auto& entry : values) entry.second = dequantized(entry.second);
  return values;
}

std::map<std::string, torch::Tensor> Int8Model::run_steps(const torch::Tensor& images) const {
  torch::NoGradGuard no_grad;
  QuantizedEngineScope scope(engine_);
  std::map<std::string, torch::Tensor> values{{nn::kGraphInput, images.to(torch::kCPU, torch::kFloat32).contiguous()}};
  try {
    for (const auto& step : steps_) {
      const auto& x = values.at(step.inputs.at(0));
      torch::Tensor out;
      using Kind = Step::Kind;
      switch (step.kind) {
        case Kind::kAlias: out = x; break;
        case Kind::kQuantize:
          out = clip_codes(torch::quantize_per_tensor(dequantized(x), step.scale, step.zero_point, torch::kQUInt8),
                           step.code_max);
          break;
        case Kind::kIntegerConv:
          out = clip_codes(call(step.relu ? "quantized::conv2d_relu" : "quantized::conv2d", "new",
                                {x, step.packed, step.scale, step.zero_point})
                               .toTensor(),
                           step.code_max);
          break;
        case Kind::kFloatConv:
          out = torch::conv2d(dequantized(x), step.weight, step.bias, step.stride, step.padding);
          break;
        case Kind::kFloatLinear: out = torch::linear(dequantized(x), step.weight, step.bias); break;
        case Kind::kBatchNorm:
          out = torch::batch_norm(dequantized(x), step.weight, step.bias, step.mean, step.var, false, 0.0, step.eps, false);
          break;
        case Kind::kRelu: out = torch::relu(dequantized(x)); break;
        case Kind::kAdd: out = dequantized(x) + dequantized(values.at(step.inputs.at(1))); break;
        case Kind::kSubsample: {
          using torch::indexing::None;
          using torch::indexing::Slice;
          out = dequantized(x).index({Slice(), Slice(), Slice(0, None, step.stride), Slice(0, None, step.stride)});
          break;
        }
        case Kind::kPadChannels:
          out = torch::constant_pad_nd(dequantized(x), {0, 0, 0, 0, step.pad_before, step.pad_after});
          break;
        case Kind::kGlobalAveragePool: out = torch::adaptive_avg_pool2d(dequantized(x), {1, 1}).flatten(1); break;
      }
      values[step.output] = out;
    }
  } catch (const c10::Error& error) {
    fail("LibTorch's {} engine failed: {}", int8_engine_name(engine_), first_line(error.what_without_backtrace()));
  }
  return values;
}

}  // namespace qx::deploy
