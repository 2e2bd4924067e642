#include "qx/nn/model_contract.h"

#include <map>
#include <set>

#include <ATen/CPUGeneratorImpl.h>

#include "qx/core/error.h"
#include "qx/nn/graph.h"

namespace qx::nn {

namespace {

// A model that lists its graph must compute with it what forward() computes: exporters trust it.
void check_graph(QuantizableModel& model, const std::string& plugin, const ModelContract& contract) {
  const auto graph = model.graph();
  if (graph.empty()) return;
  const bool training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(0);
  const auto images = torch::randn({2, contract.channels, contract.height, contract.width}, generator);
  torch::Tensor expected, interpreted;
  try {
    expected = model.forward(images);
    interpreted = run_graph(model, graph, images);
  } catch (const Error& error) {
    model.train(training);
    fail("model plugin '{}': {}", plugin, error.what());
  }
  model.train(training);
  const double scale = expected.abs().max().item<double>() + 1e-6;
  if (!interpreted.sizes().equals(expected.sizes()) || (interpreted - expected).abs().max().item<double>() > 1e-4 * scale) {
    fail("model plugin '{}': graph() does not compute what forward() does (logits {} against {})", plugin,
         c10::str(interpreted.sizes()), c10::str(expected.sizes()));
  }
}

}  // namespace

void check_model_contract(QuantizableModel& model, const std::string& plugin, const ModelContract& contract) {
  // weight layer -> the points that feed it: {stored tensors, re-quantizing points}
  std::map<std::string, std::pair<int, int>> fed;
  std::set<std::string> modules;
  std::set<std::string> convs, batch_norms;
  for (const auto& layer : weight_layers(model)) fed[layer.name] = {0, 0};
  for (const auto& item : model.named_modules("", false)) {
    modules.insert(item.key());
    if (item.value()->as<torch::nn::Conv2d>()) convs.insert(item.key());
    if (item.value()->as<torch::nn::BatchNorm2d>()) batch_norms.insert(item.key());
  }
  const auto points = quant_points(model);
  std::set<std::string> point_names;
  for (const auto& point : points) {
    point_names.insert(point.name);
    for (const auto& layer : point.point->options.feeds()) {
      auto it = fed.find(layer);
      if (it == fed.end()) {
        fail("model plugin '{}': quant point '{}' feeds '{}', which is not a Conv2d or Linear layer of the model",
             plugin, point.name, layer);
      }
      (point.point->options.requantizes() ? it->second.second : it->second.first) += 1;
    }
  }
  // One stored tensor per layer input, and at most one point that re-quantizes it narrower.
  for (const auto& [layer, count] : fed) {
    const auto [stored, requantizing] = count;
    if (stored + requantizing == 0) fail("model plugin '{}': no quant point feeds weight layer '{}'", plugin, layer);
    if (stored > 1 || requantizing > 1) {
      fail("model plugin '{}': weight layer '{}' is fed by {} quant points and {} re-quantizing ones, expected at most "
           "one of each",
           plugin, layer, stored, requantizing);
    }
  }
  for (const auto& pair : model.conv_bn_pairs()) {
    if (!convs.count(pair.conv) || !batch_norms.count(pair.batch_norm)) {
      fail("model plugin '{}': conv_bn_pairs() names '{}' and '{}', which are not a Conv2d and a BatchNorm2d of the "
           "model",
           plugin, pair.conv, pair.batch_norm);
    }
  }
  for (const auto& pair : model.equalization_pairs()) {
    if (!fed.count(pair.first) || !fed.count(pair.second)) {
      fail("model plugin '{}': equalization_pairs() names '{}' and '{}', which are not both weight layers", plugin,
           pair.first, pair.second);
    }
  }
  for (const auto& block : model.blocks()) {
    if (!point_names.count(block.input_point)) {
      fail("model plugin '{}': block '{}' reads quant point '{}', which the model does not have", plugin, block.name,
           block.input_point);
    }
    for (const auto& layer : block.layers) {
      if (!fed.count(layer)) fail("model plugin '{}': block '{}' names weight layer '{}', which the model does not have", plugin, block.name, layer);
    }
    for (const auto& point : block.points) {
      if (!point_names.count(point)) fail("model plugin '{}': block '{}' names quant point '{}', which the model does not have", plugin, block.name, point);
    }
  }

  // Two images through forward(), in eval mode and without gradients, then the mode as it was.
  const bool training = model.is_training();
  model.eval();
  torch::Tensor logits;
  try {
    torch::NoGradGuard no_grad;
    logits = model.forward(torch::zeros({2, contract.channels, contract.height, contract.width}));
  } catch (const c10::Error& error) {
    model.train(training);
    const std::string reason = error.what_without_backtrace();
    fail("model plugin '{}': forward() fails on images [2, {}, {}, {}]: {}", plugin, contract.channels,
         contract.height, contract.width, reason.substr(0, reason.find('\n')));
  }
  model.train(training);
  if (!logits.defined() || logits.dim() != 2 || logits.size(0) != 2 || logits.size(1) < 2) {
    fail("model plugin '{}': forward() maps images [2, {}, {}, {}] to {}, expected logits [2, classes]", plugin,
         contract.channels, contract.height, contract.width,
         logits.defined() ? c10::str(logits.sizes()) : std::string("an undefined tensor"));
  }
  check_graph(model, plugin, contract);
}

}  // namespace qx::nn
