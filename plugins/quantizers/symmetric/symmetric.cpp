// Symmetric quantization on a signed grid [-2^(b-1), 2^(b-1) - 1] with zero point 0, one scale per
// tensor for weights and activations alike. Integer kernels need no zero-point terms, but a
// one-sided range (every ReLU output here) leaves the negative half of the grid unused: an 8-bit
// activation gets 7 bits of resolution, a 2-bit one gets two levels, 0 and +1 step.
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"
#include "qx/quant/quantizer.h"

namespace {

using namespace qx::quant;

class SymmetricQuantizer : public Quantizer {
 public:
  QuantSpec spec(TensorRole, int bits) const override { return QuantSpec{bits, /*symmetric=*/true, /*axis=*/-1}; }
};

}  // namespace

QX_PLUGIN(quantizer, symmetric, "1.0.0", registrar) {
  registrar.add_quantizer("symmetric", [](const qx::Options&) { return std::make_unique<SymmetricQuantizer>(); });
}
