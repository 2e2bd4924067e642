// Half precision instead of an integer grid: every weight and activation is rounded to IEEE
// float16 and back (round to nearest even, as a cast does), the float16 row of the PTQ comparison.
// Only 16 bits make sense; the observed range is recorded but plays no part, since float16 spaces
// its levels by magnitude and needs no scale (values beyond 65504 would overflow to infinity).
#include "qx/core/error.h"
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"
#include "qx/quant/quantizer.h"

namespace {

using namespace qx::quant;

class Float16Quantizer : public Quantizer {
 public:
  QuantSpec spec(TensorRole role, int bits) const override {
    if (bits != 16) qx::fail("quantizer 'float16' stores {}s in 16 bits, not {}", role_name(role), bits);
    return QuantSpec{bits, /*symmetric=*/true, /*axis=*/-1};
  }
  bool integer_grid() const override { return false; }
  QParams qparams(const Range&, const QuantSpec& spec) const override {
    return QParams{torch::ones({}), torch::zeros({}, torch::kInt32), spec.qmin(), spec.qmax(), -1};
  }
  torch::Tensor apply(const torch::Tensor& x, const QParams&) const override {
    return x.to(torch::kHalf).to(x.scalar_type());
  }
};

}  // namespace

QX_PLUGIN(quantizer, float16, "1.0.0", registrar) {
  registrar.add_quantizer("float16", [](const qx::Options&) { return std::make_unique<Float16Quantizer>(); });
}
