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

MixedBatch mixup(const torch::Tensor& images, double alpha, torch::Generator& generator) {
  const int64_t batch = images.size(0);
  const auto cpu_float = torch::TensorOptions().dtype(torch::kFloat);
  // Beta(a, a) as G1 / (G1 + G2) with G1, G2 ~ Gamma(a, 1): ATen has the gamma sampler, not the beta.
  const auto alphas = torch::full({batch}, alpha, cpu_float);
  const auto g1 = at::_standard_gamma(alphas, generator), g2 = at::_standard_gamma(alphas, generator);
  // Both gammas underflow to 0 for tiny alpha: that image then stays itself.
  const auto lambda = torch::where((g1 + g2).gt(0), g1 / (g1 + g2).clamp_min(1e-30), torch::ones_like(g1));
  const auto partner = torch::randperm(batch, generator, torch::TensorOptions().dtype(torch::kInt64));
  std::vector<int64_t> shape(images.dim(), 1);
  shape[0] = batch;
  const auto weight = lambda.to(images.device()).reshape(shape);
  const auto mixed = weight * images + (1 - weight) * images.index_select(0, partner.to(images.device()));
  return {mixed, partner, lambda};
}

}  // namespace qx::data
