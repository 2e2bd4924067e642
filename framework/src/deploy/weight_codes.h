#pragma once
// A quantized weight as integer codes: what every integer runtime stores (the ONNX export's
// initializers, the int8 kernels' prepacked weights). Private to deploy/.
#include <string>

#include <torch/torch.h>

#include "qx/sim/quant_sim.h"

namespace qx::deploy {

struct WeightCodes {
  torch::Tensor codes;       // int64, the weight's shape, in [qmin, qmax]
  torch::Tensor scale;       // float32 [channels] (axis >= 0) or []
  torch::Tensor zero_point;  // int64, the shape of scale
  std::int64_t qmin = 0, qmax = 0, axis = -1;
  torch::Tensor dequantized() const;  // (codes - zero_point) * scale, float32
};

// The codes of `site`'s simulated weight. Throws "cannot <action> '<layer>': ..." for a weight that
// is off its grid by more than a thousandth of a step (the codes would not reproduce the cell).
WeightCodes weight_codes(const sim::WeightSite& site, const std::string& action);

}  // namespace qx::deploy
