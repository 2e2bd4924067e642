// The clipping range that minimises the expected quantization error for the target grid.
//
// Clipping trades two errors: values beyond the range are clamped (error grows with their
// distance), values inside are rounded (error Δ²/12 each, Δ the step, which grows with the range).
// For each candidate range the expected squared error over the calibration histogram is
//     Σ count(c) · { (c - edge)²  if c is clamped,   Δ²/12  otherwise }
// with the candidate's real scale and zero point, so the integer grid's asymmetry (the symmetric
// grid's missing +2^(b-1)) and zero-point rounding are part of the search. Candidates shrink the
// observed range in `candidates` even steps: [-a, a] for symmetric grids; for affine grids the
// upper end alone for one-sided data and both ends independently (32 steps each) for two-sided data.
//
// Options: candidates (default 100), bins (default 4096).
#include "qx/core/error.h"
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"
#include "qx/quant/histogram.h"

namespace {

using namespace qx::quant;

constexpr std::int64_t kPairSteps = 32;  // 32 x 32 candidate pairs x 4096 bins: 32 MB of float64

// Expected squared error of each candidate range [low_k, high_k] on one row's histogram.
torch::Tensor expected_error(const torch::Tensor& counts, const torch::Tensor& centers, const torch::Tensor& low,
                             const torch::Tensor& high, const QuantSpec& spec) {
  const auto q = compute_qparams(low, high, spec);
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

  Range range(const QuantSpec& spec) const override {
    check_target(context_, spec, "mse");
    if (histogram_.empty()) qx::fail("observer 'mse' at {}: nothing was observed", context_.point);
    const auto& seen = histogram_.extremes();
    const auto seen_min = seen.min.to(torch::kFloat64).reshape({-1});
    const auto seen_max = seen.max.to(torch::kFloat64).reshape({-1});
    const auto centers = histogram_.centers();
    const auto fractions = torch::arange(1, candidates_ + 1, torch::kFloat64) / static_cast<double>(candidates_);
    auto low = torch::empty({histogram_.rows()}, torch::kFloat64), high = torch::empty_like(low);
    for (std::int64_t row = 0; row < histogram_.rows(); ++row) {
      const double lo = seen_min[row].item<double>(), hi = seen_max[row].item<double>();
      torch::Tensor low_k, high_k;
      if (spec.symmetric) {
        high_k = fractions * std::max(-lo, hi);
        low_k = -high_k;
      } else if (lo >= 0.0 || hi <= 0.0) {  // one-sided: only the far end moves
        low_k = fractions * std::min(lo, 0.0);
        high_k = fractions * std::max(hi, 0.0);
      } else {  // two-sided affine: every pair of shrunk ends, on a coarser grid to bound memory
        const auto coarse = torch::linspace(1.0 / kPairSteps, 1.0, kPairSteps, torch::kFloat64);
        const auto grid = torch::meshgrid({coarse * lo, coarse * hi}, "ij");
        low_k = grid[0].flatten();
        high_k = grid[1].flatten();
      }
      const auto error = expected_error(histogram_.counts()[row], centers[row], low_k, high_k, spec);
      const auto best = error.argmin().item<std::int64_t>();
      low[row] = low_k[best];
      high[row] = high_k[best];
    }
    return {low.to(torch::kFloat32).view(seen.min.sizes()), high.to(torch::kFloat32).view(seen.max.sizes())};
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
