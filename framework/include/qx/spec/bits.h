#pragma once
// The bit widths a cell may name, for weights, activations and the residual stream. Plain data,
// so that the experiment files are checked without the quantization code (quant/qparams.h
// enforces the same range on every QuantSpec).

namespace qx::spec {

inline constexpr int kMinBits = 2;
inline constexpr int kMaxBits = 16;

}  // namespace qx::spec
