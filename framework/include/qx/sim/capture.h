#pragma once
// Reading the tensors that pass a quantization point, for passes that fit something layer by
// layer or block by block (bias correction, AdaRound, BRECQ).
#include <vector>

#include <torch/torch.h>

#include "qx/nn/model.h"

namespace qx::sim {

// Runs `batches` through the model in its current state (simulated, or float inside a
// QuantSim::FloatScope) and returns what leaves `point`, after its hook, for all batches
// concatenated along dimension 0. The forward pass stops right after the point, so capturing the
// input of an early layer costs only the layers before it. No gradients are recorded.
torch::Tensor capture_point(QuantizableModel& model, nn::QuantPointImpl& point,
                            const std::vector<torch::Tensor>& batches);

}  // namespace qx::sim
