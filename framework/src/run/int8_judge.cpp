#include "qx/run/int8_judge.h"

#include <algorithm>
#include <functional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "qx/core/clock.h"
#include "qx/data/batches.h"
#include "qx/nn/graph.h"

namespace qx::run {

namespace {

constexpr const char* kExperiment = "int8-kernels";
constexpr std::int64_t kProbeImages = 500;

// Where the kernels part from the simulation: for each activation point the cell quantizes, the
// fraction of its values, on the first test images, that the two put on different codes
// (int8.codes_moved.<point>). The first point where it is not 0 is where a gap starts.
void record_codes_moved(sim::QuantSim& sim, const deploy::Int8Model& model, const data::Dataset& test_set,
                        spec::JsonObject& settings) {
  torch::NoGradGuard no_grad;
  const bool was_training = sim.model().is_training();
  sim.model().eval();
  const auto probe = data::normalize(test_set.images.slice(0, 0, std::min(kProbeImages, test_set.size())));
  const auto graph = sim.model().graph();
  const auto simulated = nn::run_graph_values(sim.model(), graph, probe.to(sim.device()));
  const auto integer = model.forward_values(probe);
  sim.model().train(was_training);
  for (const auto& op : graph) {
    const auto* site = op.kind == nn::GraphOpKind::kQuantPoint ? sim.find_activation_site(op.module) : nullptr;
    if (!site) continue;
    const double step = site->qparams.scale.detach().cpu().item<double>();
    const auto moved = (simulated.at(op.output).to(torch::kCPU) - integer.at(op.output)).abs().gt(0.5 * step);
    settings.set("int8.codes_moved." + op.module, moved.to(torch::kFloat64).mean().item<double>());
  }
}

struct Timing {
  double ms_per_image_b1 = 0, images_per_s_b256 = 0;
};

// As tools/onnxruntime/judge.js times onnxruntime: the median of 5 repeats after a warm-up, batch 1
// over 200 images and batch 256 over 4 batches, on `threads` intra-op threads.
Timing time_forward(const std::function<torch::Tensor(const torch::Tensor&)>& forward, const data::Dataset& test_set,
                    int threads) {
  torch::NoGradGuard no_grad;
  const int previous = at::get_num_threads();
  at::set_num_threads(threads);
  const auto images = data::normalize(test_set.images.slice(0, 0, std::min<std::int64_t>(1024, test_set.size())));
  const auto count = images.size(0);
  const auto seconds = [&](std::int64_t size, int runs) {
    const auto start = Clock::now();
    for (int r = 0; r < runs; ++r) {
      const auto begin = (r * size) % (count - size + 1);
      forward(images.slice(0, begin, begin + size));
    }
    return seconds_since(start);
  };
  const auto median = [](std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
  };
  seconds(1, 20);
  std::vector<double> single, throughput;
  for (int i = 0; i < 5; ++i) single.push_back(seconds(1, 200) / 200 * 1000);
  const auto big = std::min<std::int64_t>(256, count);
  seconds(big, 1);
  for (int i = 0; i < 5; ++i) throughput.push_back(static_cast<double>(4 * big) / seconds(big, 4));
  at::set_num_threads(previous);
  return {median(single), median(throughput)};
}

}  // namespace

Judge int8_kernels_judge(ExperimentSession& session, const Int8JudgeOptions& options) {
  const auto& test_set = session.test_set();
  const std::string engine = deploy::int8_engine_name(options.engine);
  std::optional<Timing> fp32;
  if (options.timing) {
    session.inspect_float_model([&](sim::QuantSim& sim) {
      sim.model().eval();
      const auto forward = [&](const torch::Tensor& x) { return sim.model().forward(x.to(session.device())); };
      fp32 = time_forward(forward, test_set, options.threads);
    });
  }
  const auto runtime = [&session, options, engine, fp32](sim::QuantSim& sim, const PlannedCell&, const torch::Tensor&) {
    const auto& test_set = session.test_set();
    const auto batch = session.experiment().evaluation.batch_size;
    const deploy::Int8Model model(sim, options.engine);
    RuntimeRun run;
    const auto start = Clock::now();
    std::vector<torch::Tensor> logits;
    for (std::int64_t begin = 0; begin < test_set.size(); begin += batch) {
      const auto end = std::min(begin + batch, test_set.size());
      logits.push_back(model.forward(data::normalize(test_set.images.slice(0, begin, end))));
    }
    run.logits = torch::cat(logits).to(torch::kFloat32).contiguous();
    run.seconds = seconds_since(start);
    record_codes_moved(sim, model, test_set, run.settings);
    run.settings.set("int8.engine", engine)
        .set("int8.integer_layers", fmt::format("{}", fmt::join(model.integer_layers(), " ")))
        .set("int8.float_layers", fmt::format("{}", fmt::join(model.float_layers(), " ")));
    if (fp32) {
      const auto own = time_forward([&](const torch::Tensor& x) { return model.forward(x); }, test_set, options.threads);
      run.settings.set("int8.ms_per_image_b1", own.ms_per_image_b1)
          .set("int8.images_per_s_b256", own.images_per_s_b256)
          .set("fp32.ms_per_image_b1", fp32->ms_per_image_b1)
          .set("fp32.images_per_s_b256", fp32->images_per_s_b256);
    }
    return run;
  };
  spec::JsonObject key;
  key.set("engine", engine);
  return {{kExperiment, "int8", "on LibTorch's " + engine + " int8 kernels", key}, runtime};
}

RunSummary judge_with_int8_kernels(ExperimentSession& session, const std::vector<const PlannedCell*>& cells,
                                   const Int8JudgeOptions& options, store::ResultsDb& results,
                                   const std::vector<CellSink*>& extra_sinks) {
  return judge_cells(session, cells, results, {int8_kernels_judge(session, options)}, extra_sinks);
}

}  // namespace qx::run
