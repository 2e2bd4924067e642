#pragma once
// The AVX2 per-tensor fake-quant kernel (fake_quant_avx2.cpp), internal to the engine.
#include <cstdint>

namespace qx::quant::detail {

bool cpu_has_avx2();

// out[i] = (clamp(z + round_half_even(in[i] / scale), qmin, qmax) - z) * scale, as ATen computes it.
void fake_quantize_avx2(const float* in, float* out, std::int64_t n, float scale, std::int64_t zero_point,
                        std::int64_t qmin, std::int64_t qmax);

}  // namespace qx::quant::detail
