#pragma once
// The statistics behind the histogram-based observers (percentile, mse, kl): one histogram per
// row (a whole tensor, or one output channel), kept over [-R, R] with R per row.
//
// The range must grow as calibration batches arrive, and a histogram rebinned by interpolation
// is no longer the data's histogram. So R only doubles, and the bin count is a multiple of 4:
// every new bin edge is then an old edge and growing merges pairs of bins exactly. The first
// batch sets R to its largest |x|, so one-pass statistics (weights) lose nothing to growth.
#include <cstdint>
#include <functional>

#include <torch/torch.h>

#include "qx/quant/observer.h"

namespace qx::quant {

class StreamHistogram {
 public:
  // axis < 0: one histogram for the whole tensor; else one per index along `axis`.
  StreamHistogram(std::int64_t bins, std::int64_t axis);

  void add(const torch::Tensor& x);
  bool empty() const { return !counts_.defined(); }
  void reset();

  std::int64_t bins() const { return bins_; }
  std::int64_t rows() const { return counts_.size(0); }
  const torch::Tensor& counts() const { return counts_; }  // float64 [rows, bins]
  const torch::Tensor& radius() const { return radius_; }  // float64 [rows]
  torch::Tensor bin_width() const { return radius_ * 2.0 / static_cast<double>(bins_); }  // [rows]
  torch::Tensor centers() const;                            // float64 [rows, bins]
  // Histogram of |x|: bins()/2 bins over [0, R] per row.
  torch::Tensor abs_counts() const;
  // The exact extremes seen, per row (shape [] when per tensor).
  const Range& extremes() const { return extremes_; }

 private:
  void grow(std::int64_t row, double needed);

  std::int64_t bins_;
  std::int64_t axis_;
  torch::Tensor counts_;
  torch::Tensor radius_;
  Range extremes_;
};

// Rows of x along `axis` (axis < 0: a single row), as float64 [rows, values].
torch::Tensor rows_of(const torch::Tensor& x, std::int64_t axis);

// The error of quantizing one row's histogram to each of K candidate ranges [low_k, high_k]
// on the grid (grid.qparams(low, high) gives each candidate's scale and zero point):
// (counts [B], centers [B], low [K], high [K], grid) -> error [K].
using ClippingError = std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&,
                                                  const torch::Tensor&, const Grid&)>;

// The largest float64 temporary the search gives `error` at once: far below glibc's mmap threshold
// (32 MiB at most), so that the [candidates, bins] temporaries are reused from the heap rather than
// mapped, page-faulted and unmapped anew for every row (BM_ClippingSearch measures the two).
constexpr std::int64_t kClippingBlockBytes = 4 << 20;

// The shared search of the error-minimising observers (mse, lp_norm): per row, the candidate range
// with the smallest error. Candidates shrink the observed range in `candidates` even steps:
// [-a, a] for symmetric grids; for affine grids the upper end alone for one-sided data and both
// ends independently (32 steps each) for two-sided data. `error` is called on blocks of
// candidates of at most `block_bytes` of [candidates, bins] float64; each candidate's error is a
// sum over its own bins, so any block size gives the same range, bit for bit.
Range minimise_clipping_error(const StreamHistogram& histogram, const Grid& grid, std::int64_t candidates,
                              const ClippingError& error, std::int64_t block_bytes = kClippingBlockBytes);

// The error of rounding every bin centre c on each candidate's grid: Σ count(c) · |c - Q(c)|^p,
// Q the candidate's fake-quantization (round to nearest, clamp to the grid). lp_norm's error, and
// the one its test and benchmark search with.
ClippingError rounded_clipping_error(double p);

}  // namespace qx::quant
