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

}  // namespace qx::eval
