#include "qx/sim/quant_sim.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/ranges.h>

#include "qx/core/error.h"
#include "qx/nn/fold.h"

namespace qx::sim {

using quant::TensorRole;

namespace {

double sqnr_db(double signal, double noise) {
  if (noise <= 0.0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal / noise);
}

class ObserveHook : public nn::ActivationHook {
 public:
  explicit ObserveHook(ActivationSite& site) : site_(site) {}
  torch::Tensor operator()(const torch::Tensor& x) override {
    if (!torch::isfinite(x).all().item<bool>()) {
      const auto bad = x.numel() - torch::isfinite(x).sum().item<std::int64_t>();
      fail("calibration: {} NaN or Inf values at activation point '{}'", bad, site_.name);
    }
    site_.observer->observe(x.to(torch::kCPU));  // statistics live in host memory, whatever the device
    return x;
  }

 private:
  ActivationSite& site_;
};

class FakeQuantHook : public nn::ActivationHook {
 public:
  FakeQuantHook(ActivationSite& site, const quant::Quantizer& quantizer) : site_(site), quantizer_(quantizer) {}
  torch::Tensor operator()(const torch::Tensor& x) override {
    auto quantized = quantizer_.apply(x, site_.qparams);
    // SQNR from the first batch only: measuring every batch would cost more than quantizing.
    if (site_.measured_batches++ == 0) {
      torch::NoGradGuard no_grad;
      site_.signal += x.square().sum(torch::kFloat64).cpu();
      site_.noise += (x - quantized).square().sum(torch::kFloat64).cpu();
    }
    return quantized;
  }

 private:
  ActivationSite& site_;
  const quant::Quantizer& quantizer_;
};

// Parameters and buffers by name, copied.
std::map<std::string, torch::Tensor> snapshot(torch::nn::Module& model) {
  std::map<std::string, torch::Tensor> state;
  for (const auto& item : model.named_parameters()) state[item.key()] = item.value().detach().clone();
  for (const auto& item : model.named_buffers()) state[item.key()] = item.value().detach().clone();
  return state;
}

void restore(torch::nn::Module& model, const std::map<std::string, torch::Tensor>& state) {
  torch::NoGradGuard no_grad;
  for (auto& item : model.named_parameters()) item.value().copy_(state.at(item.key()));
  for (auto& item : model.named_buffers()) item.value().copy_(state.at(item.key()));
}

}  // namespace

QuantSim::QuantSim(QuantizableModel& model, const quant::ObserverQuantizerSource& provider, spec::CellSpec cell)
    : model_(model), provider_(provider), cell_(std::move(cell)) {
  if (!cell_.quantize) return;
  model_.eval();
  if (cell_.fold_batch_norm) fold_batch_norms(model_);
  quantizer_ = provider_.create_quantizer(cell_.quantizer.name, cell_.quantizer.options);
  for (const auto& [name, point] : quant_points(model_)) {
    int bits = activation_bits(point->options.feeds());
    if (point->options.requantizes()) {
      if (cell_.residual_bits <= bits) continue;  // the stream is stored at this width already
    } else if (point->options.residual() && cell_.residual_bits > 0) {
      bits = std::max(bits, cell_.residual_bits);
    }
    auto site = std::make_shared<ActivationSite>();
    site->name = name;
    site->point = point;
    site->spec = quant::resolve_spec(*quantizer_, TensorRole::kActivation, bits, fmt::format("activation point '{}'", name));
    site->observer = provider_.create_observer(cell_.observer.name, cell_.observer.options,
                                           quant::ObserverContext{site->spec.axis, name});
    sites_.push_back(std::move(site));
  }
  for (const auto& layer : weight_layers(model_)) {
    WeightSite site;
    site.name = layer.name;
    site.module = layer.module;
    site.is_conv = layer.is_conv;
    site.weight = layer.weight;
    site.spec = quant::resolve_spec(*quantizer_, TensorRole::kWeight, weight_bits(layer.name),
                                    fmt::format("weight of '{}'", layer.name));
    weights_.push_back(std::move(site));
  }
}

void QuantSim::forget_measurements() {
  for (auto& site : sites_) {
    if (!site->signal.defined()) continue;
    site->signal.zero_();
    site->noise.zero_();
    site->measured_batches = 0;
  }
}

QuantSim::FloatScope::FloatScope(QuantSim& sim) : sim_(sim), simulated_(snapshot(sim.model_)) {
  if (sim_.float_state_.empty()) fail("the float model is known only after calibration");
  restore(sim_.model_, sim_.float_state_);
  for (auto& site : sim_.sites_) {
    hooks_.push_back(site->point->hook());  // the simulation's, or a training pass's (passes/learned_steps.h)
    site->point->clear_hook();
  }
}

QuantSim::FloatScope::~FloatScope() {
  restore(sim_.model_, simulated_);
  for (std::size_t i = 0; i < sim_.sites_.size(); ++i) sim_.sites_[i]->point->set_hook(hooks_[i]);
}

WeightSite& QuantSim::weight_site(const std::string& layer) {
  for (auto& site : weights_) {
    if (site.name == layer) return site;
  }
  fail("no weight layer '{}'", layer);
}

ActivationSite& QuantSim::activation_site(const std::string& point) {
  if (auto* site = find_activation_site(point)) return *site;
  fail("no activation point '{}'", point);
}

ActivationSite* QuantSim::find_activation_site(const std::string& point) {
  for (auto& site : sites_) {
    if (site->name == point) return site.get();
  }
  return nullptr;
}

// A layer that re-quantizes the residual stream reads its own point, not the stream's.
ActivationSite& QuantSim::input_site(const std::string& layer) {
  ActivationSite* found = nullptr;
  for (auto& site : sites_) {
    const auto& feeds = site->point->options.feeds();
    if (std::find(feeds.begin(), feeds.end(), layer) == feeds.end()) continue;
    if (site->point->options.requantizes()) return *site;
    if (!found) found = site.get();
  }
  if (found) return *found;
  fail("no activation point feeds weight layer '{}'", layer);
}

const torch::Tensor& QuantSim::float_weight(const std::string& layer) const {
  auto it = float_state_.find(layer + ".weight");
  if (it == float_state_.end()) fail("no float weight for '{}' (calibrate first)", layer);
  return it->second;
}

QuantSim::~QuantSim() {
  for (auto& site : sites_) site->point->clear_hook();
}

int QuantSim::weight_bits(const std::string& layer) const {
  auto it = cell_.overrides.find(layer);
  return it != cell_.overrides.end() && it->second.weight_bits > 0 ? it->second.weight_bits : cell_.weight_bits;
}

// A point feeding several layers takes the widest override among them: it is one stored tensor.
int QuantSim::activation_bits(const std::vector<std::string>& feeds) const {
  int bits = 0;
  for (const auto& layer : feeds) {
    auto it = cell_.overrides.find(layer);
    if (it != cell_.overrides.end()) bits = std::max(bits, it->second.activation_bits);
  }
  return bits > 0 ? bits : cell_.activation_bits;
}

void QuantSim::calibrate(const std::vector<torch::Tensor>& batches) {
  if (!cell_.quantize) return;
  torch::NoGradGuard no_grad;
  model_.eval();
  float_state_ = snapshot(model_);
  for (auto& site : sites_) site->point->set_hook(std::make_shared<ObserveHook>(*site));
  for (const auto& batch : batches) model_.forward(batch);
  for (auto& site : sites_) site->point->clear_hook();
}

std::vector<std::shared_ptr<quant::Observer>> QuantSim::activation_observers() const {
  std::vector<std::shared_ptr<quant::Observer>> out;
  for (const auto& site : sites_) out.push_back(site->observer);
  return out;
}

void QuantSim::adopt_calibration(const std::vector<std::shared_ptr<quant::Observer>>& observers) {
  if (observers.size() != sites_.size()) {
    fail("calibration of {} activation points given to a model with {}", observers.size(), sites_.size());
  }
  for (std::size_t i = 0; i < sites_.size(); ++i) sites_[i]->observer = observers[i];
  float_state_ = snapshot(model_);
}

void QuantSim::quantize_weight(WeightSite& site, const torch::Tensor& float_weight) {
  torch::NoGradGuard no_grad;
  auto observer = provider_.create_observer(cell_.weight_observer.name, cell_.weight_observer.options,
                                        quant::ObserverContext{site.spec.axis, site.name});
  observer->observe(float_weight.to(torch::kCPU));
  site.range = observer->range(quant::Grid(site.spec, quantizer_.get()));
  site.qparams = quantizer_->qparams(site.range, site.spec);
  site.weight.copy_(quantizer_->apply(float_weight, site.qparams));
}

void QuantSim::quantize_weights() {
  if (!cell_.quantize) return;
  for (auto& site : weights_) quantize_weight(site, site.weight.detach().clone());
}

void QuantSim::set_weight_bits(const std::string& layer, int bits) {
  auto& weight = weight_site(layer);
  weight.spec = quant::resolve_spec(*quantizer_, TensorRole::kWeight, bits, fmt::format("weight of '{}'", layer));
  quantize_weight(weight, float_weight(layer));
}

void QuantSim::quantize_activations() {
  if (!cell_.quantize) return;
  for (auto& site : sites_) {
    site->range = site->observer->range(quant::Grid(site->spec, quantizer_.get()));
    site->qparams = quantizer_->qparams(site->range, site->spec);
    const auto zero = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64));
    site->signal = zero.clone();
    site->noise = zero.clone();
    site->measured_batches = 0;
    site->point->set_hook(std::make_shared<FakeQuantHook>(*site, *quantizer_));
  }
}

std::vector<TensorRecord> QuantSim::records() const {
  std::vector<TensorRecord> out;
  for (const auto& site : weights_) {
    if (!site.qparams.scale.defined()) continue;
    const auto original = float_weight(site.name).to(torch::kFloat64);
    const auto error = original - site.weight.detach().to(torch::kFloat64);
    out.push_back({site.name, TensorRole::kWeight, site.spec.bits, site.range, site.qparams,
                   sqnr_db(original.square().sum().item<double>(), error.square().sum().item<double>())});
  }
  for (const auto& site : sites_) {
    TensorRecord record;
    record.name = site->name;
    record.role = TensorRole::kActivation;
    record.bits = site->spec.bits;
    record.range = site->range;
    record.qparams = site->qparams;
    record.qparams.scale = site->qparams.scale.defined() ? site->qparams.scale.detach().reshape({}) : torch::Tensor();
    record.sqnr_db = site->signal.defined() ? sqnr_db(site->signal.item<double>(), site->noise.item<double>()) : 0.0;
    out.push_back(std::move(record));
  }
  return out;
}

void validate_cell(const spec::CellSpec& cell, QuantizableModel& model, const std::string& where) {
  if (!cell.quantize) return;
  quant::QuantSpec{cell.weight_bits}.validate(where + ": weight bits");
  quant::QuantSpec{cell.activation_bits}.validate(where + ": activation bits");
  std::vector<std::string> layers;
  for (const auto& layer : weight_layers(model)) layers.push_back(layer.name);
  for (const auto& [layer, bits] : cell.overrides) {
    if (std::find(layers.begin(), layers.end(), layer) == layers.end()) {
      fail("{}: override for unknown layer '{}' (the model's layers: {})", where, layer, fmt::join(layers, ", "));
    }
    if (bits.weight_bits) quant::QuantSpec{bits.weight_bits}.validate(fmt::format("{}: override '{}' weight bits", where, layer));
    if (bits.activation_bits) {
      quant::QuantSpec{bits.activation_bits}.validate(fmt::format("{}: override '{}' activation bits", where, layer));
    }
  }
}

}  // namespace qx::sim
