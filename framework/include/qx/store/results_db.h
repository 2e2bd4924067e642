#pragma once
// The results database: every training run and its per-epoch history (and, with the PTQ
// engine, every experiment cell). Schema and migrations in results_db.cpp; described for users
// in docs/results-schema.md.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "qx/spec/cell.h"
#include "qx/spec/epoch.h"
#include "qx/store/sqlite.h"

namespace qx::store {

// A histogram of one tensor of a checkpoint (run/tensor_histograms.h takes them), for the report.
struct TensorHistogram {
  std::string name;  // the weight layer, or the activation point that feeds it (cell_tensors' names)
  std::string role;  // "weight" or "activation"
  double lo = 0, hi = 0;             // the tensor's min and max: the bins cover exactly this
  std::vector<std::int64_t> counts;  // equal-width bins
};

inline constexpr std::int64_t kSchemaVersion = 10;

struct RunRecord {
  std::string uid;  // stable across --resume
  std::string kind = "train";
  std::string name;
  std::string config_path;
  std::string config_text;
  std::string model;
  std::string device;
  std::int64_t threads = 0;
  std::string torch_version;  // TORCH_VERSION of the program that trains: the store links no LibTorch
};

struct ExperimentRecord {
  std::string name;
  std::string config_path;
  std::string config_text;
  std::string git_revision;  // empty outside a git checkout
  std::string checkpoint;
  std::string model;
  std::string device;
  std::int64_t threads = 0;
  std::string torch_version;  // TORCH_VERSION of the program that computes the cells
  std::string machine;      // qx::describe_machine(): CPU model and the ISA flags kernels depend on
  std::int64_t ranks = 1;   // processes computing cells: the MPI job's size, else 1
  std::string shard;        // "K/N" for a --shard run, else empty
};

// What the process that owns the database spent writing cells (the MPI farm's serial part).
struct WriteCost {
  std::int64_t cells = 0;
  double seconds = 0;
};

// One pass that ran in a cell.
struct PassRecord {
  std::string name;
  std::string version;
  std::string options_json;
  double seconds = 0;
  std::string report;  // JSON from the pass, or empty
};

// One quantized tensor of a cell as the database stores it (cell_tensors), in plain numbers so
// that the store needs no LibTorch; run/ converts the simulation's records (sim/tensor_record.h).
struct TensorRow {
  std::string name;  // weight layer ("layer1.0.conv1") or activation point ("layer1.0.mid_q")
  std::string role;  // "weight" or "activation"
  std::int64_t bits = 0;
  std::int64_t axis = -1;  // the channel axis of per-channel parameters, else -1
  std::int64_t qmin = 0, qmax = 0;
  // One value for a per-tensor tensor, one per channel otherwise: the quantizer's answer, and the
  // observer's range it came from.
  std::vector<double> scale, zero_point, range_min, range_max;
  double sqnr_db = 0;  // not finite: stored as NULL
};

// One cell's outcome. A failed cell carries its error and no accuracy.
struct CellResult {
  spec::CellSpec cell;
  std::string key;
  std::string error;  // empty when the cell finished
  double top1 = 0, top5 = 0, loss = 0;
  std::int64_t images = 0;
  double calib_seconds = 0, quantize_seconds = 0, eval_seconds = 0;
  std::vector<PassRecord> passes;  // those that ran, in order
  std::vector<TensorRow> tensors;
  // An integer runtime's verdict on a simulated cell (run/onnx_judge.h), a JSON object of settings
  // ("onnx.agreement": 0.998, ...); stored as the options' "judge" member, which the settings
  // trigger turns into one cell_settings row per member. Empty for a simulated cell.
  std::string judge_json;
};

// A finished cell as the database holds it: its row id and accuracy.
struct FinishedCell {
  std::int64_t id = 0;
  double top1 = 0;
};

// One measurement of the benchmarks table (tools/record_benchmarks.py through `qx import`).
struct BenchmarkRow {
  std::string suite, name;
  double seconds = 0;
  std::int64_t iterations = 0;
  std::optional<double> items_per_second;
  std::string context_json;  // an object, in canonical compact form
  std::string machine;
};

// A model file written by `qx pack` (deploy/packed_model.h).
struct PackedRecord {
  std::string checkpoint_run;
  std::int64_t checkpoint_epoch = 0;
  std::string quantizer;  // "float" for the 32-bit file
  std::int64_t bits = 0;
  std::int64_t bytes = 0, weight_bytes = 0, parameters = 0;
  std::string file;
};

// Histograms of one checkpoint's tensors (run/tensor_histograms.h), for the report.
struct HistogramRecord {
  std::string checkpoint_run;
  std::int64_t checkpoint_epoch = 0;
  std::int64_t images = 0;  // calibration images behind the activation histograms
  std::vector<TensorHistogram> histograms;
};

class ResultsDb {
 public:
  // Creates the file and schema if needed; refuses a database newer than this qx. kReadOnly opens
  // a database already at this qx's schema without writing a byte to it, and every write then
  // fails; a missing file, or one at an older schema, is created or upgraded as kReadWrite does.
  explicit ResultsDb(const std::string& path, Access access = Access::kReadWrite);

  // Inserts the run, or marks an existing run with the same uid as running again.
  std::int64_t open_run(const RunRecord& run);
  void record_epoch(std::int64_t run_id, const spec::EpochRecord& epoch);
  void finish_run(std::int64_t run_id, const std::string& status, const std::string& error = {});

  std::int64_t open_experiment(const ExperimentRecord& experiment);
  void finish_experiment(std::int64_t experiment_id, const std::string& status, const std::string& error = {},
                         const WriteCost& writes = {});
  bool has_finished_cell(const std::string& key);
  std::optional<FinishedCell> finished_cell(const std::string& key);
  // Whether this checkpoint's histograms of these weight layers are recorded, from as many
  // calibration images (record_histograms() writes each layer's activation with its weight).
  bool has_histograms(const std::string& checkpoint_run, std::int64_t checkpoint_epoch,
                      const std::vector<std::string>& weight_layers, std::int64_t images);
  // Two `qx run` processes on one database share a grid through claims: a process claims a
  // cell before computing it, and record_cell() drops the claim with the cell. Returns false
  // when the cell is finished or claimed by another live process; a claim whose process is gone
  // (same host, no such pid) is taken over. `owner` is "host:pid" (claim_owner()).
  bool claim_cell(const std::string& key, const std::string& owner);
  // Drops every claim of `owner` that no finished cell replaced (a run ending, or failing).
  void release_claims(const std::string& owner);
  // The owner of a claim held elsewhere, for progress messages; empty when unclaimed.
  std::string claim_holder(const std::string& key);
  // Seconds the latest finished cell with these settings (spec::cell_options_json) took to
  // calibrate, quantize, run its passes and evaluate, under any checkpoint; none if never run.
  std::optional<double> recorded_seconds(const std::string& options_json);
  // The cell and its tensors in one transaction. Returns false, writing nothing, when another
  // process finished the same cell first; a failed row for the key is replaced.
  bool record_cell(std::int64_t experiment_id, const CellResult& result);

  // Replaces an earlier record of the same checkpoint, quantizer and width.
  void record_packed(const PackedRecord& packed);
  // Replaces earlier histograms of the same checkpoint and tensors, in one transaction.
  void record_histograms(const HistogramRecord& record);

  Database& database() { return db_; }
  // This process, as it signs claims: "host:pid".
  static std::string claim_owner();

 private:
  void migrate();
  // Marks `running` experiments whose process has ended (same host, no such pid) as failed: a
  // `qx run` killed by a signal cannot say so itself, and its row would stay `running` for ever.
  void fail_abandoned_experiments();
  Access access_;
  Database db_;
};

}  // namespace qx::store
