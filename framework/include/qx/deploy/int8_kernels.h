#pragma once
// A cell's model lowered onto LibTorch's own int8 operators, in process: the second integer
// runtime that judges qx's simulation (docs/deployment.md, "LibTorch's int8 kernels"), beside
// onnxruntime on the ONNX export.
//
// The lowering walks the model's graph (qx/nn/graph.h) with the cell's own scales and zero points:
//  * A convolution whose output reaches an activation point through nothing but a folded
//    BatchNorm and a ReLU runs as `quantized::conv2d` or `quantized::conv2d_relu`: quint8 input,
//    qint8 weight codes prepacked per output channel (or per tensor, as the cell's grid is), the
//    float bias (the kernels round it to the int32 grid s_in * s_w), and its output requantized
//    straight onto that activation point's grid. This is the pattern torch.ao's converted models
//    run, and the one onnxruntime fuses into QLinearConv.
//  * Every other weight layer (the second convolution of a residual block, whose output meets the
//    shortcut before anything quantizes it, and the classifier, whose logits are not quantized)
//    runs in float on its dequantized input and dequantized codes, which is what onnxruntime does
//    with the same layers. integer_layers() and float_layers() list which is which.
//  * An activation point on a float value is quantize_per_tensor; on a value already quantized it
//    requantizes (through float, as LibTorch has no integer requantize operator).
//  * Grids narrower than their container keep their own range: a 4-bit activation is a quint8
//    tensor whose codes are clamped to [0, 15] after each kernel, a 4-bit weight is qint8 codes in
//    [-8, 7]. A signed activation grid [qmin, qmax] becomes quint8 with its zero point moved by
//    -qmin (the same values), an unsigned weight grid qint8 with its codes moved by -128.
//  * Refused in one line: a float cell, a grid wider than 8 bits, a quantizer without an integer
//    grid, and on onednn a weight with nonzero zero points (onednn takes symmetric weights only).
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "qx/nn/graph.h"
#include "qx/sim/quant_sim.h"

namespace qx::deploy {

enum class Int8Engine { kQnnpack, kOnednn };

// "qnnpack" or "onednn"; parse_int8_engine throws qx::Error naming the others.
const char* int8_engine_name(Int8Engine engine);
Int8Engine parse_int8_engine(const std::string& name);

// While alive, LibTorch's quantized operators run on `engine` (a process-wide setting in ATen).
class QuantizedEngineScope {
 public:
  explicit QuantizedEngineScope(Int8Engine engine);
  ~QuantizedEngineScope();
  QuantizedEngineScope(const QuantizedEngineScope&) = delete;
  QuantizedEngineScope& operator=(const QuantizedEngineScope&) = delete;

 private:
  at::QEngine previous_;
};

class Int8Model {
 public:
  // Prepacks every integer layer from `sim` as its cell quantized it; the model keeps its own
  // copies, so `sim` may go after. Throws qx::Error with the refusal.
  Int8Model(sim::QuantSim& sim, Int8Engine engine);

  // Logits [N, classes] in float32 for normalised images [N, 3, H, W] on the CPU.
  torch::Tensor forward(const torch::Tensor& images) const;
  // Every value the lowered graph writes, by the graph's names, dequantized where it is quantized.
  std::map<std::string, torch::Tensor> forward_values(const torch::Tensor& images) const;

  Int8Engine engine() const { return engine_; }
  const std::vector<std::string>& integer_layers() const { return integer_layers_; }
  const std::vector<std::string>& float_layers() const { return float_layers_; }

 private:
  // One step of the lowered graph.
  struct Step {
    enum class Kind { kQuantize, kIntegerConv, kFloatConv, kFloatLinear, kBatchNorm, kRelu, kAdd, kSubsample,
                      kPadChannels, kGlobalAveragePool, kAlias };
    Kind kind = Kind::kAlias;
    std::vector<std::string> inputs;
    std::string output;
    // kQuantize and kIntegerConv: the output grid, as a quint8 scale and zero point, and the
    // highest code the grid allows (255 for a full 8-bit grid).
    double scale = 1;
    std::int64_t zero_point = 0, code_max = 255;
    bool relu = false;         // kIntegerConv: conv2d_relu
    c10::IValue packed;        // kIntegerConv: the prepacked weight and bias
    torch::Tensor weight, bias;  // the float layers: dequantized codes and bias; kBatchNorm: g and beta
    torch::Tensor mean, var;     // kBatchNorm: its running statistics
    double eps = 0;
    std::int64_t stride = 1, padding = 0, pad_before = 0, pad_after = 0;
  };

  // Every value the steps write, quantized ones as LibTorch holds them.
  std::map<std::string, torch::Tensor> run_steps(const torch::Tensor& images) const;
  struct Lowering;
  void lower(sim::QuantSim& sim, const std::vector<nn::GraphOp>& graph);
  // graph[i], a convolution, as one integer kernel call with what follows it, or in float.
  void lower_conv(Lowering& state, std::size_t i, Step& step);

  Int8Engine engine_;
  std::vector<Step> steps_;
  std::string logits_;
  std::vector<std::string> integer_layers_, float_layers_;
};

}  // namespace qx::deploy
