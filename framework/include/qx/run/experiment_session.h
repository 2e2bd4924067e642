#pragma once
// One process's view of a PTQ experiment: the checkpoint's model, the data and the calibration
// batches, loaded and validated once, and then any of the experiment's cells computed on request.
// The plain runner (ptq_runner.h) walks every cell; the MPI farm (mpi_farm.h) hands cells to
// workers that each hold a session of their own. A session never opens the results database.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "qx/config/ptq_config.h"
#include "qx/data/cifar10.h"
#include "qx/host/plugin_host.h"
#include "qx/nn/model.h"
#include "qx/sim/quant_sim.h"
#include "qx/run/cell_sink.h"
#include "qx/store/results_db.h"
#include "qx/train/checkpoint.h"

namespace qx::run {

struct RunOverrides {
  std::string database;    // --db
  std::string data_dir;    // --data
  std::string checkpoint;  // --checkpoint
  std::string device;      // --device: where the cells run is not part of their key
  std::int64_t threads = -1;  // --threads: instead of [evaluation] threads; -1 keeps the file's
};

struct CalibrationCache;  // the last cell's calibration, reused by the next where it matches

// Sees a computed cell's simulation before it is torn down (the ONNX export, the integer
// judges): the model as the cell quantized it, and the cell's result. What it throws fails the cell.
using CellInspector = std::function<void(sim::QuantSim& sim, const store::CellResult& result)>;

class ExperimentSession {
 public:
  // Loads the checkpoint, model and data and validates every cell; throws qx::Error on bad input.
  ExperimentSession(const config::PtqExperiment& experiment, const PluginHost& host, const RunOverrides& overrides);
  ~ExperimentSession();
  ExperimentSession(const ExperimentSession&) = delete;
  ExperimentSession& operator=(const ExperimentSession&) = delete;

  // Every cell of the experiment, in file order, with the key that stores it.
  const std::vector<PlannedCell>& plan() const { return plan_; }
  // The cells `selectors` name, in their order, each by its label ("fp32"), its description as
  // `qx run --list` prints it, its 0-based position or its key's digest; every cell when none is
  // given. Fails naming a selector that matches nothing.
  std::vector<const PlannedCell*> select(const std::vector<std::string>& selectors) const;
  // Quantizes and evaluates cell `index` on a fresh copy of the checkpoint's weights. A cell that
  // throws comes back as a failed result carrying the message; only a bad index throws.
  store::CellResult compute(std::size_t index, const CellInspector& inspect = {});

  // The checkpoint's float model, as the cell `quantize = false` evaluates it (the fp32 export
  // that integer runtimes are timed against).
  void inspect_float_model(const std::function<void(sim::QuantSim& sim)>& use);

  store::ExperimentRecord experiment_record() const;
  // The experiment's tensor histograms ([histograms] layers), or nothing when it asks for none.
  std::optional<store::HistogramRecord> histograms();
  // Whether `results` holds the histograms histograms() would make, for this checkpoint.
  bool histograms_recorded(store::ResultsDb& results) const;
  std::string database_path() const;
  // "<database folder>/resume/<digest of the cell key>": where the cell's passes keep their
  // progress between runs (passes::PassContext::resume_file).
  std::string resume_stem(const std::string& key) const;
  int threads() const { return threads_; }
  const data::Dataset& test_set() const { return test_set_; }
  const std::string& data_dir() const { return data_dir_; }
  torch::Device device() const { return device_; }
  const config::PtqExperiment& experiment() const { return experiment_; }

 private:
  const config::PtqExperiment& experiment_;
  const PluginHost& host_;
  RunOverrides overrides_;
  int threads_ = 0;
  torch::Device device_ = torch::kCPU;
  std::string checkpoint_path_;
  std::string data_dir_;
  train::Checkpoint checkpoint_;
  std::shared_ptr<QuantizableModel> model_;
  std::map<std::string, torch::Tensor> float_state_;
  data::Dataset train_set_, test_set_;
  std::vector<torch::Tensor> calibration_;
  std::vector<PlannedCell> plan_;
  std::unique_ptr<CalibrationCache> cache_;
};

}  // namespace qx::run
