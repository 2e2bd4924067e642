#include "qx/run/tensor_histograms.h"

#include <algorithm>

#include <fmt/ranges.h>

#include "qx/core/error.h"
#include "qx/nn/fold.h"
#include "qx/sim/capture.h"

namespace qx::run {

namespace {

TensorHistogram histogram_of(const std::string& name, const std::string& role, const torch::Tensor& values,
                             int bins) {
  const auto x = values.detach().to(torch::kFloat64).flatten();
  TensorHistogram histogram{name, role, x.min().item<double>(), x.max().item<double>(), {}};
  // A constant tensor gets one full bin; histc would widen its range on its own.
  const double hi = histogram.hi > histogram.lo ? histogram.hi : histogram.lo + 1.0;
  const auto counts = torch::histc(x, bins, histogram.lo, hi).to(torch::kInt64);
  const auto* data = counts.data_ptr<std::int64_t>();
  histogram.counts.assign(data, data + bins);
  return histogram;
}

}  // namespace

void check_histogram_layers(torch::nn::Module& model, const std::vector<std::string>& layers,
                            const std::string& where) {
  std::vector<std::string> known;
  for (const auto& layer : weight_layers(model)) known.push_back(layer.name);
  for (const auto& layer : layers) {
    if (std::find(known.begin(), known.end(), layer) == known.end()) {
      fail("{}: histograms: the model has no weight layer '{}' (it has {})", where, layer, fmt::join(known, ", "));
    }
  }
}

std::vector<TensorHistogram> layer_histograms(QuantizableModel& model, const std::vector<std::string>& layers,
                                              const std::vector<torch::Tensor>& calibration, int bins) {
  check_histogram_layers(model, layers, "histograms");
  torch::NoGradGuard no_grad;
  model.eval();
  fold_batch_norms(model);
  const auto weights = weight_layers(model);
  const auto points = quant_points(model);
  std::vector<TensorHistogram> histograms;
  for (const auto& layer : layers) {
    const auto weight = std::find_if(weights.begin(), weights.end(), [&](const auto& w) { return w.name == layer; });
    histograms.push_back(histogram_of(layer, "weight", weight->weight, bins));
    for (const auto& [name, point] : points) {
      const auto& feeds = point->options.feeds();
      if (std::find(feeds.begin(), feeds.end(), layer) == feeds.end()) continue;
      histograms.push_back(histogram_of(name, "activation", sim::capture_point(model, *point, calibration), bins));
      break;
    }
  }
  return histograms;
}

}  // namespace qx::run
