#pragma once
// Turning uint8 image tensors into training and evaluation batches, as whole-batch tensor ops.
#include <array>

#include <torch/torch.h>

namespace qx::data {

struct Normalization {
  // Per-channel statistics of the CIFAR-10 training set (the original; the JPEG-derived copy
  // matches the means to 1e-4).
  std::array<double, 3> mean{0.4914, 0.4822, 0.4465};
  std::array<double, 3> std{0.2470, 0.2435, 0.2616};
};

// uint8 [B,3,H,W] -> float [B,3,H,W], scaled to [0,1] and standardised per channel.
torch::Tensor normalize(const torch::Tensor& images, const Normalization& stats = {});

// Zero-pads by `padding`, takes a random crop of the original size and flips horizontally
// with probability 1/2, drawn independently per image from `generator`. One gather for the
// whole batch. uint8 in, uint8 out.
torch::Tensor random_crop_flip(const torch::Tensor& images, int64_t padding, torch::Generator& generator);

// A batch after mixup (Zhang et al. 2018): image i is lambda[i] * x[i] + (1 - lambda[i]) * x[partner[i]].
struct MixedBatch {
  torch::Tensor images;
  torch::Tensor partner;  // [B] int64, a permutation of the batch
  torch::Tensor lambda;   // [B] float in [0, 1], the weight of the image's own content
};

// Mixes every image of a float batch with a random partner from the same batch, with its own
// weight drawn from Beta(alpha, alpha): small alpha keeps most images close to one of the two,
// alpha = 1 mixes uniformly. All draws from `generator`, on the CPU.
MixedBatch mixup(const torch::Tensor& images, double alpha, torch::Generator& generator);

}  // namespace qx::data
