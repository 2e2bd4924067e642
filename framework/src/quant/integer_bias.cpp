#include "qx/quant/integer_bias.h"

#include <cstdint>
#include <limits>

namespace qx::quant {

IntegerBias integer_bias(const torch::Tensor& bias, const torch::Tensor& input_scale, const torch::Tensor& weight_scale) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(torch::kCPU);
  const auto value = bias.detach().to(options).reshape({-1});
  const auto scale = (weight_scale.detach().to(options).reshape({-1}) * input_scale.detach().to(options).reshape({}))
                         .expand({value.size(0)})
                         .contiguous();
  // In float64: the int32 limits are not float32 numbers.
  const auto codes = torch::round(value.to(torch::kFloat64) / scale.to(torch::kFloat64))
                         .clamp(std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max());
  return {codes.to(torch::kInt32), scale};
}

}  // namespace qx::quant
