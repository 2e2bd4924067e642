#include "qx/sim/quant_sim.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/ranges.h>

#include "qx/core/error.h"
#include "qx/nn/fold.h"

namespace qx::sim {

using quant::TensorRole;

struct QuantSim::ActivationSite {
  std::string name;
  std::shared_ptr<nn::QuantPointImpl> point;
  int bits = 0;
  quant::QuantSpec spec;
  std::shared_ptr<quant::Observer> observer;
  quant::Range range;
  quant::QParams qparams;
  torch::Tensor signal, noise;  // float64 sums over the first batch after quantize_activations()
  std::int64_t measured_batches = 0;
};

namespace {

double sqnr_db(double signal, double noise) {
  if (noise <= 0.0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal / noise);
}

template <typename Site>
class ObserveHook : public nn::ActivationHook {
 public:
  explicit ObserveHook(Site& site) : site_(site) {}
  torch::Tensor operator()(const torch::Tensor& x) override {
    if (!torch::isfinite(x).all().template item<bool>()) {
      const auto bad = x.numel() - torch::isfinite(x).sum().template item<std::int64_t>();
      fail("calibration: {} NaN or Inf values at activation point '{}'", bad, site_.name);
    }
    site_.observer->observe(x);
    return x;
  }

 private:
  Site& site_;
};

template <typename Site>
class FakeQuantHook : public nn::ActivationHook {
 public:
  FakeQuantHook(Site& site, const quant::Quantizer& quantizer) : site_(site), quantizer_(quantizer) {}
  torch::Tensor operator()(const torch::Tensor& x) override {
    auto quantized = quantizer_.apply(x, site_.qparams);
    // SQNR from the first batch only: measuring every batch would cost more than quantizing.
    if (site_.measured_batches++ == 0) {
      torch::NoGradGuard no_grad;
      site_.signal += x.square().sum(torch::kFloat64);
      site_.noise += (x - quantized).square().sum(torch::kFloat64);
    }
    return quantized;
  }

 private:
  Site& site_;
  const quant::Quantizer& quantizer_;
};

}  // namespace

QuantSim::QuantSim(QuantizableModel& model, const PluginHost& host, CellSpec cell)
    : model_(model), host_(host), cell_(std::move(cell)) {
  if (!cell_.quantize) return;
  model_.eval();
  if (cell_.fold_batch_norm) fold_batch_norms(model_);
  quantizer_ = host_.create_quantizer(cell_.quantizer.name, cell_.quantizer.options);
  for (const auto& [name, point] : quant_points(model_)) {
    auto site = std::make_shared<ActivationSite>();
    site->name = name;
    site->point = point;
    site->bits = activation_bits(point->options.feeds());
    site->spec = quantizer_->spec(TensorRole::kActivation, site->bits);
    site->spec.validate(fmt::format("activation point '{}'", name));
    site->observer = host_.create_observer(cell_.observer.name, cell_.observer.options,
                                           quant::ObserverContext{site->spec.axis, name});
    sites_.push_back(std::move(site));
  }
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
  for (auto& site : sites_) site->point->set_hook(std::make_shared<ObserveHook<ActivationSite>>(*site));
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
}

void QuantSim::quantize_weights() {
  if (!cell_.quantize) return;
  torch::NoGradGuard no_grad;
  weights_.clear();
  for (const auto& layer : weight_layers(model_)) {
    TensorRecord record;
    record.name = layer.name;
    record.role = TensorRole::kWeight;
    record.bits = weight_bits(layer.name);
    const auto spec = quantizer_->spec(TensorRole::kWeight, record.bits);
    spec.validate(fmt::format("weight of '{}'", layer.name));
    auto observer = host_.create_observer(cell_.weight_observer.name, cell_.weight_observer.options,
                                          quant::ObserverContext{spec.axis, layer.name});
    observer->observe(layer.weight);
    record.range = observer->range(spec);
    record.qparams = quantizer_->qparams(record.range, spec);
    const auto quantized = quantizer_->apply(layer.weight, record.qparams);
    const auto original = layer.weight.to(torch::kFloat64);
    record.sqnr_db = sqnr_db(original.square().sum().item<double>(),
                             (original - quantized.to(torch::kFloat64)).square().sum().item<double>());
    layer.weight.copy_(quantized);
    weights_.push_back(std::move(record));
  }
}

void QuantSim::quantize_activations() {
  if (!cell_.quantize) return;
  for (auto& site : sites_) {
    site->range = site->observer->range(site->spec);
    site->qparams = quantizer_->qparams(site->range, site->spec);
    const auto zero = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64));
    site->signal = zero.clone();
    site->noise = zero.clone();
    site->measured_batches = 0;
    site->point->set_hook(std::make_shared<FakeQuantHook<ActivationSite>>(*site, *quantizer_));
  }
}

std::vector<TensorRecord> QuantSim::records() const {
  auto out = weights_;
  for (const auto& site : sites_) {
    TensorRecord record;
    record.name = site->name;
    record.role = TensorRole::kActivation;
    record.bits = site->bits;
    record.range = site->range;
    record.qparams = site->qparams;
    record.sqnr_db = site->signal.defined() ? sqnr_db(site->signal.item<double>(), site->noise.item<double>()) : 0.0;
    out.push_back(std::move(record));
  }
  return out;
}

void validate_cell(const CellSpec& cell, QuantizableModel& model, const std::string& where) {
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
