#pragma once
// Single-crop evaluation: no augmentation, eval() mode, no autograd.
#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "qx/data/cifar10.h"
#include "qx/nn/model.h"

namespace qx::eval {

struct EvalResult {
  double top1 = 0;  // percent
  double top5 = 0;  // percent
  double loss = 0;  // mean cross-entropy
  std::int64_t images = 0;
  double seconds = 0;

  std::string to_json() const;
};

EvalResult evaluate(QuantizableModel& model, const data::Dataset& dataset, std::int64_t batch_size,
                    const torch::Device& device);

// The model's logits for every image of `dataset`, [images, classes] float32 on the CPU, for
// comparing two runtimes image by image (run/onnx_judge.h).
torch::Tensor predict(QuantizableModel& model, const data::Dataset& dataset, std::int64_t batch_size,
                      const torch::Device& device);

// Top-1, top-5 and mean cross-entropy of logits [images, classes] against `labels` (seconds: 0).
EvalResult score(const torch::Tensor& logits, const torch::Tensor& labels);

}  // namespace qx::eval
