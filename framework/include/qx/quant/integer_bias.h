#pragma once
// The bias of a layer as an integer kernel adds it: an int32 code at the scale the kernel
// accumulates in, s_in * s_w (ONNX QLinearConv, LibTorch quantized::conv2d, gemmlowp). A
// simulation that keeps the bias in float differs from such a kernel by up to half a step of
// s_in * s_w per output, which at 4 bits and below is a noticeable share of an output step.
// The ONNX export writes these codes, and the pass 'integer_bias' puts the same values into the
// simulation, so that both compute the same thing.
#include <torch/torch.h>

namespace qx::quant {

struct IntegerBias {
  torch::Tensor codes;  // int32, [channels]
  torch::Tensor scale;  // float32, [channels]: input scale times the channel's weight scale
};

// `bias` is float [channels]; `input_scale` a scalar; `weight_scale` a scalar or [channels].
// Codes saturate at the int32 range.
IntegerBias integer_bias(const torch::Tensor& bias, const torch::Tensor& input_scale, const torch::Tensor& weight_scale);

}  // namespace qx::quant
