#pragma once
// The grid an observer fits a range to: a site's QuantSpec together with the quantizer that turns
// ranges into scale and zero point on it. Observers that search for a clipping range (mse,
// lp_norm, kl, percentile's neighbours) score each candidate with the grid's own qparams(), so the
// arithmetic of the search is the quantizer's, the same that then quantizes the site.
#include <torch/torch.h>

#include "qx/quant/qparams.h"

namespace qx::quant {

class Quantizer;

class Grid {
 public:
  // Without a quantizer (an observer used on its own, as the tests do) the qparams are
  // compute_qparams()', torch.ao's arithmetic. A quantizer given must outlive the grid.
  explicit Grid(QuantSpec spec, const Quantizer* quantizer = nullptr) : spec_(spec), quantizer_(quantizer) {}

  const QuantSpec& spec() const { return spec_; }
  // Scale and zero point for ranges [min, max]: scalars, or [K] tensors of candidates (each
  // entry is one range on this grid, whatever the spec's axis).
  QParams qparams(const torch::Tensor& min, const torch::Tensor& max) const;

 private:
  QuantSpec spec_;
  const Quantizer* quantizer_;
};

}  // namespace qx::quant
