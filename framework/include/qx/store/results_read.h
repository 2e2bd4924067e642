#pragma once
// The results database's read API: every query that reads results back (the report's, the
// performance and scaling pages'), as plain rows. The write side is results_db.h; where a row
// is written and read back alike (TensorRow, PackedRecord, BenchmarkRow, TensorHistogram) it is the same type.
// All of the SQL that reads results lives in results_read.cpp.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "qx/store/results_db.h"
#include "qx/store/sqlite.h"

namespace qx::store {

// A training run's checkpoint, as a cell's key names the model it quantized.
struct CheckpointRef {
  std::string run_uid;
  std::int64_t epoch = 0;
};

// A finished cell as read back: its identity flattened into columns, its settings as text.
struct CellRow {
  std::int64_t id = 0;
  std::string experiment, label, observer, weight_observer, quantizer, passes;
  // The cell's settings (table cell_settings) as text: "residual_bits" -> "8",
  // "override.conv1.w_bits" -> "8", "pass.lsq.distill" -> "1.0", ...
  std::map<std::string, std::string> settings;
  std::string device;   // where its experiment ran: "cpu", "cuda", ...
  std::string machine;  // its CPU and ISA flags (qx::describe_machine()); empty in old databases
  int threads = 0;      // the intra-op threads its experiment ran with
  bool quantize = true, fold_batch_norm = true;
  int w_bits = 0, a_bits = 0;
  std::int64_t seed = 0;
  double top1 = 0, top5 = 0, loss = 0;
  double calib_seconds = 0, quantize_seconds = 0, pass_seconds = 0, eval_seconds = 0;
};

// The finished cells of one checkpoint on its largest evaluation (the full test set), by id.
struct CheckpointCells {
  std::int64_t test_images = 0;
  std::vector<CellRow> cells;
};

struct EpochRow {
  std::int64_t epoch = 0;
  double train_loss = 0, train_top1 = 0, test_loss = 0, test_top1 = 0, lr = 0, seconds = 0;
};

struct TrainingRunRow {
  std::string uid, name, device, config_path, config_text;
  std::int64_t threads = 0;
  std::vector<EpochRow> epochs;  // up to the checkpoint's epoch (the run may have gone on since)
};

// A pass of a finished cell, with what its JSON holds read out by SQLite's JSON functions.
struct StoredPass : PassRecord {
  std::int64_t cell_id = 0;
  // The options the pass was given, in the recorded (sorted) order: {"distill", "1.0"}, ...;
  // booleans as true/false, strings unquoted.
  std::vector<std::pair<std::string, std::string>> options;
  // A training pass's loss curve (its report's "curve"): epoch, loss.
  std::vector<std::pair<double, double>> curve;
};

// A stored histogram of one tensor of a checkpoint, with the calibration images behind it.
struct HistogramRow : TensorHistogram {
  std::int64_t images = 0;
};

// The grid_scaling suite's rows: one grid as one process, and spread over processes.
struct GridScalingRun {
  std::string name;
  double seconds = 0;
  int processes = 1;
  int cells = 0;
  double cell_seconds = 0;
  std::optional<double> write_seconds_per_cell;
};

// A finished CPU run of an experiment, timed by its own timestamps.
struct ExperimentRunRow {
  std::string name, started_at;
  std::int64_t cells = 0, threads = 0;
  double wall_minutes = 0;
};

// One finished cell's own time (calibration, quantization, passes, evaluation), by experiment.
struct CellSeconds {
  std::string experiment, device;
  double seconds = 0;
};

// The checkpoint of the newest finished cell that names one; fails when there is none.
CheckpointRef newest_checkpoint(Database& db);
// Fails when the checkpoint has no finished cells.
CheckpointCells read_cells(Database& db, const CheckpointRef& checkpoint);
// The run that trained the checkpoint, if this database holds it.
std::optional<TrainingRunRow> read_training_run(Database& db, const CheckpointRef& checkpoint);
// The passes of every finished cell, by cell and position.
std::vector<StoredPass> read_passes(Database& db);
// Model files of the checkpoint, widest first.
std::vector<PackedRecord> read_packed(Database& db, const CheckpointRef& checkpoint);
// Histograms of the checkpoint, in the order they were stored.
std::vector<HistogramRow> read_histograms(Database& db, const CheckpointRef& checkpoint);
// Experiments whose latest run did not finish (cells left to run, or failed ones).
std::set<std::string> read_unfinished_experiments(Database& db);
// A cell's quantized tensors in their recorded order; a NULL SQNR reads back as NaN.
std::vector<TensorRow> read_tensors(Database& db, std::int64_t cell_id);

std::vector<BenchmarkRow> read_benchmarks(Database& db);  // by suite, then name
std::vector<GridScalingRun> read_grid_scaling_runs(Database& db);  // the one-process run first
// Finished CPU runs of these experiments, in the order they ran.
std::vector<ExperimentRunRow> read_finished_cpu_runs(Database& db, const std::vector<std::string>& experiments);
// Cells of experiments `qx run` ran from an experiment file (not the Python tools'), by experiment.
std::vector<CellSeconds> read_experiment_cell_seconds(Database& db);

}  // namespace qx::store
