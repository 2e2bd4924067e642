#include "qx/quant/observer.h"

#include "qx/core/error.h"

namespace qx::quant {

void check_target(const ObserverContext& context, const QuantSpec& spec, const std::string& observer) {
  if (context.axis != spec.axis) {
    fail("observer '{}' at {}: statistics kept along axis {}, but the target asks for axis {}", observer,
         context.point, context.axis, spec.axis);
  }
}

Range tensor_min_max(const torch::Tensor& x, std::int64_t axis) {
  const auto values = x.detach().to(torch::kFloat32);
  if (axis < 0) return {values.min(), values.max()};
  const auto per_channel = values.transpose(0, axis).flatten(1);
  return {std::get<0>(per_channel.min(1)), std::get<0>(per_channel.max(1))};
}

}  // namespace qx::quant
