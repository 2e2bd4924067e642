// Training hot paths: one SGD step of a model plugin, and the batch augmentation pipeline.
#include <benchmark/benchmark.h>

#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include "qx/data/batches.h"
#include "qx/eval/runtime.h"
#include "qx/host/plugin_host.h"
#include "qx/train/sgd.h"
#include "qx/train/trainer.h"

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
  const bool channels_last = state.range(1) != 0;
  if (channels_last) qx::train::to_channels_last(*model);
  qx::train::Sgd optimizer(parameters_of(*model), qx::train::SgdOptions().lr(0.05));
  const int64_t batch = state.range(0);
  auto images = torch::randn({batch, 3, 32, 32});
  if (channels_last) images = images.contiguous(torch::MemoryFormat::ChannelsLast);
  auto labels = torch::randint(0, 10, {batch});
  for (auto _ : state) {
    optimizer.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(model->forward(images), labels);
    loss.backward();
    optimizer.step();
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_TrainStep)->ArgNames({"batch", "channels_last"})->Args({128, 0})->Args({128, 1})->Unit(benchmark::kMillisecond)->MinTime(5.0);

// A whole trainer epoch over 100 batches of synthetic images: the step plus everything around
// it (batching, augmentation, schedule, bookkeeping, checkpoint), to compare with BM_TrainStep.
void BM_TrainerEpoch(benchmark::State& state) {
  qx::configure_threads(0);
  if (state.range(1) != 0) qx::configure_allocator();
  qx::PluginHost host(qx::resolve_plugin_dir("", ""));
  const auto out = std::filesystem::temp_directory_path() / "qx-bench-trainer";
  qx::config::TrainConfig config;
  config.model.plugin = "resnet20";
  config.epochs = 1000;
  config.batch_size = 128;
  config.schedule.warmup_epochs = 0;
  config.output_dir = out.string();
  config.channels_last = state.range(0) != 0;
  torch::manual_seed(0);
  const qx::data::Dataset train_set{torch::randint(0, 256, {100 * 128, 3, 32, 32}, torch::kUInt8),
                                    torch::randint(0, 10, {100 * 128})};
  const qx::data::Dataset test_set{train_set.images.slice(0, 0, 1000), train_set.labels.slice(0, 0, 1000)};
  qx::train::Trainer trainer(config, host.create_model("resnet20", qx::Options()), train_set, test_set,
                             qx::train::TrainerOptions().output_dir(out));
  std::int64_t epochs = 0;
  for (auto _ : state) {
    trainer.run_epoch();
    ++epochs;
  }
  state.counters["train_images_per_second"] = trainer.history().back().images_per_second;
  state.SetItemsProcessed(epochs * train_set.size());
  std::filesystem::remove_all(out);
}
BENCHMARK(BM_TrainerEpoch)->ArgNames({"channels_last", "tuned_malloc"})->Args({1, 1})->Unit(benchmark::kSecond)->Iterations(2);

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
