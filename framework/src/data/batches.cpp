#include "qx/data/batches.h"

namespace qx::data {

torch::Tensor normalize(const torch::Tensor& images, const Normalization& stats) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(images.device());
  auto mean = torch::tensor({stats.mean[0], stats.mean[1], stats.mean[2]}, options).mul_(255.0).view({1, 3, 1, 1});
  auto scale = torch::tensor({stats.std[0], stats.std[1], stats.std[2]}, options).mul_(255.0).view({1, 3, 1, 1});
  return images.to(torch::kFloat32).sub_(mean).div_(scale);
}

torch::Tensor random_crop_flip(const torch::Tensor& images, int64_t padding, torch::Generator& generator) {
  const int64_t batch = images.size(0), channels = images.size(1), height = images.size(2), width = images.size(3);
  const int64_t padded_width = width + 2 * padding;
  auto padded = torch::constant_pad_nd(images, {padding, padding, padding, padding}, 0)
                    .reshape({batch, channels, (height + 2 * padding) * padded_width});

  const auto cpu_long = torch::TensorOptions().dtype(torch::kInt64);
  auto top = torch::randint(0, 2 * padding + 1, {batch, 1}, generator, cpu_long);
  auto left = torch::randint(0, 2 * padding + 1, {batch, 1}, generator, cpu_long);
  auto flip = torch::randint(0, 2, {batch, 1}, generator, cpu_long).to(torch::kBool);

  auto rows = top + torch::arange(height, cpu_long);                    // [B, H]
  auto columns = torch::arange(width, cpu_long);                        // [W]
  auto cols = left + torch::where(flip, (width - 1) - columns, columns);  // [B, W]
  auto index = (rows.unsqueeze(2) * padded_width + cols.unsqueeze(1))    // [B, H, W]
                   .reshape({batch, 1, height * width})
                   .to(images.device())  // before the expand: a third of the bytes to copy
                   .expand({batch, channels, height * width});
  return padded.gather(2, index).reshape({batch, channels, height, width});
}

}  // namespace qx::data
