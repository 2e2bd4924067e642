#include "weight_codes.h"

#include "qx/core/error.h"

namespace qx::deploy {

namespace {

// `values` shaped to broadcast against a weight of `dims` dimensions along `axis`.
torch::Tensor along(const torch::Tensor& values, std::int64_t axis, std::int64_t dims) {
  if (axis < 0) return values.reshape({});
  std::vector<std::int64_t> shape(static_cast<std::size_t>(dims), 1);
  shape[static_cast<std::size_t>(axis)] = -1;
  return values.reshape(shape);
}

}  // namespace

torch::Tensor WeightCodes::dequantized() const {
  const auto dims = codes.dim();
  return ((codes - along(zero_point, axis, dims)).to(torch::kFloat32) * along(scale, axis, dims)).contiguous();
}

WeightCodes weight_codes(const sim::WeightSite& site, const std::string& action) {
  const auto& q = site.qparams;
  WeightCodes out;
  out.qmin = q.qmin;
  out.qmax = q.qmax;
  out.axis = q.axis;
  const auto w = site.weight.detach().to(torch::kCPU, torch::kFloat32);
  out.scale = q.scale.detach().to(torch::kCPU, torch::kFloat32).reshape(q.axis >= 0 ? std::vector<std::int64_t>{-1}
                                                                                      : std::vector<std::int64_t>{});
  out.zero_point = q.zero_point.detach().to(torch::kCPU, torch::kInt64).reshape(out.scale.sizes());
  const auto s = along(out.scale, q.axis, w.dim()), z = along(out.zero_point, q.axis, w.dim());
  out.codes = torch::clamp(torch::round(w / s) + z, q.qmin, q.qmax).to(torch::kInt64);
  const double off_grid = ((out.codes - z) * s - w).abs().div(s).max().item<double>();
  if (off_grid > 1e-3) {
    fail("cannot {} '{}': its simulated weight is {:.3g} steps off its quantization grid", action, site.name, off_grid);
  }
  return out;
}

}  // namespace qx::deploy
