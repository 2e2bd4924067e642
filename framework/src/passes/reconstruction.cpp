#include "qx/passes/reconstruction.h"

#include <cmath>
#include <memory>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "qx/core/error.h"
#include "qx/passes/learned_steps.h"
#include "qx/passes/weight_substitution.h"
#include "qx/sim/capture.h"
#include "qx/sim/quant_sim.h"
#include "qx/train/schedule.h"

namespace qx::passes {

namespace {

// AdaRound's rectified sigmoid stretches sigmoid to (gamma, zeta) and clips it to [0, 1], so the
// rounding variable can reach exactly 0 or 1 while gradients still flow near the ends.
constexpr double kZeta = 1.1, kGamma = -0.1;

torch::Tensor broadcast_along(const torch::Tensor& values, std::int64_t axis, std::int64_t dims) {
  if (axis < 0) return values.reshape({});
  std::vector<std::int64_t> shape(static_cast<std::size_t>(dims), 1);
  shape[static_cast<std::size_t>(axis)] = -1;
  return values.reshape(shape);
}

// Learned up/down rounding of one weight on the quantizer's own grid.
class SoftRounding {
 public:
  SoftRounding(sim::WeightSite& site, const torch::Tensor& float_weight) : site_(site) {
    const auto& q = site.qparams;
    const auto dims = float_weight.dim();
    scale_ = broadcast_along(q.scale, q.axis, dims).to(float_weight.device());
    zero_point_ = broadcast_along(q.zero_point.to(torch::kFloat), q.axis, dims).to(float_weight.device());
    // x * (1 / scale), as ATen's fake-quant kernels compute it, so nearest rounding below is theirs.
    const auto scaled = float_weight.contiguous() * (1.0 / scale_);
    floor_ = torch::floor(scaled);
    // Start from the float weight's own position between its two grid points.
    const auto rest = (scaled - floor_).clamp(0.01, 0.99);
    variable_ = (-torch::log((kZeta - kGamma) / (rest - kGamma) - 1.0)).detach().requires_grad_(true);
  }

  torch::Tensor& variable() { return variable_; }
  torch::Tensor up() const { return torch::clamp(torch::sigmoid(variable_) * (kZeta - kGamma) + kGamma, 0.0, 1.0); }

  torch::Tensor soft_weight() const { return on_grid(floor_ + up()); }
  torch::Tensor hard_weight() const { return on_grid(floor_ + (variable_ >= 0).to(floor_.scalar_type())).detach(); }
  // Zero when every h is 0 or 1; a low beta pushes hard toward the ends, a high beta only near them.
  torch::Tensor regulariser(double beta) const { return (1.0 - (2.0 * up() - 1.0).abs().pow(beta)).sum(); }
  sim::WeightSite& site() { return site_; }

 private:
  torch::Tensor on_grid(const torch::Tensor& levels) const {
    const auto& q = site_.qparams;
    return (torch::clamp(levels + zero_point_, static_cast<double>(q.qmin), static_cast<double>(q.qmax)) - zero_point_) *
           scale_;
  }

  sim::WeightSite& site_;
  torch::Tensor scale_, zero_point_, floor_, variable_;
};

// Mean over images of |unit(x_quant) - y_float|^2, the objective without the regulariser.
double unit_error(const ModelBlock& unit, const torch::Tensor& x_quant, const torch::Tensor& y_float) {
  torch::NoGradGuard no_grad;
  double sum = 0;
  for (std::int64_t start = 0; start < x_quant.size(0); start += 256) {
    const auto end = std::min(start + 256, x_quant.size(0));
    sum += (unit.forward(x_quant.slice(0, start, end)) - y_float.slice(0, start, end))
               .square()
               .sum(torch::kFloat64)
               .item<double>();
  }
  return sum / static_cast<double>(x_quant.size(0));
}

torch::Tensor forward_in_chunks(const ModelBlock& unit, const torch::Tensor& inputs) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> outputs;
  for (std::int64_t start = 0; start < inputs.size(0); start += 256) {
    outputs.push_back(unit.forward(inputs.slice(0, start, std::min(start + 256, inputs.size(0)))));
  }
  return torch::cat(outputs);
}

double beta_at(const ReconstructionOptions& o, std::int64_t step) {
  const double warm = o.warmup * static_cast<double>(o.iterations);
  const double progress = (static_cast<double>(step) - warm) / std::max(1.0, static_cast<double>(o.iterations) - warm);
  return o.beta_end + (o.beta_start - o.beta_end) * std::max(0.0, 1.0 - progress);
}

struct UnitResult {
  double nearest_error, learned_error;  // per image, over all calibration images
  bool kept_learned;
};

// Learns the rounding of every weight layer of the unit, and its activation points' steps, on
// the captured inputs for o.iterations; then hardens the rounding into the weights and gives the
// simulation its hooks back, the learned steps in the sites.
void learn_unit(PassContext& context, const ModelBlock& unit, const ReconstructionOptions& o, std::uint64_t seed,
                const std::vector<sim::ActivationSite*>& points, const torch::Tensor& x_float,
                const torch::Tensor& x_quant, const torch::Tensor& y_float) {
  auto& sim = context.sim;
  std::vector<std::unique_ptr<SoftRounding>> roundings;
  std::vector<std::unique_ptr<WeightSubstitution>> substitutions;
  std::vector<torch::Tensor> rounding_variables;
  for (const auto& layer : unit.layers) {
    auto& site = sim.weight_site(layer);
    roundings.push_back(std::make_unique<SoftRounding>(site, sim.float_weight(layer)));
    substitutions.push_back(std::make_unique<WeightSubstitution>(site));
    rounding_variables.push_back(roundings.back()->variable());
  }
  // The unit's activation points train while it is optimised: learned steps, QDrop.
  auto training = std::make_unique<ActivationTraining>(
      sim, points, ActivationTrainingOptions{o.learn_activation_steps, 1.0, o.drop_probability});
  const auto& steps = training->steps();

  torch::optim::Adam rounding_optimizer(rounding_variables, torch::optim::AdamOptions(o.rounding_lr));
  std::unique_ptr<torch::optim::Adam> step_optimizer;
  if (!steps.empty()) step_optimizer = std::make_unique<torch::optim::Adam>(steps, torch::optim::AdamOptions(o.activation_lr));
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::manual_seed(seed);  // QDrop's masks at the activation points come from the global generator
  const auto images = x_quant.size(0);
  const auto warmup_steps = static_cast<std::int64_t>(o.warmup * static_cast<double>(o.iterations));
  for (std::int64_t step = 0; step < o.iterations; ++step) {
    const auto index = torch::randint(images, {o.batch_size}, generator, torch::kInt64).to(x_quant.device());
    auto x = x_quant.index_select(0, index);
    if (o.drop_probability > 0) {
      const auto keep_float = torch::rand(x.sizes(), generator, x.options().device(torch::kCPU)).to(x.device()) <
                              o.drop_probability;  // drawn on the host: the same masks on every device
      x = torch::where(keep_float, x_float.index_select(0, index), x);
    }
    for (std::size_t i = 0; i < roundings.size(); ++i) substitutions[i]->set(roundings[i]->soft_weight());
    const auto output = unit.forward(x);
    // Summed over channels, averaged over images and positions: BRECQ's lp_loss. Its scale sets
    // the balance with the rounding regulariser; summing over positions as well made the
    // regulariser ~1000x weaker on 32x32 maps, and rounding stayed undecided when hardened.
    const auto reconstruction = (output - y_float.index_select(0, index)).square().sum(1).mean();
    auto loss = reconstruction;
    if (step >= warmup_steps) {
      const double beta = beta_at(o, step);
      for (const auto& rounding : roundings) loss = loss + o.rounding_weight * rounding->regulariser(beta);
    }
    const double value = loss.item<double>();
    if (!std::isfinite(value)) {
      fail("{}: unit '{}': reconstruction loss is {} at iteration {}", context.name, unit.name, value, step);
    }
    rounding_optimizer.zero_grad();
    if (step_optimizer) step_optimizer->zero_grad();
    loss.backward();
    rounding_optimizer.step();
    if (step_optimizer) {
      // Cosine annealing of the step-size learning rate, as BRECQ.
      const double lr = o.activation_lr * train::cosine_annealing(static_cast<double>(step), o.iterations);
      static_cast<torch::optim::AdamOptions&>(step_optimizer->param_groups()[0].options()).lr(lr);
      step_optimizer->step();
      training->clamp_steps();
    }
  }

  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < roundings.size(); ++i) {
    const auto hard = roundings[i]->hard_weight();
    substitutions[i].reset();  // the registered parameter is the module's weight again
    roundings[i]->site().weight.copy_(hard);
  }
  step_optimizer.reset();
  training.reset();  // the simulation's hooks back, the learned steps in the sites
}

// The unit's error with nearest rounding and the PTQ steps, and with the learned ones; keeps the
// better of the two.
UnitResult reconstruct_unit(PassContext& context, const ModelBlock& unit,
                                           const ReconstructionOptions& o, std::uint64_t seed) {
  auto& sim = context.sim;
  auto& input = sim.activation_site(unit.input_point);
  torch::Tensor x_float, y_float;
  {
    sim::QuantSim::FloatScope float_model(sim);
    x_float = sim::capture_point(context.model, *input.point, context.calibration);
    y_float = forward_in_chunks(unit, x_float);
  }
  const auto x_quant = sim::capture_point(context.model, *input.point, context.calibration);
  const double nearest_error = unit_error(unit, x_quant, y_float);
  // The unit as PTQ left it, brought back if learning makes its output worse on these images
  // (rounding that has not settled by the last iteration can flip the wrong way when hardened).
  std::vector<torch::Tensor> nearest_weights, nearest_steps;
  for (const auto& layer : unit.layers) nearest_weights.push_back(sim.weight_site(layer).weight.detach().clone());
  std::vector<sim::ActivationSite*> points;  // the unit's points this cell quantizes
  for (const auto& name : unit.points) {
    if (auto* site = sim.find_activation_site(name)) points.push_back(site);
  }
  for (const auto* site : points) nearest_steps.push_back(site->qparams.scale.detach().clone());

  learn_unit(context, unit, o, seed, points, x_float, x_quant, y_float);

  torch::NoGradGuard no_grad;
  const double learned_error = unit_error(unit, x_quant, y_float);
  // With QDrop the objective is the error under randomly dropped quantization, not this one, so
  // this comparison says nothing about it: QDrop's result is always kept.
  const bool keep_learned = o.drop_probability > 0 || learned_error <= nearest_error;
  if (!keep_learned) {
    for (std::size_t i = 0; i < unit.layers.size(); ++i) sim.weight_site(unit.layers[i]).weight.copy_(nearest_weights[i]);
    for (std::size_t i = 0; i < points.size(); ++i) points[i]->qparams.scale = nearest_steps[i];
  }
  spdlog::debug("{}: {}: output error {:.4g} -> {:.4g}{}", context.name, unit.name, nearest_error, learned_error,
                keep_learned ? "" : " (kept nearest)");
  return {nearest_error, learned_error, keep_learned};
}

}  // namespace

ReconstructionOptions read_reconstruction_options(const Options& options, ReconstructionOptions d, bool blocks) {
  ReconstructionOptions o = d;
  o.iterations = options.get_int("iterations", d.iterations, 1, 1000000);
  o.batch_size = options.get_int("batch_size", d.batch_size, 1, 100000);
  o.rounding_lr = options.get_double("rounding_lr", d.rounding_lr, 1e-9, 10.0);
  o.rounding_weight = options.get_double("rounding_weight", d.rounding_weight, 0.0, 1e6);
  o.beta_start = options.get_double("beta_start", d.beta_start, 1.0, 1000.0);
  o.beta_end = options.get_double("beta_end", d.beta_end, 1.0, o.beta_start);
  o.warmup = options.get_double("warmup", d.warmup, 0.0, 0.99);
  if (!blocks) return o;
  o.learn_activation_steps = options.get_bool("learn_activation_steps", d.learn_activation_steps);
  o.activation_lr = options.get_double("activation_lr", d.activation_lr, 0.0, 10.0);
  o.drop_probability = options.get_double("drop_probability", d.drop_probability, 0.0, 1.0);
  return o;
}

std::vector<ModelBlock> layer_units(sim::QuantSim& sim) {
  std::vector<ModelBlock> units;
  for (auto& site : sim.weight_sites()) {
    auto module = site.module;
    std::function<torch::Tensor(const torch::Tensor&)> forward;
    if (auto conv = std::dynamic_pointer_cast<torch::nn::Conv2dImpl>(module)) {
      forward = [conv](const torch::Tensor& x) { return conv->forward(x); };
    } else if (auto linear = std::dynamic_pointer_cast<torch::nn::LinearImpl>(module)) {
      forward = [linear](const torch::Tensor& x) { return linear->forward(x); };
    } else {
      fail("layer '{}' is neither Conv2d nor Linear", site.name);
    }
    units.push_back({site.name, sim.input_site(site.name).name, {site.name}, {}, std::move(forward)});
  }
  return units;
}

void check_integer_grid(const quant::Quantizer& quantizer, const std::string& pass) {
  if (!quantizer.integer_grid()) fail("{} learns rounding on an integer grid; this cell's quantizer has none", pass);
}

void reconstruct(PassContext& context, const std::vector<ModelBlock>& units, const ReconstructionOptions& options) {
  std::vector<std::string> report;
  for (std::size_t i = 0; i < units.size(); ++i) {
    const auto unit =
        reconstruct_unit(context, units[i], options, static_cast<std::uint64_t>(context.seed) * 1000003u + i);
    report.push_back(fmt::format(
        "{{\"unit\":\"{}\",\"error_nearest\":{:.6g},\"error_learned\":{:.6g},\"kept\":\"{}\"}}", units[i].name,
        unit.nearest_error, unit.learned_error, unit.kept_learned ? "learned" : "nearest"));
  }
  context.report = fmt::format("{{\"units\":[{}]}}", fmt::join(report, ","));
}

}  // namespace qx::passes
