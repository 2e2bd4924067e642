// The clipping range that minimises the expected quantization error for the target grid.
//
// Clipping trades two errors: values beyond the range are clamped (error grows with their
// distance), values inside are rounded (error Δ²/12 each, Δ the step, which grows with the range).
// For each candidate range the expected squared error over the calibration histogram is
//     Σ count(c) · { (c - edge)²  if c is clamped,   Δ²/12  otherwise }
// with the candidate's real scale and zero point, so the integer grid's asymmetry (the symmetric
// grid's missing +2^(b-1)) and zero-point rounding are part of the search; the candidates are
// minimise_clipping_error's. The Δ²/12 charge assumes values spread evenly within a step, which
// holds for activations at 4 bits and up; `lp_norm` rounds each bin instead (docs/quantization.md).
//
// Options: candidates (default 100), bins (default 4096).
#include "qx/core/error.h"
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"
#include "qx/quant/histogram.h"

namespace {

using namespace qx::quant;

// Expected squared error of each candidate range [low_k, high_k] on one row's histogram.
torch::Tensor expected_error(const torch::Tensor& counts, const torch::Tensor& centers, const torch::Tensor& low,
                             const torch::Tensor& high, const Grid& grid) {
  const auto q = grid.qparams(low, high);
  const auto step = q.scale.to(torch::kFloat64).unsqueeze(1);                      // [K, 1]
  const auto zero = q.zero_point.to(torch::kFloat64).unsqueeze(1);
  const auto lowest = (static_cast<double>(q.qmin) - zero) * step;                 // representable ends
  const auto highest = (static_cast<double>(q.qmax) - zero) * step;
  const auto c = centers.unsqueeze(0);                                             // [1, B]
  const auto clamped = (c - c.clamp(lowest, highest)).square();
  const auto inside = (c >= lowest) & (c <= highest);
  const auto error = torch::where(inside, step.square() / 12.0, clamped);
  return (error * counts.unsqueeze(0)).sum(1);                                     // [K]
}

class MseObserver : public Observer {
 public:
  MseObserver(std::int64_t candidates, std::int64_t bins, ObserverContext context)
      : candidates_(candidates), histogram_(bins, context.axis), context_(std::move(context)) {}

  void observe(const torch::Tensor& x) override { histogram_.add(x); }

  Range range(const Grid& grid) const override {
    check_target(context_, grid.spec(), "mse");
    if (histogram_.empty()) qx::fail("observer 'mse' at {}: nothing was observed", context_.point);
    return minimise_clipping_error(histogram_, grid, candidates_, expected_error);
  }

  void reset() override { histogram_.reset(); }

 private:
  std::int64_t candidates_;
  StreamHistogram histogram_;
  ObserverContext context_;
};

}  // namespace

QX_PLUGIN(observer, mse, "1.0.0", registrar) {
  registrar.add_observer("mse", [](const qx::Options& options, const ObserverContext& context) {
    const auto candidates = options.get_int("candidates", 100);
    if (candidates < 2 || candidates > 1000) qx::fail("{}: candidates must be in [2, 1000], got {}", options.owner(), candidates);
    const auto bins = options.get_int("bins", 4096);
    return std::make_unique<MseObserver>(candidates, bins, context);
  });
}
