// Hot paths of the quantization engine, side by side in one run:
//   * per-tensor fake-quant: ATen's kernel against qx's AVX2 kernel (bit-identical, tested);
//   * per-channel fake-quant (ATen);
//   * each observer's observe() on a typical activation tensor (ResNet20's first stage, batch 128);
//   * one 200-image evaluation batch through ResNet20: plain fp32 against the W8A8 simulation;
//   * the clipping search of mse and lp_norm on one per-channel weight: every candidate in one
//     32 MiB block against the default blocks (qx/quant/histogram.h).
// Run: ./build/benchmarks/qx_bench_quant --benchmark_format=json > bench_quant.json
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "qx/eval/runtime.h"
#include "qx/host/plugin_host.h"
#include "qx/quant/histogram.h"
#include "qx/quant/qparams.h"
#include "qx/sim/quant_sim.h"
#include "qx/train/trainer.h"

namespace {

torch::Tensor activation() {
  torch::manual_seed(0);
  return torch::relu(torch::randn({128, 16, 32, 32})).contiguous(torch::MemoryFormat::ChannelsLast);
}

qx::quant::QParams per_tensor_8bit() {
  return qx::quant::compute_qparams(torch::tensor(0.0f), torch::tensor(4.0f), qx::quant::QuantSpec{8, false, -1});
}

void BM_FakeQuantPerTensorAten(benchmark::State& state) {
  const auto x = activation();
  const auto q = per_tensor_8bit();
  for (auto _ : state) {
    benchmark::DoNotOptimize(torch::fake_quantize_per_tensor_affine(x, q.scale, q.zero_point, q.qmin, q.qmax));
  }
  state.SetItemsProcessed(state.iterations() * x.numel());
}
BENCHMARK(BM_FakeQuantPerTensorAten)->Unit(benchmark::kMicrosecond);

void BM_FakeQuantPerTensorQx(benchmark::State& state) {
  const auto x = activation();
  const auto q = per_tensor_8bit();
  for (auto _ : state) benchmark::DoNotOptimize(qx::quant::fake_quantize(x, q));
  state.SetItemsProcessed(state.iterations() * x.numel());
}
BENCHMARK(BM_FakeQuantPerTensorQx)->Unit(benchmark::kMicrosecond);

void BM_FakeQuantPerChannelWeight(benchmark::State& state) {
  torch::manual_seed(0);
  const auto w = torch::randn({64, 64, 3, 3});
  const auto range = std::get<0>(w.abs().flatten(1).max(1));
  const auto q = qx::quant::compute_qparams(-range, range, qx::quant::QuantSpec{4, true, 0});
  for (auto _ : state) benchmark::DoNotOptimize(qx::quant::fake_quantize(w, q));
  state.SetItemsProcessed(state.iterations() * w.numel());
}
BENCHMARK(BM_FakeQuantPerChannelWeight)->Unit(benchmark::kMicrosecond);

void BM_Observe(benchmark::State& state, const std::string& name) {
  qx::PluginHost host(QX_PLUGIN_DIR);
  const auto x = activation();
  auto observer = host.create_observer(name, qx::Options("observer '" + name + "'"), {-1, "bench"});
  for (auto _ : state) observer->observe(x);
  state.SetItemsProcessed(state.iterations() * x.numel());
}
BENCHMARK_CAPTURE(BM_Observe, minmax, std::string("minmax"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Observe, moving_average, std::string("moving_average"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Observe, percentile, std::string("percentile"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Observe, mse, std::string("mse"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Observe, kl, std::string("kl"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Observe, histogram, std::string("histogram"))->Unit(benchmark::kMicrosecond);

// One evaluation batch of 200 images, the experiments' batch (docs/performance.md says why not
// larger): state.range(0) = 0 plain fp32, 1 simulated W8A8.
void BM_EvaluationBatch(benchmark::State& state) {
  qx::PluginHost host(QX_PLUGIN_DIR);
  auto model = host.create_model("resnet20", qx::Options("model 'resnet20'"));
  model->eval();
  qx::train::to_channels_last(*model);
  torch::manual_seed(0);
  const auto images = torch::randn({200, 3, 32, 32}).contiguous(torch::MemoryFormat::ChannelsLast);
  qx::spec::CellSpec cell;
  cell.quantize = state.range(0) == 1;
  cell.observer = cell.weight_observer = {"minmax", qx::Options("observer 'minmax'")};
  cell.quantizer = {"per_channel", qx::Options("quantizer 'per_channel'")};
  qx::sim::QuantSim sim(*model, host, cell);
  sim.calibrate({images.slice(0, 0, 128)});
  sim.quantize_weights();
  sim.quantize_activations();
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(model->forward(images));
  state.SetItemsProcessed(state.iterations() * images.size(0));
}
BENCHMARK(BM_EvaluationBatch)->ArgNames({"simulated"})->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(5.0);

// lp_norm's search (p = 2) on four channels of a weight of ResNet20's last stage (576 values
// each), at 4 bits on an affine grid: 1024 candidate pairs per channel. state.range(0): the
// largest block in MiB, 32 for one block of every candidate, 4 for the default.
void BM_ClippingSearch(benchmark::State& state) {
  torch::manual_seed(0);
  qx::quant::StreamHistogram histogram(4096, 0);
  histogram.add(torch::randn({4, 64, 3, 3}));
  const auto rounded_error = qx::quant::rounded_clipping_error(2.0);
  const std::int64_t block_bytes = state.range(0) << 20;
  for (auto _ : state) {
    benchmark::DoNotOptimize(qx::quant::minimise_clipping_error(histogram, qx::quant::Grid(qx::quant::QuantSpec{4, false, 0}), 100,
                                                                rounded_error, block_bytes));
  }
  state.SetItemsProcessed(state.iterations() * histogram.rows());
}
BENCHMARK(BM_ClippingSearch)->ArgNames({"block_mib"})->Arg(32)->Arg(4)->Unit(benchmark::kMillisecond);

}  // namespace

// qx's own allocator settings (qx/eval/runtime.h), as every qx command runs with them.
int main(int argc, char** argv) {
  qx::configure_allocator();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
