#include "qx/run/ptq_runner.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>

#include <spdlog/spdlog.h>

#include "qx/core/error.h"
#include "qx/core/runtime.h"
#include "qx/data/batches.h"
#include "qx/data/cifar10.h"
#include "qx/eval/evaluate.h"
#include "qx/run/tensor_histograms.h"
#include "qx/sim/quant_sim.h"
#include "qx/store/results_db.h"
#include "qx/train/checkpoint.h"
#include "qx/train/trainer.h"

namespace qx::run {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The commit the experiment file belongs to, marked -dirty when the work tree has changes.
std::string git_revision(const std::string& experiment_file) {
  const auto dir = std::filesystem::absolute(experiment_file).parent_path().string();
  auto read = [](const std::string& command) {
    std::string out;
    std::unique_ptr<FILE, decltype(&pclose)> pipe(popen(command.c_str(), "r"), pclose);
    if (!pipe) return out;
    char buffer[256];
    while (fgets(buffer, sizeof buffer, pipe.get())) out += buffer;
    return out;
  };
  auto head = read("git -C '" + dir + "' rev-parse HEAD 2>/dev/null");
  if (head.empty()) return {};
  head.erase(head.find_last_not_of("\n") + 1);
  const bool dirty = !read("git -C '" + dir + "' status --porcelain --untracked-files=no 2>/dev/null").empty();
  return dirty ? head + "-dirty" : head;
}

// The same training images for every cell: a seeded draw without augmentation.
std::vector<torch::Tensor> calibration_batches(const data::Dataset& train_set, const config::CalibrationConfig& c,
                                               const torch::Device& device) {
  const std::int64_t wanted = c.batches * c.batch_size;
  if (wanted > train_set.size()) {
    fail("calibration wants {} x {} = {} images, the training set has {}", c.batches, c.batch_size, wanted,
         train_set.size());
  }
  auto generator = at::make_generator<at::CPUGeneratorImpl>(static_cast<std::uint64_t>(c.seed));
  const auto order = torch::randperm(train_set.size(), generator, torch::kInt64);
  std::vector<torch::Tensor> batches;
  for (std::int64_t i = 0; i < c.batches; ++i) {
    const auto indices = order.slice(0, i * c.batch_size, (i + 1) * c.batch_size);
    batches.push_back(data::normalize(train_set.images.index_select(0, indices)).to(device));
  }
  return batches;
}

// Every plugin name, option and bit width is checked before the first cell runs.
void validate(const config::PtqExperiment& experiment, const PluginHost& host, QuantizableModel& model) {
  std::set<std::string> checked;
  for (const auto& cell : experiment.cells) {
    const auto where = fmt::format("{}: cell {}", experiment.source_path, sim::describe(cell));
    sim::validate_cell(cell, model, where);
    if (!cell.quantize) continue;
    auto quantizer = host.create_quantizer(cell.quantizer.name, cell.quantizer.options);
    for (const auto role : {quant::TensorRole::kWeight, quant::TensorRole::kActivation}) {
      std::set<int> widths{role == quant::TensorRole::kWeight ? cell.weight_bits : cell.activation_bits};
      for (const auto& [layer, bits] : cell.overrides) {
        const int width = role == quant::TensorRole::kWeight ? bits.weight_bits : bits.activation_bits;
        if (width) widths.insert(width);
      }
      const auto& observer = role == quant::TensorRole::kWeight ? cell.weight_observer : cell.observer;
      for (int bits : widths) {
        const auto spec = quantizer->spec(role, bits);
        spec.validate(where);
        const auto key = fmt::format("{}|{}|{}", observer.name, spec.axis, quant::role_name(role));
        if (checked.insert(key).second) host.create_observer(observer.name, observer.options, {spec.axis, where});
      }
    }
    for (const auto& pass : cell.passes) {
      try {
        host.create_pass(pass.name, pass.options)->check(cell, *quantizer, model);
      } catch (const Error& e) {
        fail("{}: {}", where, e.what());
      }
    }
  }
}

// "minmax@1.0.0 minmax@1.0.0 per_channel@1.0.0 cle@1.0.0": what computed the cell.
std::string plugin_versions(const sim::CellSpec& cell, const PluginHost& host) {
  auto text = fmt::format("{}@{} {}@{} {}@{}", cell.observer.name, host.plugin_version("observer", cell.observer.name),
                          cell.weight_observer.name, host.plugin_version("observer", cell.weight_observer.name),
                          cell.quantizer.name, host.plugin_version("quantizer", cell.quantizer.name));
  for (const auto& pass : cell.passes) text += fmt::format(" {}@{}", pass.name, host.plugin_version("pass", pass.name));
  return text;
}

// The last calibration, reusable by the next cell when observer and BatchNorm folding match.
struct CalibrationCache {
  std::string key;
  std::vector<std::shared_ptr<quant::Observer>> observers;
};

store::CellResult run_cell(const sim::CellSpec& cell, QuantizableModel& model,
                           const std::map<std::string, torch::Tensor>& float_state, const PluginHost& host,
                           const std::vector<torch::Tensor>& calibration, const data::Dataset& train_set,
                           const data::Dataset& test_set,
                           const config::EvaluationConfig& evaluation, const torch::Device& device,
                           CalibrationCache& cache) {
  store::CellResult result;
  result.cell = cell;
  train::load_model_state(model, float_state, "checkpoint");
  model.eval();
  sim::QuantSim sim(model, host, cell);
  auto passes_run = sim.run_passes(passes::PassStage::kFloatModel, calibration, &train_set);
  sim::CellSpec statistics;  // what the activation statistics depend on
  statistics.observer = cell.observer;
  statistics.fold_batch_norm = cell.fold_batch_norm;
  statistics.residual_bits = cell.residual_bits;  // it decides which points are observed
  for (const auto& run : passes_run) statistics.passes.push_back(run.pass);
  const auto key = sim::cell_key(statistics, "{}");
  auto start = Clock::now();
  if (cell.quantize && key == cache.key) {
    sim.adopt_calibration(cache.observers);
  } else {
    cache = {};
    sim.calibrate(calibration);
    if (cell.quantize) cache = {key, sim.activation_observers()};
  }
  result.calib_seconds = seconds_since(start);
  start = Clock::now();
  sim.quantize_weights();
  sim.quantize_activations();
  result.quantize_seconds = seconds_since(start);
  for (auto& run : sim.run_passes(passes::PassStage::kQuantizedModel, calibration, &train_set)) {
    passes_run.push_back(run);
  }
  for (const auto& run : passes_run) {
    result.passes.push_back(
        {run.pass.name, host.plugin_version("pass", run.pass.name), sim::plugin_json(run.pass), run.seconds, run.report});
  }
  const auto eval = eval::evaluate(model, test_set, evaluation.batch_size, device);
  result.top1 = eval.top1;
  result.top5 = eval.top5;
  result.loss = eval.loss;
  result.images = eval.images;
  result.eval_seconds = eval.seconds;
  result.tensors = sim.records();
  if (!std::isfinite(result.loss)) fail("evaluation loss is {}", result.loss);
  return result;
}

}  // namespace

RunSummary run_ptq_experiment(const config::PtqExperiment& experiment, const PluginHost& host,
                              const RunOverrides& overrides) {
  const auto run_start = Clock::now();
  const int threads = configure_threads(experiment.evaluation.threads);
  const auto device = parse_device(overrides.device.empty() ? experiment.evaluation.device : overrides.device);

  const auto checkpoint_path = overrides.checkpoint.empty() ? experiment.checkpoint : overrides.checkpoint;
  const auto checkpoint = train::load_checkpoint(checkpoint_path);
  auto model = host.create_model(checkpoint.model, train::options_from_checkpoint(checkpoint));
  train::load_model_state(*model, checkpoint.state_dict, "checkpoint " + checkpoint_path);
  model->to(device);
  if (experiment.evaluation.channels_last) train::to_channels_last(*model);
  const auto float_state = train::model_state(*model);
  validate(experiment, host, *model);
  run::check_histogram_layers(*model, experiment.histogram_layers, experiment.histograms_where);

  const auto data_dir = data::resolve_data_dir(overrides.data_dir, experiment.data_dir);
  const auto train_set = data::load_cifar10(data_dir, data::Split::kTrain);
  auto test_set = data::load_cifar10(data_dir, data::Split::kTest);
  if (const auto n = experiment.evaluation.images; n > 0 && n < test_set.size()) {
    test_set = {test_set.images.slice(0, 0, n), test_set.labels.slice(0, 0, n)};
  }
  const auto calibration = calibration_batches(train_set, experiment.calibration, device);
  const auto context = fmt::format(
      "{{\"calibration\":{{\"batch_size\":{},\"batches\":{},\"seed\":{}}},\"checkpoint\":{{\"epoch\":{},"
      "\"run\":\"{}\"}},\"test_images\":{}}}",
      experiment.calibration.batch_size, experiment.calibration.batches, experiment.calibration.seed,
      checkpoint.epoch, checkpoint.run_uid, test_set.size());

  store::ResultsDb results(overrides.database.empty() ? experiment.database : overrides.database);
  store::ExperimentRecord record{experiment.name,    experiment.source_path, experiment.source_text,
                                 git_revision(experiment.source_path), checkpoint_path, checkpoint.model,
                                 device.str(),       threads};
  const auto experiment_id = results.open_experiment(record);
  if (!experiment.histogram_layers.empty()) {
    results.record_histograms({checkpoint.run_uid, checkpoint.epoch,
                               experiment.calibration.batches * experiment.calibration.batch_size,
                               layer_histograms(*model, experiment.histogram_layers, calibration)});
    train::load_model_state(*model, float_state, "checkpoint");
  }

  RunSummary summary;
  summary.cells = static_cast<std::int64_t>(experiment.cells.size());
  double computed_seconds = 0;
  std::int64_t computed = 0;
  CalibrationCache cache;
  for (std::size_t i = 0; i < experiment.cells.size(); ++i) {
    const auto& cell = experiment.cells[i];
    // A new plugin version may compute differently, so it makes a new cell.
    const auto key = sim::cell_key(cell, cell.quantize ? fmt::format("{{\"plugins\":\"{}\",\"run\":{}}}",
                                                                     plugin_versions(cell, host), context)
                                                       : context);
    const auto progress = fmt::format("[{}/{}] {}", i + 1, experiment.cells.size(), sim::describe(cell));
    if (results.has_finished_cell(key)) {
      ++summary.skipped;
      spdlog::info("{}: finished earlier, skipped", progress);
      continue;
    }
    const auto cell_start = Clock::now();
    store::CellResult result;
    try {
      result = run_cell(cell, *model, float_state, host, calibration, train_set, test_set, experiment.evaluation, device, cache);
    } catch (const c10::Error& e) {  // what() carries a stack trace: one line is enough for the database
      cache = {};
      result = store::CellResult{};
      result.cell = cell;
      result.error = e.what_without_backtrace();
    } catch (const std::exception& e) {
      cache = {};
      result = store::CellResult{};
      result.cell = cell;
      result.error = e.what();
    }
    result.key = key;
    results.record_cell(experiment_id, result);
    computed_seconds += seconds_since(cell_start);
    ++computed;
    const auto remaining = static_cast<double>(experiment.cells.size() - i - 1) * computed_seconds / computed;
    if (!result.error.empty()) {
      ++summary.failed;
      if (summary.first_error.empty()) summary.first_error = sim::describe(cell) + ": " + result.error;
      spdlog::error("{}: failed: {}", progress, result.error);
    } else {
      ++summary.finished;
      spdlog::info("{}: top-1 {:.2f}%  (calibration {:.1f} s, evaluation {:.1f} s)  ~{:.0f} s left", progress,
                   result.top1, result.calib_seconds, result.eval_seconds, remaining);
    }
  }
  summary.seconds = seconds_since(run_start);
  results.finish_experiment(experiment_id, summary.failed ? "failed" : "finished", summary.first_error);
  return summary;
}

}  // namespace qx::run
