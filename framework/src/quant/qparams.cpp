#include "qx/quant/qparams.h"

#include <limits>

#include "qx/core/error.h"
#include "fake_quant_avx2.h"

namespace qx::quant {

std::int64_t QuantSpec::qmin() const { return symmetric ? -(std::int64_t{1} << (bits - 1)) : 0; }

std::int64_t QuantSpec::qmax() const {
  return symmetric ? (std::int64_t{1} << (bits - 1)) - 1 : (std::int64_t{1} << bits) - 1;
}

void QuantSpec::validate(const std::string& where) const {
  if (bits < kMinBits || bits > kMaxBits) {
    fail("{}: bit width {} is out of range [{}, {}]", where, bits, kMinBits, kMaxBits);
  }
}

QParams compute_qparams(const torch::Tensor& min, const torch::Tensor& max, const QuantSpec& spec) {
  spec.validate("quantization spec");
  auto min_neg = torch::clamp_max(min.to(torch::kFloat32), 0.0);
  auto max_pos = torch::clamp_min(max.to(torch::kFloat32), 0.0);
  const double qmin = static_cast<double>(spec.qmin()), qmax = static_cast<double>(spec.qmax());
  const double eps = std::numeric_limits<float>::epsilon();

  QParams qparams;
  qparams.qmin = spec.qmin();
  qparams.qmax = spec.qmax();
  qparams.axis = spec.axis;
  if (spec.symmetric) {
    auto bound = torch::max(-min_neg, max_pos);
    qparams.scale = torch::clamp_min(bound / ((qmax - qmin) / 2.0), eps);
    qparams.zero_point = torch::zeros(qparams.scale.sizes(), torch::kInt32);
  } else {
    qparams.scale = torch::clamp_min((max_pos - min_neg) / (qmax - qmin), eps);
    qparams.zero_point =
        torch::clamp(qmin - torch::round(min_neg / qparams.scale), qmin, qmax).to(torch::kInt32);
  }
  return qparams;
}

torch::Tensor fake_quantize(const torch::Tensor& x, const QParams& q) {
  // Inference on the CPU: the AVX2 kernel, bit-identical to ATen's (see fake_quant_avx2.cpp).
  static const bool has_avx2 = detail::cpu_has_avx2();
  if (q.axis < 0 && has_avx2 && x.device().is_cpu() && x.scalar_type() == torch::kFloat32 &&
      x.is_non_overlapping_and_dense() && !(x.requires_grad() && torch::GradMode::is_enabled())) {
    auto out = torch::empty_like(x);
    detail::fake_quantize_avx2(x.data_ptr<float>(), out.data_ptr<float>(), x.numel(), q.scale.item<float>(),
                               q.zero_point.item<std::int64_t>(), q.qmin, q.qmax);
    return out;
  }
  if (q.axis >= 0) {
    return torch::fake_quantize_per_channel_affine(x, q.scale.to(x.device()), q.zero_point.to(x.device()), q.axis,
                                                   q.qmin, q.qmax);
  }
  return torch::fake_quantize_per_tensor_affine(x, q.scale.to(x.device()), q.zero_point.to(x.device()), q.qmin,
                                                q.qmax);
}

}  // namespace qx::quant
