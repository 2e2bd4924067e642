#include "qx/run/experiment_session.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>

#include "qx/core/clock.h"
#include "qx/core/error.h"
#include "qx/data/batches.h"
#include "qx/eval/evaluate.h"
#include "qx/eval/runtime.h"
#include "qx/passes/runner.h"
#include "qx/run/tensor_histograms.h"
#include "qx/sim/quant_sim.h"
#include "qx/spec/json.h"
#include "qx/train/trainer.h"

namespace qx::run {

// The last calibration, reusable by the next cell when observer and BatchNorm folding match.
struct CalibrationCache {
  std::string key;
  std::vector<std::shared_ptr<quant::Observer>> observers;
};

namespace {



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
    const auto where = fmt::format("{}: cell {}", experiment.source_path, spec::describe(cell));
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
std::vector<double> numbers(const torch::Tensor& values) {
  if (!values.defined()) return {};
  const auto flat = values.detach().to(torch::kCPU, torch::kFloat64).reshape({-1}).contiguous();
  return {flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel()};
}

// The simulation's record in the store's plain numbers.
store::TensorRow tensor_row(const sim::TensorRecord& record) {
  store::TensorRow row;
  row.name = record.name;
  row.role = quant::role_name(record.role);
  row.bits = record.bits;
  row.axis = record.qparams.axis;
  row.qmin = record.qparams.qmin;
  row.qmax = record.qparams.qmax;
  row.scale = numbers(record.qparams.scale);
  row.zero_point = numbers(record.qparams.zero_point);
  row.range_min = numbers(record.range.min);
  row.range_max = numbers(record.range.max);
  row.sqnr_db = record.sqnr_db;
  return row;
}

std::string plugin_versions(const spec::CellSpec& cell, const PluginHost& host) {
  auto text = fmt::format("{}@{} {}@{} {}@{}", cell.observer.name, host.plugin_version("observer", cell.observer.name),
                          cell.weight_observer.name, host.plugin_version("observer", cell.weight_observer.name),
                          cell.quantizer.name, host.plugin_version("quantizer", cell.quantizer.name));
  for (const auto& pass : cell.passes) text += fmt::format(" {}@{}", pass.name, host.plugin_version("pass", pass.name));
  return text;
}

store::CellResult run_cell(const spec::CellSpec& cell, QuantizableModel& model,
                           const std::map<std::string, torch::Tensor>& float_state, const PluginHost& host,
                           const std::vector<torch::Tensor>& calibration, const data::Dataset& train_set,
                           const data::Dataset& test_set,
                           const config::EvaluationConfig& evaluation, const torch::Device& device,
                           CalibrationCache& cache, const std::string& resume_stem, const CellInspector& inspect) {
  store::CellResult result;
  result.cell = cell;
  train::load_model_state(model, float_state, "checkpoint");
  model.eval();
  sim::QuantSim sim(model, host, cell);
  auto passes_run = passes::run_passes(sim, host, passes::PassStage::kFloatModel, calibration, &train_set, resume_stem);
  spec::CellSpec statistics;  // what the activation statistics depend on
  statistics.observer = cell.observer;
  statistics.fold_batch_norm = cell.fold_batch_norm;
  statistics.residual_bits = cell.residual_bits;  // it decides which points are observed
  for (const auto& run : passes_run) statistics.passes.push_back(run.pass);
  const auto key = spec::cell_key(statistics, "{}");
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
  for (auto& run : passes::run_passes(sim, host, passes::PassStage::kQuantizedModel, calibration, &train_set,
                                              resume_stem)) {
    passes_run.push_back(run);
  }
  for (const auto& run : passes_run) {
    result.passes.push_back(
        {run.pass.name, host.plugin_version("pass", run.pass.name), spec::plugin_json(run.pass), run.seconds, run.report});
  }
  const auto eval = eval::evaluate(model, test_set, evaluation.batch_size, device);
  result.top1 = eval.top1;
  result.top5 = eval.top5;
  result.loss = eval.loss;
  result.images = eval.images;
  result.eval_seconds = eval.seconds;
  for (const auto& record : sim.records()) result.tensors.push_back(tensor_row(record));
  if (!std::isfinite(result.loss)) fail("evaluation loss is {}", result.loss);
  if (inspect) inspect(sim, result);
  return result;
}

}  // namespace

ExperimentSession::ExperimentSession(const config::PtqExperiment& experiment, const PluginHost& host,
                                     const RunOverrides& overrides)
    : experiment_(experiment), host_(host), overrides_(overrides), cache_(std::make_unique<CalibrationCache>()) {
  threads_ = configure_threads(overrides.threads >= 0 ? overrides.threads : experiment.evaluation.threads);
  device_ = parse_device(overrides.device.empty() ? experiment.evaluation.device : overrides.device);
  checkpoint_path_ = overrides.checkpoint.empty() ? experiment.checkpoint : overrides.checkpoint;
  checkpoint_ = train::load_checkpoint(checkpoint_path_);
  model_ = host.create_model(checkpoint_.model, train::options_from_checkpoint(checkpoint_));
  train::load_model_state(*model_, checkpoint_.state_dict, "checkpoint " + checkpoint_path_);
  model_->to(device_);
  if (experiment.evaluation.channels_last) train::to_channels_last(*model_);
  float_state_ = train::model_state(*model_);
  validate(experiment, host, *model_);
  run::check_histogram_layers(*model_, experiment.histogram_layers, experiment.histograms_where);

  data_dir_ = data::resolve_data_dir(overrides.data_dir, experiment.data_dir).string();
  train_set_ = data::load_cifar10(data_dir_, data::Split::kTrain);
  test_set_ = data::load_cifar10(data_dir_, data::Split::kTest);
  if (const auto n = experiment.evaluation.images; n > 0 && n < test_set_.size()) {
    test_set_ = {test_set_.images.slice(0, 0, n), test_set_.labels.slice(0, 0, n)};
  }
  calibration_ = calibration_batches(train_set_, experiment.calibration, device_);
  // What every cell of this run shares and its numbers depend on. Quantized cells add the
  // versions of the plugins they use: a new plugin version may compute differently.
  const auto context =
      spec::JsonObject()
          .set("calibration", spec::JsonObject()
                                  .set("batch_size", experiment.calibration.batch_size)
                                  .set("batches", experiment.calibration.batches)
                                  .set("seed", experiment.calibration.seed))
          .set("checkpoint", spec::JsonObject().set("epoch", checkpoint_.epoch).set("run", checkpoint_.run_uid))
          .set("test_images", test_set_.size())
          .str();
  for (std::size_t i = 0; i < experiment.cells.size(); ++i) {
    const auto& cell = experiment.cells[i];
    const auto key = spec::cell_key(
        cell, cell.quantize
                  ? spec::JsonObject().set("plugins", plugin_versions(cell, host)).set_json("run", context).str()
                  : context);
    plan_.push_back({i, key, spec::describe(cell)});
  }
}

ExperimentSession::~ExperimentSession() = default;

std::vector<const PlannedCell*> ExperimentSession::select(const std::vector<std::string>& selectors) const {
  std::vector<const PlannedCell*> chosen;
  for (const auto& selector : selectors) {
    const auto before = chosen.size();
    for (const auto& planned : plan_) {
      if (selector == experiment_.cells[planned.index].label || selector == planned.description ||
          selector == std::to_string(planned.index) || selector == spec::key_digest(planned.key)) {
        chosen.push_back(&planned);
      }
    }
    if (chosen.size() == before) {
      fail("{}: no cell is named '{}' (a label, a description as `qx run --list` prints it, an index or a key digest)",
           experiment_.source_path, selector);
    }
  }
  if (selectors.empty()) {
    for (const auto& planned : plan_) chosen.push_back(&planned);
  }
  return chosen;
}

store::CellResult ExperimentSession::compute(std::size_t index, const CellInspector& inspect) {
  if (index >= experiment_.cells.size()) {
    fail("{}: no cell {} (the experiment has {})", experiment_.source_path, index, experiment_.cells.size());
  }
  const auto& cell = experiment_.cells[index];
  store::CellResult result;
  try {
    result = run_cell(cell, *model_, float_state_, host_, calibration_, train_set_, test_set_, experiment_.evaluation,
                      device_, *cache_, resume_stem(plan_[index].key), inspect);
  } catch (const c10::Error& e) {  // what() carries a stack trace: one line is enough for the database
    *cache_ = {};
    result = store::CellResult{};
    result.cell = cell;
    result.error = e.what_without_backtrace();
  } catch (const std::exception& e) {
    *cache_ = {};
    result = store::CellResult{};
    result.cell = cell;
    result.error = e.what();
  }
  result.key = plan_[index].key;
  return result;
}

void ExperimentSession::inspect_float_model(const std::function<void(sim::QuantSim& sim)>& use) {
  train::load_model_state(*model_, float_state_, "checkpoint");
  model_->eval();
  spec::CellSpec cell;
  cell.label = "fp32";
  cell.quantize = false;
  sim::QuantSim sim(*model_, host_, cell);
  use(sim);
}

store::ExperimentRecord ExperimentSession::experiment_record() const {
  store::ExperimentRecord record;
  record.name = experiment_.name;
  record.config_path = experiment_.source_path;
  record.config_text = experiment_.source_text;
  record.git_revision = git_revision(experiment_.source_path);
  record.checkpoint = checkpoint_path_;
  record.model = checkpoint_.model;
  record.device = device_.str();
  record.threads = threads_;
  record.torch_version = TORCH_VERSION;
  record.machine = describe_machine();
  return record;
}

std::optional<store::HistogramRecord> ExperimentSession::histograms() {
  if (experiment_.histogram_layers.empty()) return std::nullopt;
  store::HistogramRecord record{checkpoint_.run_uid, checkpoint_.epoch,
                                experiment_.calibration.batches * experiment_.calibration.batch_size,
                                layer_histograms(*model_, experiment_.histogram_layers, calibration_)};
  train::load_model_state(*model_, float_state_, "checkpoint");
  return record;
}

bool ExperimentSession::histograms_recorded(store::ResultsDb& results) const {
  return results.has_histograms(checkpoint_.run_uid, checkpoint_.epoch, experiment_.histogram_layers,
                                experiment_.calibration.batches * experiment_.calibration.batch_size);
}

std::string ExperimentSession::resume_stem(const std::string& key) const {
  // Beside the database, one file per cell and pass, named by the digest of the cell's key.
  return (std::filesystem::path(database_path()).parent_path() / "resume" / spec::key_digest(key)).string();
}

std::string ExperimentSession::database_path() const {
  return overrides_.database.empty() ? experiment_.database : overrides_.database;
}

}  // namespace qx::run
