#pragma once
// What the engine relies on in a model plugin, checked once when the plugin creates a model
// (PluginHost::create_model), so that a broken plugin fails at load with its name instead of
// deep inside a cell:
//  * every QuantPoint's `feeds` names a weight layer (Conv2d or Linear) of the model, and every
//    weight layer is fed by one point (plus at most one that re-quantizes it narrower);
//  * conv_bn_pairs(), equalization_pairs() and blocks() name modules the model has;
//  * forward() maps a batch of images [N, 3, 32, 32] to logits [N, K], K >= 2 (how many classes
//    is the model's own option; a checkpoint of another K is refused when it is loaded).
#include <cstdint>
#include <string>

#include "qx/nn/model.h"

namespace qx::nn {

struct ModelContract {
  std::int64_t channels = 3, height = 32, width = 32;  // the engine's images (data/cifar10.h)
};

// Throws qx::Error, one line that names `plugin` and the first violation.
void check_model_contract(QuantizableModel& model, const std::string& plugin, const ModelContract& contract = {});

}  // namespace qx::nn
