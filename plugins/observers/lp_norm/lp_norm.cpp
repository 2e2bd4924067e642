// The clipping range that minimises the Lp norm of the quantization error, each value rounded on
// the candidate's grid: Σ count(c) · |c - Q(c)|^p over the histogram's bin centres, Q the
// candidate's fake-quantization (round to nearest, clamp to the grid).
//
// `mse` charges every value inside the range Δ²/12, the error of values spread evenly within a
// step. Weights at 2 and 3 bits are not: most of a channel's weights sit within a step of zero and
// round with far less error, so that model overcharges wide ranges. Rounding each bin charges what
// the grid really does. It is still the tensor's error, not the network's: as final weight ranges
// it clips the few large weights harder than the network tolerates, as the starting point of a
// block reconstruction it is what BRECQ (Li et al. 2021, p = 2.4) uses (docs/passes.md).
// p > 2 weighs the large errors more.
//
// Options: p (default 2.0, in [1, 4]), candidates (default 100), bins (default 4096).
#include "qx/core/error.h"
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"
#include "qx/quant/histogram.h"

namespace {

using namespace qx::quant;

class LpNormObserver : public Observer {
 public:
  LpNormObserver(double p, std::int64_t candidates, std::int64_t bins, ObserverContext context)
      : error_(rounded_clipping_error(p)),
        candidates_(candidates),
        histogram_(bins, context.axis),
        context_(std::move(context)) {}

  void observe(const torch::Tensor& x) override { histogram_.add(x); }

  Range range(const Grid& grid) const override {
    check_target(context_, grid.spec(), "lp_norm");
    if (histogram_.empty()) qx::fail("observer 'lp_norm' at {}: nothing was observed", context_.point);
    return minimise_clipping_error(histogram_, grid, candidates_, error_);
  }

  void reset() override { histogram_.reset(); }

 private:
  ClippingError error_;
  std::int64_t candidates_;
  StreamHistogram histogram_;
  ObserverContext context_;
};

}  // namespace

QX_PLUGIN(observer, lp_norm, "1.0.0", registrar) {
  registrar.add_observer("lp_norm", [](const qx::Options& options, const ObserverContext& context) {
    return std::make_unique<LpNormObserver>(options.get_double("p", 2.0, 1.0, 4.0),
                                            options.get_int("candidates", 100, 2, 1000), options.get_int("bins", 4096),
                                            context);
  });
}
