// Weights: symmetric, one scale per output channel (axis 0), so a channel with small weights is
// not quantized on the grid of the largest channel, which matters most after BatchNorm folding
// multiplies each channel by its own gamma / sigma. Activations: affine, per tensor, because a
// per-channel activation scale cannot be folded into an integer convolution's accumulator.
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"
#include "qx/quant/quantizer.h"

namespace {

using namespace qx::quant;

class PerChannelQuantizer : public Quantizer {
 public:
  QuantSpec spec(TensorRole role, int bits) const override {
    if (role == TensorRole::kWeight) return QuantSpec{bits, /*symmetric=*/true, /*axis=*/0};
    return QuantSpec{bits, /*symmetric=*/false, /*axis=*/-1};
  }
};

}  // namespace

QX_PLUGIN(quantizer, per_channel, "1.0.0", registrar) {
  registrar.add_quantizer("per_channel", [](const qx::Options&) { return std::make_unique<PerChannelQuantizer>(); });
}
