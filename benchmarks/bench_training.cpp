// Training hot paths: one SGD step of a model plugin, and the batch augmentation pipeline.
#include <benchmark/benchmark.h>

#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include "qx/core/runtime.h"
#include "qx/data/batches.h"
#include "qx/plugin/host.h"
#include "qx/train/sgd.h"

namespace {

std::vector<std::pair<std::string, torch::Tensor>> parameters_of(torch::nn::Module& model) {
  std::vector<std::pair<std::string, torch::Tensor>> parameters;
  for (auto& item : model.named_parameters()) parameters.emplace_back(item.key(), item.value());
  return parameters;
}

void BM_TrainStep(benchmark::State& state) {
  qx::configure_threads(0);
  torch::manual_seed(0);
  qx::PluginHost host(qx::resolve_plugin_dir("", ""));
  auto model = host.create_model("resnet20", qx::Options("model 'resnet20'"));
  model->train();
  qx::train::Sgd optimizer(parameters_of(*model), qx::train::SgdOptions().lr(0.05));
  const int64_t batch = state.range(0);
  auto images = torch::randn({batch, 3, 32, 32});
  auto labels = torch::randint(0, 10, {batch});
  for (auto _ : state) {
    optimizer.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(model->forward(images), labels);
    loss.backward();
    optimizer.step();
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_TrainStep)->Arg(128)->Unit(benchmark::kMillisecond)->MinTime(5.0);

void BM_AugmentBatch(benchmark::State& state) {
  auto images = torch::randint(0, 256, {state.range(0), 3, 32, 32}, torch::kUInt8);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(0);
  for (auto _ : state) {
    benchmark::DoNotOptimize(qx::data::normalize(qx::data::random_crop_flip(images, 4, generator)));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_AugmentBatch)->Arg(128)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
