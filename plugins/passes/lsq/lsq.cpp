// Quantization-aware training with learned step sizes (LSQ, Esser et al. 2020), started from the
// PTQ result: the cell's observers and quantizer (and any pass before this one) give the initial
// step sizes, and the float weights are the initial latent weights. For a few epochs on the
// training set (random crop and flip, optionally mixup), every weight is fake-quantized from its
// latent copy and every activation point fake-quantizes with its own step, all through ATen's
// learnable fake-quant ops, whose forward is exactly the fake-quant the evaluation then runs; the
// gradient of each step size is scaled by 1 / sqrt(elements x qmax), as LSQ prescribes. BatchNorm
// stays frozen (folded, or in eval mode); biases train. Zero points stay the quantizer's.
// Optionally the float model, or its flip-averaged ensemble, teaches through a distillation loss.
// The result is the last iterate, or (average_epochs) the mean of the last epochs' iterates.
#include <cmath>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "qx/core/error.h"
#include "qx/data/batches.h"
#include "qx/data/cifar10.h"
#include "qx/passes/learned_steps.h"
#include "qx/passes/progress.h"
#include "qx/passes/reconstruction.h"
#include "qx/passes/weight_substitution.h"
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"
#include "qx/sim/quant_sim.h"
#include "qx/train/schedule.h"
#include "qx/train/sgd.h"
#include "qx/train/swa.h"

namespace {

using namespace qx::passes;

struct LsqSettings {
  std::int64_t epochs = 2;
  std::int64_t batch_size = 128;
  // Cosine-annealed to 0 over all steps. Ten times below LSQ's 0.01: the latent weights are the
  // BatchNorm-folded ones, and a channel with a small gamma / sigma has weights (and a grid step)
  // a hundred times smaller than its neighbours, which one SGD step at 0.01 moves by several
  // grid steps: at that rate the training loss diverges within the first steps.
  double lr = 0.001;
  double weight_decay = 5e-5;
  std::int64_t curve_every = 50;  // steps per point of the training curve in the report
  std::int64_t images_per_epoch = 0;  // 0 = the whole training set (smaller for tests and smoke runs)
  bool learn_steps = true;            // false: plain straight-through QAT with the PTQ steps fixed
  // Weight of distillation from the float model (0: the labels alone). The folded float model
  // fits the training set almost perfectly, so the labels' cross-entropy is near zero and carries
  // little gradient; the float model's softened outputs still say how far the quantized one is
  // from it (Hinton et al. 2015; used for low-bit QAT by Mishra and Marr 2018, Apprentice).
  double distill = 0.0;
  double temperature = 1.0;
  // The teacher is the float model averaged over each image and its mirror image: the mean of the
  // two views' softened outputs, the ensemble a flip at test time would be. The training
  // augmentation flips already, so both views are images the float model was trained on, and
  // their mean is a better classifier than either view (test-time flip averaging, the cheapest
  // ensemble there is), for one more forward pass without gradient per step.
  bool teacher_flip = false;
  // The steps' learning rate as a multiple of the weights'. LSQ trains both at one rate, and its
  // step-gradient scale 1 / sqrt(elements x qmax) assumes LSQ's rate (0.01) and schedule; at the
  // lower rate the folded weights need, the steps barely move (docs/passes.md).
  double step_lr_scale = 1.0;
  // How the latent weights train. "sgd": the folded float weights, by SGD at `lr`. "adam": each
  // weight in units of its channel's initial step, by Adam at `adam_lr`. Folding leaves channels
  // whose weights (and steps) differ by a hundredfold, so one SGD rate is too fast for some and
  // too slow for others; Adam's per-element normalisation in step units moves every weight by
  // about `adam_lr` of its own grid step per iteration, whatever its channel's scale or the width.
  // `weight_decay` then applies to nothing: a few epochs from a trained model need none.
  std::string weight_optimizer = "sgd";
  double adam_lr = 1e-3;
  // Mixup of the training images, Beta(mixup, mixup) weights (0: off). With distillation this is
  // Beyer et al. 2022's "function matching": the float model labels any image, so the quantized
  // one learns to match it between the training images too, not only on them, where a student
  // that already agrees with its teacher on the training set has little left to learn.
  double mixup = 0.0;
  // Stochastic weight averaging (Izmailov et al. 2018; for low-precision training, SWALP, Yang et
  // al. 2019): the cosine schedule of `epochs` ends at `average_rate` of the peak rates instead of
  // zero, `average_epochs` more run at that constant rate, and the quantized model becomes the mean
  // of its latent weights, steps and biases after every step of those epochs. It is aimed at a
  // test-set gap that more epochs do not close: the mean of iterates that wander across a wide
  // basin sits nearer its centre, which generalizes better than any one of them. (SWA snapshots
  // once an epoch to save re-estimating BatchNorm; with BatchNorm folded a snapshot costs little.)
  std::int64_t average_epochs = 0;
  double average_rate = 0.5;
};

// One weight layer during training: its latent weight and learnable step. The float weight is
// latent * unit: unit is 1, or (weight_optimizer "adam") the channel's initial step.
struct TrainedWeight {
  qx::sim::WeightSite* site;
  torch::Tensor latent, unit, scale, zero_point;
  double grad_factor;
  std::unique_ptr<WeightSubstitution> substitution;

  torch::Tensor float_value() const { return unit.defined() ? latent * unit : latent; }
  torch::Tensor quantized() const {
    return qx::passes::learnable_fake_quantize(float_value(), scale, zero_point, site->qparams, grad_factor);
  }
};

// Biases (and, with "sgd", the latent weights) at the schedule's rate; steps at step_lr_scale
// times it; with "adam", the latent weights at adam_lr on the same schedule.
struct Optimizers {
  qx::train::Sgd weights, steps;
  std::unique_ptr<torch::optim::Adam> latent;

  void zero_grad() {
    weights.zero_grad();
    steps.zero_grad();
    if (latent) latent->zero_grad();
  }
  void step() {
    weights.step();
    steps.step();
    if (latent) latent->step();
  }
  // `fraction` of the peak rates: the cosine schedule.
  void schedule(const LsqSettings& s, double fraction) {
    weights.options().lr(s.lr * fraction);
    steps.options().lr(s.lr * s.step_lr_scale * fraction);
    if (latent) static_cast<torch::optim::AdamOptions&>(latent->param_groups()[0].options()).lr(s.adam_lr * fraction);
  }
};

// Everything the optimisers move, by kind: what SGD trains at the schedule's rate (biases and,
// with "sgd", the latent weights), the steps, and (with "adam") the latent weights.
struct TrainedParameters {
  std::vector<TrainedWeight> weights;
  std::vector<std::pair<std::string, torch::Tensor>> sgd, steps;
  std::vector<torch::Tensor> adam_latents;

  // For the average: latent weights, steps and biases.
  std::vector<torch::Tensor> all() const {
    std::vector<torch::Tensor> trained = adam_latents;
    for (const auto& group : {sgd, steps}) {
      for (const auto& item : group) trained.push_back(item.second);
    }
    return trained;
  }
};

// One training batch: randomly cropped and flipped (then mixed), normalised, on the device.
struct Batch {
  torch::Tensor images, labels;
  qx::data::MixedBatch mixed;
};

// The training curve of the report: one point of mean loss and top-1 every `curve_every` steps.
class TrainingCurve {
 public:
  void add(double loss, double correct, double images) {
    loss_sum_ += loss * images;
    correct_ += correct;
    seen_ += images;
  }
  void point(std::int64_t step, std::int64_t steps_per_epoch, double lr) {
    points_.push_back(fmt::format("{{\"step\":{},\"epoch\":{:.4f},\"loss\":{:.5f},\"top1\":{:.3f},\"lr\":{:.6g}}}", step,
                                  static_cast<double>(step) / steps_per_epoch, loss_sum_ / seen_,
                                  100.0 * correct_ / seen_, lr));
    loss_sum_ = correct_ = seen_ = 0;
  }
  std::string json() const { return fmt::format("[{}]", fmt::join(points_, ",")); }

  // The curve so far as its points and running sums, to carry it across a restart (passes/progress.h).
  const std::vector<std::string>& points() const { return points_; }
  torch::Tensor sums() const { return torch::tensor({loss_sum_, correct_, seen_}, torch::kFloat64); }
  void restore(std::vector<std::string> points, const torch::Tensor& sums) {
    points_ = std::move(points);
    loss_sum_ = sums[0].item<double>(), correct_ = sums[1].item<double>(), seen_ = sums[2].item<double>();
  }

 private:
  std::vector<std::string> points_;
  double loss_sum_ = 0, correct_ = 0, seen_ = 0;
};

class LsqPass : public Pass {
 public:
  explicit LsqPass(LsqSettings settings) : settings_(settings) {}
  PassStage stage() const override { return PassStage::kQuantizedModel; }
  void check(const qx::spec::CellSpec&, const qx::quant::Quantizer& quantizer, qx::QuantizableModel&) const override {
    check_integer_grid(quantizer, "pass 'lsq'");
  }

  void run(PassContext& context) override {
    if (!context.train_set) qx::fail("{}: needs the training set", context.name);
    TrainedParameters trained = weight_parameters(context.sim);
    // Every activation point's step learns, with LSQ's gradient scale taken from its first batch.
    std::unique_ptr<qx::passes::ActivationTraining> activations;
    if (settings_.learn_steps) {
      std::vector<qx::sim::ActivationSite*> sites;
      for (auto& site : context.sim.activation_sites()) sites.push_back(site.get());
      activations = std::make_unique<qx::passes::ActivationTraining>(
          context.sim, sites, qx::passes::ActivationTrainingOptions{true, 0.0, 0.0});
      for (std::size_t i = 0; i < sites.size(); ++i) {
        trained.steps.emplace_back(sites[i]->name + ".step", activations->steps()[i]);
      }
    }
    for (auto& item : context.model.named_parameters()) {
      const auto& key = item.key();
      if (item.value().dim() == 1 && key.size() > 5 && key.compare(key.size() - 5, 5, ".bias") == 0) {
        trained.sgd.emplace_back(item.key(), item.value());
      }
    }
    // Biases at the weights' rate (weight decay reaches only rank >= 2 parameters); steps undecayed.
    Optimizers optimizers{
        {trained.sgd, qx::train::SgdOptions().lr(settings_.lr).weight_decay(settings_.weight_decay)},
        {trained.steps, qx::train::SgdOptions().lr(settings_.lr * settings_.step_lr_scale).weight_decay(0.0)},
        nullptr};
    if (settings_.weight_optimizer == "adam") {
      optimizers.latent =
          std::make_unique<torch::optim::Adam>(trained.adam_latents, torch::optim::AdamOptions(settings_.adam_lr));
    }
    context.report = train(context, trained, activations.get(), optimizers);

    torch::NoGradGuard no_grad;
    for (auto& w : trained.weights) {
      w.substitution.reset();
      w.site->qparams.scale = w.scale.detach().clamp_min(1e-8).reshape(w.site->qparams.scale.sizes()).clone();
      w.site->weight.copy_(context.sim.quantizer().apply(w.float_value().detach(), w.site->qparams));
    }
    activations.reset();  // the simulation's hooks back, the learned steps in the sites
  }

 private:
  // Each weight layer's latent weight (the float weight, in its channel's step units with
  // "adam") and learnable step, with LSQ's gradient scale, listed for its optimiser.
  TrainedParameters weight_parameters(qx::sim::QuantSim& sim) const {
    TrainedParameters trained;
    const bool adam = settings_.weight_optimizer == "adam";
    for (auto& site : sim.weight_sites()) {
      const auto& q = site.qparams;
      const auto step = (q.axis >= 0 ? q.scale : q.scale.reshape({1})).detach().to(sim.device()).clone();
      const auto zero_point = q.zero_point.to(sim.device(), torch::kFloat)
                                  .reshape(q.axis >= 0 ? q.zero_point.sizes() : c10::IntArrayRef{1});
      torch::Tensor unit;
      if (adam) {
        std::vector<std::int64_t> shape(site.weight.dim(), 1);
        if (q.axis >= 0) shape[q.axis] = -1;
        unit = step.clamp_min(1e-8).reshape(shape);
      }
      const auto latent = unit.defined() ? sim.float_weight(site.name) / unit : sim.float_weight(site.name).clone();
      TrainedWeight w{&site, latent.requires_grad_(true), unit, step.requires_grad_(settings_.learn_steps),
                      zero_point, 0.0, std::make_unique<WeightSubstitution>(site)};
      const auto per_step = site.weight.numel() / (q.axis >= 0 ? q.scale.numel() : 1);
      w.grad_factor = qx::passes::lsq_grad_factor(per_step, q.qmax);
      if (adam) {
        trained.adam_latents.push_back(w.latent);
      } else {
        trained.sgd.emplace_back(site.name + ".latent", w.latent);
      }
      if (settings_.learn_steps) trained.steps.emplace_back(site.name + ".step", w.scale);
      trained.weights.push_back(std::move(w));
    }
    return trained;
  }

  // The epochs: the cosine schedule over `epochs`, then `average_epochs` at the floor rate,
  // whose iterates are averaged. Returns the pass's report (the training curve).
  std::string train(PassContext& context, TrainedParameters& trained, qx::passes::ActivationTraining* activations,
                    Optimizers& optimizers) const {
    const auto& data = *context.train_set;
    const auto size = settings_.images_per_epoch > 0 ? std::min(settings_.images_per_epoch, data.size()) : data.size();
    const auto steps_per_epoch = std::max<std::int64_t>(1, size / settings_.batch_size);
    const auto cosine_steps = steps_per_epoch * settings_.epochs;
    const auto epochs = settings_.epochs + settings_.average_epochs;
    const auto total = steps_per_epoch * epochs;
    const double floor = settings_.average_epochs > 0 ? settings_.average_rate : 0.0;
    auto averaged = trained.all();
    qx::train::TensorAverage average;
    TrainingCurve curve;
    // Every trained tensor, the optimisers' moments, the average and the curve, at each epoch's end.
    const qx::passes::ProgressFile progress(context.resume_file, context.name);
    std::vector<std::string> points;
    auto sums = curve.sums();
    const auto state = [&] {
      return qx::passes::TrainingState{&averaged, {&optimizers.weights, &optimizers.steps}, optimizers.latent.get(),
                                       &average, &points, &sums};
    };
    std::int64_t first_epoch = 0;
    if (progress.exists()) {
      first_epoch = progress.load(state());
      curve.restore(std::move(points), sums);
      spdlog::info("{}: resuming after epoch {}/{} ({})", context.name, first_epoch, epochs, context.resume_file);
    }
    for (std::int64_t epoch = first_epoch; epoch < epochs; ++epoch) {
      auto generator = at::make_generator<at::CPUGeneratorImpl>(static_cast<std::uint64_t>(context.seed) * 1000003u +
                                                                static_cast<std::uint64_t>(epoch));
      const auto order = torch::randperm(data.size(), generator, torch::kInt64);
      for (std::int64_t i = 0; i < steps_per_epoch; ++i) {
        const auto step = epoch * steps_per_epoch + i;
        const auto batch = draw_batch(data, order.slice(0, i * settings_.batch_size, (i + 1) * settings_.batch_size),
                                      generator, trained.weights.front().site->weight);
        const double fraction =
            step < cosine_steps
                ? floor + (1.0 - floor) * qx::train::cosine_annealing(static_cast<double>(step), cosine_steps)
                : floor;
        optimizers.schedule(settings_, fraction);
        optimizers.zero_grad();
        torch::Tensor logits;
        const double value = training_loss(context, trained.weights, batch, logits, step);
        optimizers.step();
        {
          torch::NoGradGuard no_grad;
          for (auto& w : trained.weights) w.scale.clamp_min_(1e-8);
          if (activations) activations->clamp_steps();
          if (step >= cosine_steps) average.add(averaged);
          curve.add(value, logits.argmax(1).eq(dominant_labels(batch.labels, batch.mixed)).sum().item<double>(),
                    static_cast<double>(batch.labels.size(0)));
        }
        if ((step + 1) % settings_.curve_every == 0 || step + 1 == total) {
          curve.point(step + 1, steps_per_epoch, settings_.lr * fraction);
        }
      }
      spdlog::info("{}: epoch {}/{} done", context.name, epoch + 1, epochs);
      if (progress.enabled() && epoch + 1 < epochs) {
        points = curve.points();
        sums = curve.sums();
        progress.save(epoch + 1, state());
      }
    }
    progress.remove();
    if (average.count() > 0) average.copy_to(averaged);
    return fmt::format("{{\"steps_per_epoch\":{},\"averaged_snapshots\":{},\"curve\":{}}}", steps_per_epoch,
                       average.count(), curve.json());
  }

  // The training images at `indices`, augmented, in the layout and on the device of `like`.
  Batch draw_batch(const qx::data::Dataset& data, const torch::Tensor& indices, at::Generator& generator,
                   const torch::Tensor& like) const {
    Batch batch;
    auto images = qx::data::normalize(qx::data::random_crop_flip(data.images.index_select(0, indices), 4, generator));
    batch.labels = data.labels.index_select(0, indices).to(like.device());
    if (settings_.mixup > 0) {
      batch.mixed = qx::data::mixup(images, settings_.mixup, generator);
      images = batch.mixed.images;
    }
    if (like.is_contiguous(torch::MemoryFormat::ChannelsLast)) images = images.contiguous(torch::MemoryFormat::ChannelsLast);
    batch.images = images.to(like.device());
    return batch;
  }

  // One step's loss (labels, distillation or both), back-propagated; returns its value and the
  // student's logits.
  double training_loss(PassContext& context, std::vector<TrainedWeight>& weights, const Batch& batch,
                       torch::Tensor& logits, std::int64_t step) const {
    const auto teacher = settings_.distill > 0 ? teacher_targets(context, weights, batch.images) : torch::Tensor();
    for (auto& w : weights) w.substitution->set(w.quantized());
    logits = context.model.forward(batch.images);
    auto loss = settings_.distill < 1.0 ? label_loss(logits, batch.labels, batch.mixed) : torch::zeros({}, logits.options());
    if (teacher.defined()) {
      namespace F = torch::nn::functional;
      const double t = settings_.temperature;
      const auto divergence = F::kl_div(F::log_softmax(logits / t, F::LogSoftmaxFuncOptions(1)), teacher,
                                        F::KLDivFuncOptions().reduction(torch::kBatchMean));
      loss = (1.0 - settings_.distill) * loss + settings_.distill * t * t * divergence;
    }
    const double value = loss.item<double>();
    if (!std::isfinite(value)) qx::fail("{}: loss is {} at step {}{}", context.name, value, step, first_bad(weights));
    loss.backward();
    return value;
  }

  // Cross-entropy with the labels; after mixup, each image's two labels by their weights.
  static torch::Tensor label_loss(const torch::Tensor& logits, const torch::Tensor& labels,
                                  const qx::data::MixedBatch& mixed) {
    namespace F = torch::nn::functional;
    if (!mixed.lambda.defined()) return F::cross_entropy(logits, labels);
    const auto options = F::CrossEntropyFuncOptions().reduction(torch::kNone);
    const auto lambda = mixed.lambda.to(logits.device());
    const auto partner_labels = labels.index_select(0, mixed.partner.to(labels.device()));
    return (lambda * F::cross_entropy(logits, labels, options) +
            (1 - lambda) * F::cross_entropy(logits, partner_labels, options))
        .mean();
  }

  // For the training curve's top-1: after mixup, the label of whichever image weighs more.
  static torch::Tensor dominant_labels(const torch::Tensor& labels, const qx::data::MixedBatch& mixed) {
    if (!mixed.lambda.defined()) return labels;
    const auto partner_labels = labels.index_select(0, mixed.partner.to(labels.device()));
    return torch::where(mixed.lambda.to(labels.device()).ge(0.5), labels, partner_labels);
  }

  // The float model's class probabilities at the temperature, for the batch (and, teacher_flip,
  // the mean with its mirror images'): float weights through the substitutions, float biases and
  // no activation fake-quant (FloatScope), without gradients.
  torch::Tensor teacher_targets(PassContext& context, std::vector<TrainedWeight>& weights,
                                const torch::Tensor& images) const {
    namespace F = torch::nn::functional;
    torch::NoGradGuard no_grad;
    for (auto& w : weights) w.substitution->set(context.sim.float_weight(w.site->name));
    qx::sim::QuantSim::FloatScope float_model(context.sim);
    const auto soften = [&](const torch::Tensor& batch) {
      return F::softmax(context.model.forward(batch) / settings_.temperature, F::SoftmaxFuncOptions(1));
    };
    auto targets = soften(images);
    if (settings_.teacher_flip) targets = 0.5 * (targets + soften(images.flip({3})));
    return targets;
  }

  // Which layer went bad first, for the error message.
  static std::string first_bad(const std::vector<TrainedWeight>& weights) {
    for (const auto& w : weights) {
      if (!torch::isfinite(w.latent).all().item<bool>() || !torch::isfinite(w.scale).all().item<bool>()) {
        return fmt::format(" (layer '{}' has non-finite weights or steps)", w.site->name);
      }
    }
    return "";
  }

  LsqSettings settings_;
};

}  // namespace

QX_PLUGIN(pass, lsq, "1.6.0", registrar) {
  registrar.add_pass("lsq", [](const qx::Options& options) {
    LsqSettings s;
    s.epochs = options.get_int("epochs", s.epochs, 1, 1000);
    s.batch_size = options.get_int("batch_size", s.batch_size, 1, 4096);
    s.lr = options.get_double("lr", s.lr, 0.0, 10.0);
    s.weight_decay = options.get_double("weight_decay", s.weight_decay, 0.0, 1.0);
    s.curve_every = options.get_int("curve_every", s.curve_every, 1, 1000000);
    s.learn_steps = options.get_bool("learn_steps", s.learn_steps);
    s.images_per_epoch = options.get_int("images_per_epoch", s.images_per_epoch, 0, 100000000);
    s.distill = options.get_double("distill", s.distill, 0.0, 1.0);
    s.temperature = options.get_double("temperature", s.temperature, 0.01, 100.0);
    s.teacher_flip = options.get_bool("teacher_flip", s.teacher_flip);
    options.require("teacher_flip", s.distill > 0 || !s.teacher_flip,
                    "needs distill > 0: without it there is no teacher");
    s.step_lr_scale = options.get_double("step_lr_scale", s.step_lr_scale, 0.0, 10000.0);
    s.weight_optimizer = options.get_choice("weight_optimizer", s.weight_optimizer, {"sgd", "adam"});
    s.adam_lr = options.get_double("adam_lr", s.adam_lr, 0.0, 10.0);
    s.mixup = options.get_double("mixup", s.mixup, 0.0, 100.0);
    s.average_epochs = options.get_int("average_epochs", s.average_epochs, 0, 1000);
    s.average_rate = options.get_double("average_rate", s.average_rate, 0.0, 1.0);
    return std::make_unique<LsqPass>(s);
  });
}
