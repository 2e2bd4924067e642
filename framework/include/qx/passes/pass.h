#pragma once
// Passes: the third plugin kind of the quantization engine, next to observers (statistics) and
// quantizers (parameters). A pass transforms the simulated model or its quantization parameters,
// using calibration data: cross-layer equalization, bias correction, AdaRound, block
// reconstruction, quantization-aware training. An experiment lists passes per cell, in order;
// each one runs at the stage it declares:
//
//   fold BatchNorm -> [kFloatModel passes] -> calibrate -> quantize weights and activations
//                  -> [kQuantizedModel passes] -> evaluate
//
// kFloatModel passes change the float model the observers then see (equalization). The others
// see a fully quantized simulation and refine it (rounding, biases, step sizes). docs/passes.md
// describes each pass and what it buys.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "qx/core/options.h"
#include "qx/nn/model.h"
#include "qx/quant/quantizer.h"
#include "qx/spec/cell.h"

namespace qx::data {
struct Dataset;  // qx/data/cifar10.h, for the passes that train
}
namespace qx::sim {
class QuantSim;
}

namespace qx::passes {

enum class PassStage { kFloatModel, kQuantizedModel };

struct PassContext {
  QuantizableModel& model;
  sim::QuantSim& sim;
  const std::vector<torch::Tensor>& calibration;  // normalised training images, on the model's device
  const data::Dataset* train_set;                // the whole training set (uint8), for training passes
  std::int64_t seed;                             // the cell's seed, for passes that draw random numbers
  std::string name;                              // "pass 'adaround'", for messages
  // Where a pass that trains for long may keep its progress, so that a run of the cell stopped
  // part way (killed, out of time) goes on from there the next time; empty: keep none. The file
  // is the cell's and this pass's alone; the pass removes it once it has finished.
  std::string resume_file = {};
  std::string report = {};                       // JSON the pass may leave for the database (curves, per-unit errors)
};

class Pass {
 public:
  virtual ~Pass() = default;
  virtual PassStage stage() const = 0;
  // Called while the experiment is validated, before any cell runs: throw qx::Error when this
  // cell (its quantizer, BatchNorm folding, model) cannot be served.
  virtual void check(const spec::CellSpec& cell, const quant::Quantizer& quantizer, QuantizableModel& model) const {
    (void)cell, (void)quantizer, (void)model;
  }
  virtual void run(PassContext& context) = 0;
};

using PassFactory = std::function<std::unique_ptr<Pass>(const Options&)>;

}  // namespace qx::passes
