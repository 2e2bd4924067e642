#include "qx/passes/learned_steps.h"

#include <cmath>

namespace qx::passes {

namespace {

// An activation point's fake-quant while a pass trains: with a learnable step, and QDrop.
class TrainingHook : public nn::ActivationHook {
 public:
  TrainingHook(sim::ActivationSite& site, const quant::Quantizer& quantizer, ActivationTrainingOptions options)
      : site_(site), quantizer_(quantizer), options_(options) {}

  torch::Tensor operator()(const torch::Tensor& x) override {
    const auto& q = site_.qparams;
    torch::Tensor quantized;
    if (options_.learn_steps) {
      if (options_.grad_factor <= 0) options_.grad_factor = lsq_grad_factor(x.numel() / x.size(0), q.qmax);
      quantized = learnable_fake_quantize(x, q.scale, q.zero_point.to(x.device(), torch::kFloat).reshape({1}), q,
                                          options_.grad_factor);
    } else {
      quantized = quantizer_.apply(x, q);
    }
    if (options_.drop_probability <= 0) return quantized;
    return torch::where(torch::rand_like(x) < options_.drop_probability, x, quantized);
  }

 private:
  sim::ActivationSite& site_;
  const quant::Quantizer& quantizer_;
  ActivationTrainingOptions options_;
};

}  // namespace

double lsq_grad_factor(std::int64_t elements, std::int64_t qmax) {
  return 1.0 / std::sqrt(static_cast<double>(elements * qmax));
}

torch::Tensor learnable_fake_quantize(const torch::Tensor& value, const torch::Tensor& scale,
                                      const torch::Tensor& zero_point, const quant::QParams& qparams,
                                      double grad_factor) {
  if (qparams.axis >= 0) {
    return torch::_fake_quantize_learnable_per_channel_affine(value, scale, zero_point, qparams.axis, qparams.qmin,
                                                              qparams.qmax, grad_factor);
  }
  return torch::_fake_quantize_learnable_per_tensor_affine(value, scale, zero_point, qparams.qmin, qparams.qmax,
                                                           grad_factor);
}

ActivationTraining::ActivationTraining(sim::QuantSim& sim, std::vector<sim::ActivationSite*> sites,
                                       ActivationTrainingOptions options)
    : sites_(std::move(sites)) {
  for (auto* site : sites_) {
    if (options.learn_steps) {
      site->qparams.scale = site->qparams.scale.detach().reshape({1}).to(sim.device()).clone().requires_grad_(true);
      steps_.push_back(site->qparams.scale);
    }
    simulation_hooks_.push_back(site->point->hook());
    site->point->set_hook(std::make_shared<TrainingHook>(*site, sim.quantizer(), options));
  }
}

ActivationTraining::~ActivationTraining() {
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < sites_.size(); ++i) {
    auto* site = sites_[i];
    site->point->set_hook(simulation_hooks_[i]);
    if (!steps_.empty()) site->qparams.scale = site->qparams.scale.detach().clamp_min(1e-8).reshape({}).clone();
  }
}

void ActivationTraining::clamp_steps() {
  torch::NoGradGuard no_grad;
  for (auto& step : steps_) step.clamp_min_(1e-8);
}

}  // namespace qx::passes
