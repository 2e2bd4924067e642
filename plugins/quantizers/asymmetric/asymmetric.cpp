// Affine quantization on an unsigned grid [0, 2^b - 1] with a zero point, one scale per tensor
// for weights and activations alike. The zero point lets a one-sided range (a ReLU output) use
// every level; the price is a zero-point term in integer arithmetic.
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"
#include "qx/quant/quantizer.h"

namespace {

using namespace qx::quant;

class AsymmetricQuantizer : public Quantizer {
 public:
  QuantSpec spec(TensorRole, int bits) const override { return QuantSpec{bits, /*symmetric=*/false, /*axis=*/-1}; }
};

}  // namespace

QX_PLUGIN(quantizer, asymmetric, "1.0.0", registrar) {
  registrar.add_quantizer("asymmetric", [](const qx::Options&) { return std::make_unique<AsymmetricQuantizer>(); });
}
