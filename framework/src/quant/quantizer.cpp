#include "qx/quant/quantizer.h"

#include "qx/core/error.h"

namespace qx::quant {

const char* role_name(TensorRole role) { return role == TensorRole::kWeight ? "weight" : "activation"; }

QuantSpec resolve_spec(const Quantizer& quantizer, TensorRole role, int bits, const std::string& where) {
  const auto spec = quantizer.spec(role, bits);
  spec.validate(where);
  if (role == TensorRole::kActivation && spec.axis >= 0) {
    fail("{}: the quantizer asks for a per-channel activation grid (axis {}); activations are quantized per tensor",
         where, spec.axis);
  }
  if (role == TensorRole::kWeight && spec.axis > 0) {
    fail("{}: the quantizer asks for weight channels along axis {}; weights are per tensor or per output channel (axis 0)",
         where, spec.axis);
  }
  return spec;
}

QParams Grid::qparams(const torch::Tensor& min, const torch::Tensor& max) const {
  return quantizer_ ? quantizer_->qparams(Range{min, max}, spec_) : compute_qparams(min, max, spec_);
}

}  // namespace qx::quant
