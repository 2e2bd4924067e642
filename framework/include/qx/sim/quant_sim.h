#pragma once
// Quantization simulation of a model plugin for one experiment cell.
//
// The three concerns stay apart: observers (plugins) collect statistics, the quantizer (a plugin)
// turns the range an observer picks into scale and zero point and applies them, and this class
// decides where: every weight layer's weight, and every QuantPoint of the model, i.e. the input
// of every conv/linear layer and every residual sum (docs/quantization-points.md).
//
// Order of work for a cell, on a freshly loaded float model in eval mode:
//   1. fold BatchNorm into the preceding convolutions (unless the cell switches it off);
//   2. calibrate(): float forward passes over the calibration batches with an observer on every
//      activation point; a NaN or Inf there stops the cell with the point's name;
//   3. quantize_weights(): one observer pass per weight, then the weight is replaced by its
//      quantize-dequantized copy, once for the whole cell;
//   4. quantize_activations(): fake-quant hooks at every activation point for evaluation.
// A cell with quantize = false does none of this: the float model is evaluated as it is.
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "qx/nn/model.h"
#include "qx/plugin/host.h"
#include "qx/quant/quantizer.h"
#include "qx/sim/cell.h"

namespace qx::sim {

// One quantized tensor: where, at what width, with which parameters, and how faithfully.
struct TensorRecord {
  std::string name;  // weight layer ("layer1.0.conv1") or activation point ("layer1.0.mid_q")
  quant::TensorRole role = quant::TensorRole::kWeight;
  int bits = 0;
  quant::Range range;      // the observer's choice
  quant::QParams qparams;  // the quantizer's answer
  // 10 log10(|x|^2 / |x - q(x)|^2): over the weight, or over the first batch that passed the
  // point after quantize_activations() (the first evaluation batch).
  double sqnr_db = 0.0;
};

class QuantSim {
 public:
  QuantSim(QuantizableModel& model, const PluginHost& host, CellSpec cell);
  ~QuantSim();
  QuantSim(const QuantSim&) = delete;
  QuantSim& operator=(const QuantSim&) = delete;

  // Images must already be normalised and on the model's device.
  void calibrate(const std::vector<torch::Tensor>& batches);
  // Activation statistics depend only on the observer, BatchNorm folding and the float weights,
  // not on the quantizer or the bit widths; cells that share those reuse one calibration.
  std::vector<std::shared_ptr<quant::Observer>> activation_observers() const;
  void adopt_calibration(const std::vector<std::shared_ptr<quant::Observer>>& observers);
  void quantize_weights();
  void quantize_activations();

  // Weights first, then activation points in execution order.
  std::vector<TensorRecord> records() const;

 private:
  struct ActivationSite;

  int weight_bits(const std::string& layer) const;
  int activation_bits(const std::vector<std::string>& feeds) const;

  QuantizableModel& model_;
  const PluginHost& host_;
  CellSpec cell_;
  std::shared_ptr<quant::Quantizer> quantizer_;
  std::vector<std::shared_ptr<ActivationSite>> sites_;
  std::vector<TensorRecord> weights_;
};

// Fails on settings that no model could run: bit widths, overrides of layers the model lacks.
void validate_cell(const CellSpec& cell, QuantizableModel& model, const std::string& where);

}  // namespace qx::sim
