#pragma once
// Passes that learn weights (AdaRound's rounding, LSQ's latent weights) need the layer to compute
// with a tensor derived from their variables. A Conv2d's or Linear's forward() reads its `weight`
// member; pointing that member at the derived tensor lets gradients reach the variables, and the
// registered parameter (what state dicts and the simulation see) comes back when this ends.
#include <torch/torch.h>

#include "qx/core/error.h"
#include "qx/sim/quant_sim.h"

namespace qx::passes {

class WeightSubstitution {
 public:
  explicit WeightSubstitution(sim::WeightSite& site) : member_(member(site)), original_(*member_) {}
  ~WeightSubstitution() { *member_ = original_; }
  WeightSubstitution(const WeightSubstitution&) = delete;
  WeightSubstitution& operator=(const WeightSubstitution&) = delete;
  void set(const torch::Tensor& weight) { *member_ = weight; }

 private:
  static torch::Tensor* member(sim::WeightSite& site) {
    if (auto* conv = dynamic_cast<torch::nn::Conv2dImpl*>(site.module.get())) return &conv->weight;
    if (auto* linear = dynamic_cast<torch::nn::LinearImpl*>(site.module.get())) return &linear->weight;
    fail("layer '{}' is neither Conv2d nor Linear", site.name);
  }
  torch::Tensor* member_;
  torch::Tensor original_;
};

}  // namespace qx::passes
