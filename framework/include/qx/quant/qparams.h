#pragma once
// Quantization parameters, described by data rather than by class trees (as torchao's
// QuantizationSpec): a QuantSpec says what grid to use, compute_qparams() turns an observed
// range into scale and zero point on that grid, and fake_quantize() applies them through
// ATen's own fake-quant kernels.
//
// The arithmetic follows torch.ao.quantization's observers (_calculate_qparams):
//   * the range is widened to include 0, so that 0 is exactly representable (zero padding,
//     ReLU outputs);
//   * symmetric: scale = max(|min|, |max|) / ((qmax - qmin) / 2), zero point 0 on a signed grid;
//   * affine:    scale = (max - min) / (qmax - qmin), zero point = qmin - round(min / scale),
//                clamped to [qmin, qmax];
//   * scale is kept >= float32 epsilon, so an all-zero tensor does not divide by zero.
#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "qx/spec/bits.h"

namespace qx::quant {

using spec::kMaxBits;
using spec::kMinBits;

struct QuantSpec {
  int bits = 8;
  // Zero point fixed at 0 on a signed grid [-2^(b-1), 2^(b-1) - 1]; otherwise an affine,
  // unsigned grid [0, 2^b - 1] with a zero point.
  bool symmetric = false;
  // Per-channel along this axis when >= 0 (axis 0 = output channels of a conv/linear weight);
  // per-tensor when negative.
  std::int64_t axis = -1;

  std::int64_t qmin() const;
  std::int64_t qmax() const;
  bool per_channel() const { return axis >= 0; }
  // Throws qx::Error naming `where` when bits is outside [kMinBits, kMaxBits].
  void validate(const std::string& where) const;
};

struct QParams {
  torch::Tensor scale;       // float32, [] or [channels]
  torch::Tensor zero_point;  // int32, same shape as scale
  std::int64_t qmin = 0;
  std::int64_t qmax = 0;
  std::int64_t axis = -1;
};

// `min` and `max` are scalars for per-tensor specs and [channels] tensors for per-channel ones.
QParams compute_qparams(const torch::Tensor& min, const torch::Tensor& max, const QuantSpec& spec);

// Quantize-dequantize: round(x / scale) + zero_point, clamped to [qmin, qmax], mapped back.
torch::Tensor fake_quantize(const torch::Tensor& x, const QParams& qparams);

}  // namespace qx::quant
