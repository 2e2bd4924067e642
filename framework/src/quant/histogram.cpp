#include "qx/quant/histogram.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "qx/core/error.h"

namespace qx::quant {

namespace {
// A zero tensor still needs a non-empty range to bin into.
constexpr double kSmallestRadius = 1e-12;
}  // namespace

torch::Tensor rows_of(const torch::Tensor& x, std::int64_t axis) {
  const auto values = x.detach().to(torch::kFloat64);
  if (axis < 0) return values.reshape({1, -1});
  return values.transpose(0, axis).flatten(1);
}

StreamHistogram::StreamHistogram(std::int64_t bins, std::int64_t axis) : bins_(bins), axis_(axis) {
  if (bins < 8 || bins % 4 != 0) fail("histogram bins must be a multiple of 4 and at least 8, got {}", bins);
}

void StreamHistogram::reset() {
  counts_ = torch::Tensor();
  radius_ = torch::Tensor();
  extremes_ = Range{};
}

void StreamHistogram::add(const torch::Tensor& x) {
  const auto rows = rows_of(x, axis_);
  const auto batch = tensor_min_max(x, axis_);
  const auto largest = torch::maximum(rows.abs().amax(1), torch::full({rows.size(0)}, kSmallestRadius, torch::kFloat64));
  if (empty()) {
    counts_ = torch::zeros({rows.size(0), bins_}, torch::kFloat64);
    radius_ = largest.clone();
    extremes_ = batch;
  } else {
    if (rows.size(0) != counts_.size(0)) fail("histogram: {} rows, then {}", counts_.size(0), rows.size(0));
    extremes_ = {torch::minimum(extremes_.min, batch.min), torch::maximum(extremes_.max, batch.max)};
    const auto needed = largest.accessor<double, 1>();
    for (std::int64_t row = 0; row < rows.size(0); ++row) {
      if (needed[row] > radius_[row].item<double>()) grow(row, needed[row]);
    }
  }
  const auto width = bin_width().unsqueeze(1);
  auto index = ((rows + radius_.unsqueeze(1)) / width).floor().clamp(0, static_cast<double>(bins_ - 1)).to(torch::kInt64);
  index += torch::arange(rows.size(0), torch::kInt64).unsqueeze(1) * bins_;
  counts_ += torch::bincount(index.flatten(), {}, rows.size(0) * bins_).to(torch::kFloat64).view({rows.size(0), bins_});
}

void StreamHistogram::grow(std::int64_t row, double needed) {
  auto counts = counts_[row];
  double radius = radius_[row].item<double>();
  while (radius < needed) {
    // Doubling R doubles the bin width: old bins pair up into the middle half of the new range.
    const auto merged = counts.view({bins_ / 2, 2}).sum(1);
    auto grown = torch::zeros_like(counts);
    grown.slice(0, bins_ / 4, 3 * bins_ / 4).copy_(merged);
    counts = grown;
    radius *= 2.0;
  }
  counts_[row].copy_(counts);
  radius_[row] = radius;
}

torch::Tensor StreamHistogram::centers() const {
  const auto offsets = torch::arange(bins_, torch::kFloat64).add_(0.5).unsqueeze(0);
  return offsets * bin_width().unsqueeze(1) - radius_.unsqueeze(1);
}

torch::Tensor StreamHistogram::abs_counts() const {
  const auto half = bins_ / 2;
  return counts_.slice(1, half, bins_) + counts_.slice(1, 0, half).flip(1);
}

Range minimise_clipping_error(const StreamHistogram& histogram, const Grid& grid, std::int64_t candidates,
                              const ClippingError& error, std::int64_t block_bytes) {
  const auto bytes_per_candidate = histogram.bins() * static_cast<std::int64_t>(sizeof(double));
  const auto per_block = std::max<std::int64_t>(1, block_bytes / bytes_per_candidate);
  constexpr std::int64_t kPairSteps = 32;  // 32 x 32 candidate pairs
  const auto& seen = histogram.extremes();
  const auto seen_min = seen.min.to(torch::kFloat64).reshape({-1});
  const auto seen_max = seen.max.to(torch::kFloat64).reshape({-1});
  const auto centers = histogram.centers();
  const auto fractions = torch::arange(1, candidates + 1, torch::kFloat64) / static_cast<double>(candidates);
  auto low = torch::empty({histogram.rows()}, torch::kFloat64), high = torch::empty_like(low);
  for (std::int64_t row = 0; row < histogram.rows(); ++row) {
    const double lo = seen_min[row].item<double>(), hi = seen_max[row].item<double>();
    torch::Tensor low_k, high_k;
    if (grid.spec().symmetric) {
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
    const auto row_counts = histogram.counts()[row], row_centers = centers[row];
    std::vector<torch::Tensor> blocks;
    for (std::int64_t start = 0; start < low_k.size(0); start += per_block) {
      const auto end = std::min(start + per_block, low_k.size(0));
      blocks.push_back(error(row_counts, row_centers, low_k.slice(0, start, end), high_k.slice(0, start, end), grid));
    }
    const auto errors = torch::cat(blocks);
    const auto best = errors.argmin().item<std::int64_t>();
    low[row] = low_k[best];
    high[row] = high_k[best];
  }
  return {low.to(torch::kFloat32).view(seen.min.sizes()), high.to(torch::kFloat32).view(seen.max.sizes())};
}

ClippingError rounded_clipping_error(double p) {
  return [p](const torch::Tensor& counts, const torch::Tensor& centers, const torch::Tensor& low,
             const torch::Tensor& high, const Grid& grid) {
    const auto q = grid.qparams(low, high);
    const auto step = q.scale.to(torch::kFloat64).unsqueeze(1);  // [K, 1]
    const auto zero = q.zero_point.to(torch::kFloat64).unsqueeze(1);
    const auto c = centers.unsqueeze(0);                         // [1, B]
    const auto level = (torch::round(c / step) + zero).clamp(static_cast<double>(q.qmin), static_cast<double>(q.qmax));
    const auto rounded = (level - zero) * step;
    return ((c - rounded).abs().pow(p) * counts.unsqueeze(0)).sum(1);  // [K]
  };
}

}  // namespace qx::quant
