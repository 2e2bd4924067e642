#pragma once
// Quantizers: the parameter half of quantization. A quantizer decides the integer grid for each
// kind of tensor (signed or not, per tensor or per output channel), turns the range an observer
// chose into scale and zero point on that grid, and applies them. It never sees statistics
// beyond that range, and the engine, not the quantizer, decides where it is applied.
#include <functional>
#include <memory>
#include <string>

#include <torch/torch.h>

#include "qx/core/options.h"
#include "qx/quant/grid.h"
#include "qx/quant/observer.h"
#include "qx/quant/qparams.h"

namespace qx::quant {

enum class TensorRole { kWeight, kActivation };

const char* role_name(TensorRole role);

class Quantizer {
 public:
  virtual ~Quantizer() = default;
  // The grid for a tensor of this role at `bits`. The engine gives it to the observer (which
  // range fits this grid?) and back to qparams(). Weights are [out_channels, ...]: axis 0.
  virtual QuantSpec spec(TensorRole role, int bits) const = 0;
  // Scale and zero point for a range: torch.ao's arithmetic unless a quantizer needs another.
  virtual QParams qparams(const Range& range, const QuantSpec& spec) const {
    return compute_qparams(range.min, range.max, spec);
  }
  // False for quantizers that do not map to scale, zero point and an integer grid (float16):
  // passes that learn rounding or step sizes refuse them.
  virtual bool integer_grid() const { return true; }
  // Quantize-dequantize through ATen's fake-quant kernels.
  virtual torch::Tensor apply(const torch::Tensor& x, const QParams& qparams) const {
    return fake_quantize(x, qparams);
  }
};

// The one place a site's grid is decided: the quantizer's spec() for the role at the width the
// cell gives the site, checked (a width in [kMinBits, kMaxBits], an activation per tensor, a
// weight per tensor or along axis 0). The spec's width is the site's: a quantizer may narrow it
// (the pytorch quantizer's x86 activations). Fails in one line naming `where`.
QuantSpec resolve_spec(const Quantizer& quantizer, TensorRole role, int bits, const std::string& where);

using QuantizerFactory = std::function<std::unique_ptr<Quantizer>(const Options&)>;

}  // namespace qx::quant
