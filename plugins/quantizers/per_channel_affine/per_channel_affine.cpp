// Weights: affine, one scale and zero point per output channel (axis 0), the grid spanning each
// channel's own [min, max]. Activations: affine, per tensor, as `per_channel`.
//
// The symmetric signed grid of b bits is [-2^(b-1), 2^(b-1) - 1] steps around zero, the step set
// by the channel's largest magnitude a: at 2 bits the levels are -4a/3, -2a/3, 0 and 2a/3. No
// weight lies beyond -a, and only a tie at exactly -a rounds to the bottom level, so the weights
// are in effect ternary. An affine grid over [min, max], zero kept exactly on the grid, gives the
// same levels for a channel balanced around zero; after BatchNorm folding few channels are
// (the weight histograms of docs/results/histograms.md show how lopsided), and for a lopsided
// channel all four levels fall inside its range. BRECQ and QDrop quantize
// weights this way (per channel, asymmetric); the price is a zero-point term per output channel in
// an integer convolution's accumulator.
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"
#include "qx/quant/quantizer.h"

namespace {

using namespace qx::quant;

class PerChannelAffineQuantizer : public Quantizer {
 public:
  QuantSpec spec(TensorRole role, int bits) const override {
    return QuantSpec{bits, /*symmetric=*/false, /*axis=*/role == TensorRole::kWeight ? 0 : -1};
  }
};

}  // namespace

QX_PLUGIN(quantizer, per_channel_affine, "1.0.0", registrar) {
  registrar.add_quantizer("per_channel_affine",
                          [](const qx::Options&) { return std::make_unique<PerChannelAffineQuantizer>(); });
}
