#pragma once
// Quantization simulation of a model plugin for one experiment cell.
//
// The three concerns stay apart: observers (plugins) collect statistics, the quantizer (a plugin)
// turns the range an observer picks into scale and zero point and applies them, and this class
// decides where: every weight layer's weight, and every QuantPoint of the model, i.e. the input
// of every conv/linear layer and every residual sum (docs/quantization.md, "Where a model is quantized").
//
// Order of work for a cell, on a freshly loaded float model in eval mode:
//   1. fold BatchNorm into the preceding convolutions (unless the cell switches it off);
//   2. passes::run_passes(kFloatModel): passes that change the float model (equalization);
//   3. calibrate(): float forward passes over the calibration batches with an observer on every
//      activation point; a NaN or Inf there stops the cell with the point's name;
//   4. quantize_weights(): one observer pass per weight, then the weight is replaced by its
//      quantize-dequantized copy, once for the whole cell;
//   5. quantize_activations(): fake-quant hooks at every activation point for evaluation;
//   6. passes::run_passes(kQuantizedModel): passes that refine the simulation (rounding, biases,
//      steps). The passes (passes/runner.h) sit above this class: it never sees them.
// A cell with quantize = false does none of this: the float model is evaluated as it is.
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "qx/nn/model.h"
#include "qx/quant/quantizer.h"
#include "qx/quant/source.h"
#include "qx/sim/tensor_record.h"
#include "qx/spec/cell.h"

namespace qx::sim {

// A weight layer as the simulation sees it. Passes read and refine these.
struct WeightSite {
  std::string name;
  std::shared_ptr<torch::nn::Module> module;
  bool is_conv = true;
  torch::Tensor weight;  // the module's parameter: quantize-dequantized values once quantized
  quant::QuantSpec spec;  // quant::resolve_spec()'s: spec.bits is the site's one width
  quant::Range range;
  quant::QParams qparams;
};

// An activation point as the simulation sees it.
struct ActivationSite {
  std::string name;
  std::shared_ptr<nn::QuantPointImpl> point;
  quant::QuantSpec spec;  // quant::resolve_spec()'s: spec.bits is the site's one width
  std::shared_ptr<quant::Observer> observer;
  quant::Range range;
  quant::QParams qparams;
  torch::Tensor signal, noise;  // float64 sums over the first batch after quantize_activations()
  std::int64_t measured_batches = 0;
};

class QuantSim {
 public:
  // `provider` creates the cell's observers and quantizer (the plugin host, in qx).
  QuantSim(QuantizableModel& model, const quant::ObserverQuantizerSource& provider, spec::CellSpec cell);
  ~QuantSim();
  QuantSim(const QuantSim&) = delete;
  QuantSim& operator=(const QuantSim&) = delete;

  // Images must already be normalised and on the model's device. Also snapshots the float model
  // (after folding and float-model passes), which FloatScope brings back.
  void calibrate(const std::vector<torch::Tensor>& batches);
  // Activation statistics depend only on the observer, BatchNorm folding, the float-model passes
  // and the float weights, not on the quantizer or the bit widths; cells that share those reuse
  // one calibration.
  std::vector<std::shared_ptr<quant::Observer>> activation_observers() const;
  void adopt_calibration(const std::vector<std::shared_ptr<quant::Observer>>& observers);
  void quantize_weights();
  void quantize_activations();

  // While alive, the model is the float model (float weights and biases, no activation hooks);
  // the simulated state comes back when it ends.
  class FloatScope {
   public:
    explicit FloatScope(QuantSim& sim);
    ~FloatScope();
    FloatScope(const FloatScope&) = delete;
    FloatScope& operator=(const FloatScope&) = delete;

   private:
    QuantSim& sim_;
    std::map<std::string, torch::Tensor> simulated_;
    std::vector<std::shared_ptr<nn::ActivationHook>> hooks_;  // each point's, put back as they were
  };

  const spec::CellSpec& cell() const { return cell_; }
  QuantizableModel& model() { return model_; }
  const quant::Quantizer& quantizer() const { return *quantizer_; }
  std::vector<WeightSite>& weight_sites() { return weights_; }
  // Where the model runs: learned quantization parameters must live there too.
  torch::Device device() const { return weights_.front().weight.device(); }
  std::vector<std::shared_ptr<ActivationSite>>& activation_sites() { return sites_; }
  WeightSite& weight_site(const std::string& layer);
  ActivationSite& activation_site(const std::string& point);
  // nullptr for a point the cell leaves unquantized (a re-quantizing point with nothing to do).
  ActivationSite* find_activation_site(const std::string& point);
  // The activation point whose output a weight layer reads.
  ActivationSite& input_site(const std::string& layer);
  // Re-quantizes one weight layer from its float value at a new width (mixed precision), its grid
  // resolved as every site's is (quant::resolve_spec).
  void set_weight_bits(const std::string& layer, int bits);
  // The float value of a weight, as it was before quantize_weights().
  const torch::Tensor& float_weight(const std::string& layer) const;

  // Weights first, then activation points in execution order.
  std::vector<TensorRecord> records() const;
  // Forgets the activation SQNR measured so far: passes may have run the quantized model, and
  // the recorded SQNR is the first evaluation batch's.
  void forget_measurements();

 private:
  void quantize_weight(WeightSite& site, const torch::Tensor& float_weight);
  int weight_bits(const std::string& layer) const;
  int activation_bits(const std::vector<std::string>& feeds) const;

  QuantizableModel& model_;
  const quant::ObserverQuantizerSource& provider_;
  spec::CellSpec cell_;
  std::shared_ptr<quant::Quantizer> quantizer_;
  std::vector<std::shared_ptr<ActivationSite>> sites_;
  std::vector<WeightSite> weights_;
  std::map<std::string, torch::Tensor> float_state_;  // parameters and buffers, by name
};

// Fails on settings that no model could run: bit widths, overrides of layers the model lacks.
void validate_cell(const spec::CellSpec& cell, QuantizableModel& model, const std::string& where);

}  // namespace qx::sim
