#pragma once
// The one home of learnable quantization parameters, for the passes that train: the block
// reconstruction of BRECQ and QDrop, and LSQ. A step (scale) learns through ATen's learnable
// fake-quant, whose forward pass is exactly the fake-quant the evaluation runs and whose
// backward pass is LSQ's (Esser et al. 2020); QDrop (Wei et al. 2022) lets each activation keep
// its float value at random while a pass optimises.
//
// The simulation's sites keep only their quantization parameters. While a pass trains,
// ActivationTraining puts training hooks on the activation points it is given, and when it
// ends it puts the simulation's hooks back and leaves each learned step in its site's qparams.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "qx/nn/quant_point.h"
#include "qx/quant/qparams.h"
#include "qx/sim/quant_sim.h"

namespace qx::passes {

// LSQ's gradient scale for a step shared by `elements` values on a grid of `qmax`:
// 1 / sqrt(elements x qmax).
double lsq_grad_factor(std::int64_t elements, std::int64_t qmax);

// Fake-quantizes `value` on the grid of `qparams` (its axis, qmin and qmax) with a learnable
// `scale` and `zero_point` (per channel, or [1] per tensor) and LSQ's gradient `grad_factor`.
torch::Tensor learnable_fake_quantize(const torch::Tensor& value, const torch::Tensor& scale,
                                      const torch::Tensor& zero_point, const quant::QParams& qparams,
                                      double grad_factor);

struct ActivationTrainingOptions {
  bool learn_steps = false;       // each point's step becomes a [1] leaf tensor that requires grad
  double grad_factor = 1.0;       // of the steps' gradient; 0: LSQ's, from the first batch a point sees
  double drop_probability = 0.0;  // QDrop: each element keeps its float value with this probability
};

class ActivationTraining {
 public:
  ActivationTraining(sim::QuantSim& sim, std::vector<sim::ActivationSite*> sites, ActivationTrainingOptions options);
  // The simulation's hooks back; each learned step detached, kept positive, into its site's qparams.
  ~ActivationTraining();
  ActivationTraining(const ActivationTraining&) = delete;
  ActivationTraining& operator=(const ActivationTraining&) = delete;

  // The learnable steps, in the order of the sites (empty unless learn_steps).
  const std::vector<torch::Tensor>& steps() const { return steps_; }
  // Keeps every step positive; called after each optimiser step.
  void clamp_steps();

 private:
  std::vector<sim::ActivationSite*> sites_;
  std::vector<std::shared_ptr<nn::ActivationHook>> simulation_hooks_;
  std::vector<torch::Tensor> steps_;
};

}  // namespace qx::passes
