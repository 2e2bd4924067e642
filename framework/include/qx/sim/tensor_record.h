#pragma once
// One quantized tensor of a simulated cell, as the results database stores it (cell_tensors).
#include <string>

#include "qx/quant/observer.h"
#include "qx/quant/quantizer.h"

namespace qx::sim {

// Where, at what width, with which parameters, and how faithfully.
struct TensorRecord {
  std::string name;  // weight layer ("layer1.0.conv1") or activation point ("layer1.0.mid_q")
  quant::TensorRole role = quant::TensorRole::kWeight;
  int bits = 0;
  quant::Range range;      // the observer's choice
  quant::QParams qparams;  // the quantizer's answer (or a pass's refinement of it)
  // 10 log10(|x|^2 / |x - q(x)|^2): over the weight, or over the first batch that passed the
  // point after quantize_activations() (the first evaluation batch).
  double sqnr_db = 0.0;
};

}  // namespace qx::sim
