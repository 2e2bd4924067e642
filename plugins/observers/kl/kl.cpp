// Entropy calibration as TensorRT does it (Migacz 2017, "8-bit Inference with TensorRT"): the
// clipping threshold t whose quantized histogram loses the least information, measured as the
// KL divergence between the reference distribution P (the calibration histogram of |x| up to t,
// with everything beyond t folded into the last bin) and Q (the same bins merged into the grid's
// levels and spread back evenly over the bins that were occupied).
//
// Levels on the clipped side: 2^(b-1) for a symmetric grid, 2^b for an affine grid over
// one-sided data (every ReLU output). Two-sided data on an affine grid is searched on |x| with
// 2^(b-1) levels, an approximation that keeps the search one-dimensional. When the grid has at
// least as many levels as the histogram has bins (16 bits), nothing is clipped.
//
// Exact zeros are left out of P and Q. Every qx grid holds 0 exactly, so they carry no error;
// left in, the ReLU spike at 0 (often half the values) dominates the divergence, and the search
// favours thresholds where each level is a single bin, i.e. the smallest: measured on ResNet20,
// stem_q was clipped at 4.0 instead of 7.6 at 8 bits and layer2.1.mid_q at 0.24 at 4 bits.
//
// Options: bins (default 4096, so |x| gets 2048 bins as in TensorRT), max_candidates (default 512).
#include <cmath>
#include <limits>
#include <vector>

#include "qx/core/error.h"
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"
#include "qx/quant/histogram.h"

namespace {

using namespace qx::quant;

// Normalises to a distribution and moves a little mass onto empty bins, so that KL is finite.
bool smooth(std::vector<double>& distribution) {
  constexpr double kEpsilon = 1e-4;
  double total = 0;
  std::size_t zeros = 0;
  for (double v : distribution) {
    total += v;
    zeros += v == 0.0;
  }
  const std::size_t nonzeros = distribution.size() - zeros;
  if (total <= 0.0 || nonzeros == 0) return false;
  const double taken = kEpsilon * static_cast<double>(zeros) / static_cast<double>(nonzeros);
  for (double& v : distribution) v = v == 0.0 ? kEpsilon : v / total - taken;
  for (double v : distribution) {
    if (v <= 0.0) return false;
  }
  return true;
}

double divergence(const std::vector<double>& p, const std::vector<double>& q) {
  double kl = 0;
  for (std::size_t i = 0; i < p.size(); ++i) kl += p[i] * std::log(p[i] / q[i]);
  return kl;
}

// The number of |x| bins to keep, searched from `levels` to all of them.
std::int64_t best_cut(const std::vector<double>& histogram, std::int64_t levels, std::int64_t max_candidates) {
  const auto bins = static_cast<std::int64_t>(histogram.size());
  const std::int64_t stride = std::max<std::int64_t>(1, (bins - levels) / max_candidates);
  std::int64_t best = bins;
  double best_kl = std::numeric_limits<double>::infinity();
  for (std::int64_t cut = levels; cut <= bins; cut += stride) {
    std::vector<double> p(histogram.begin(), histogram.begin() + cut);
    for (std::int64_t i = cut; i < bins; ++i) p[cut - 1] += histogram[i];
    // Merge the kept bins into `levels` groups, the last one taking the remainder.
    const std::int64_t merged = cut / levels;
    std::vector<double> q(cut, 0.0);
    for (std::int64_t level = 0; level < levels; ++level) {
      const std::int64_t begin = level * merged, end = level == levels - 1 ? cut : begin + merged;
      double mass = 0;
      std::int64_t occupied = 0;
      for (std::int64_t i = begin; i < end; ++i) {
        mass += histogram[i];
        occupied += histogram[i] != 0.0;
      }
      for (std::int64_t i = begin; i < end; ++i) {
        if (histogram[i] != 0.0) q[i] = mass / static_cast<double>(occupied);
      }
    }
    if (!smooth(p) || !smooth(q)) continue;
    // Ties go to the wider range: a distribution the grid already represents exactly (a
    // constant, a few spikes) has KL 0 at every threshold, and clipping it would be pure loss.
    const double kl = divergence(p, q);
    if (kl <= best_kl) {
      best_kl = kl;
      best = cut;
    }
  }
  return best;
}

class KlObserver : public Observer {
 public:
  KlObserver(std::int64_t bins, std::int64_t max_candidates, ObserverContext context)
      : max_candidates_(max_candidates),
        histogram_(bins, context.axis),
        histogram_axis_(context.axis),
        context_(std::move(context)) {}

  void observe(const torch::Tensor& x) override {
    histogram_.add(x);
    const auto zeros = rows_of(x, histogram_axis_).eq(0).sum(1).to(torch::kFloat64);
    zeros_ = zeros_.defined() ? zeros_ + zeros : zeros;
  }

  Range range(const Grid& grid) const override {
    const auto& spec = grid.spec();
    check_target(context_, spec, "kl");
    if (histogram_.empty()) qx::fail("observer 'kl' at {}: nothing was observed", context_.point);
    const auto& seen = histogram_.extremes();
    auto low = seen.min.to(torch::kFloat64).reshape({-1}).clone();
    auto high = seen.max.to(torch::kFloat64).reshape({-1}).clone();
    auto abs_counts = histogram_.abs_counts().contiguous();
    abs_counts.select(1, 0).sub_(zeros_);  // exact zeros sit in the first |x| bin
    const auto abs_bins = abs_counts.size(1);
    const auto width = histogram_.bin_width();
    for (std::int64_t row = 0; row < histogram_.rows(); ++row) {
      const double lo = low[row].item<double>(), hi = high[row].item<double>();
      const bool one_sided = lo >= 0.0 || hi <= 0.0;
      const std::int64_t levels = std::int64_t{1} << (spec.symmetric || !one_sided ? spec.bits - 1 : spec.bits);
      if (levels >= abs_bins) continue;
      const auto* data = abs_counts[row].data_ptr<double>();
      const std::vector<double> histogram(data, data + abs_bins);
      const double threshold = static_cast<double>(best_cut(histogram, levels, max_candidates_)) * width[row].item<double>();
      low[row] = std::max(lo, -threshold);
      high[row] = std::min(hi, threshold);
    }
    return {low.to(torch::kFloat32).view(seen.min.sizes()), high.to(torch::kFloat32).view(seen.max.sizes())};
  }

  void reset() override {
    histogram_.reset();
    zeros_ = torch::Tensor();
  }

 private:
  std::int64_t max_candidates_;
  StreamHistogram histogram_;
  std::int64_t histogram_axis_;
  ObserverContext context_;
  torch::Tensor zeros_;  // float64 [rows]: exact zeros seen per row
};

}  // namespace

QX_PLUGIN(observer, kl, "1.1.0", registrar) {
  registrar.add_observer("kl", [](const qx::Options& options, const ObserverContext& context) {
    const auto bins = options.get_int("bins", 4096);
    const auto candidates = options.get_int("max_candidates", 512);
    if (candidates < 1) qx::fail("{}: max_candidates must be positive, got {}", options.owner(), candidates);
    return std::make_unique<KlObserver>(bins, candidates, context);
  });
}
