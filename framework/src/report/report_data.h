#pragma once
// What the report reads from the results database, as plain rows.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "qx/store/sqlite.h"

namespace qx::report {

// The part an experiment plays in the report, as the report file's [study] table assigns it.
enum class StudyRole { kNone, kGrid, kSensitivity, kImprovements, kQat };

// A row source of the table that sets qx's PTQ beside PyTorch's: every cell of `experiment`
// (or only the one named `label`), described as `method`.
struct ComparisonSource {
  std::string experiment, label, method;
  bool machine = false;  // the row depends on the CPU: name it (real int8 kernels)
};

// What the report file's [study] table declares: which experiment feeds each section, and the
// model's first and last layers, which the findings single out. The framework knows none of them.
struct Study {
  std::map<std::string, StudyRole> roles;  // experiment name -> its part
  std::vector<ComparisonSource> comparison;
  std::vector<std::string> throughput;  // experiments in performance.md's grid-throughput table
  std::string first_layer, last_layer;
  std::string model;     // the network, for the training figure's title: "ResNet20"
  std::string workload;  // what was quantized, for figure titles: "ResNet20 on CIFAR-10"
  std::string test_set = "the test set";  // what the test images are, for page headers
  std::vector<int> findings_widths;       // the findings table's columns, W{b}A{b}
  std::string summary_histogram;          // the weight layer whose histogram the summary shows
  double chance = 0;  // top-1 of a guess ([study] chance; 0: not declared), for labels near it
  // The plugins the sections' comparisons stand on ([study.plugins]).
  std::string naive_observer;         // plain min/max statistics, the baseline of every other
  std::string clipping_observer;      // the base recipe's activation observer
  std::string per_tensor_quantizer;   // one grid per tensor
  std::string per_channel_quantizer;  // one grid per output channel: the base recipe's
  std::string training_pass;          // the QAT pass whose cells and curves the QAT section shows
};

struct CheckpointRef {
  std::string run_uid;
  std::int64_t epoch = 0;
};

struct CellRow {
  std::int64_t id = 0;
  StudyRole role = StudyRole::kNone;  // its experiment's part in the report (Study::roles)
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

struct EpochRow {
  std::int64_t epoch = 0;
  double train_loss = 0, train_top1 = 0, test_loss = 0, test_top1 = 0, lr = 0, seconds = 0;
};

struct TrainingRun {
  std::string uid, name, device, config_path;
  std::int64_t threads = 0;
  std::int64_t schedule_epochs = 0;  // the recipe's [train] epochs; any later epoch is SWA
  std::vector<EpochRow> epochs;
};

struct PassReport {
  std::int64_t cell_id = 0;
  std::string name, report;
  double seconds = 0;
  // The options the pass was given, as recorded with its cell, in the recorded (sorted) order:
  // {"distill", "1.0"}, ...; booleans as true/false, strings unquoted.
  std::vector<std::pair<std::string, std::string>> options;
  // A training pass's loss curve (its report's "curve"): epoch, loss.
  std::vector<std::pair<double, double>> curve;
};

struct TensorRow {
  std::int64_t cell_id = 0;
  std::string name, role;
  int bits = 0;
  std::optional<double> sqnr_db;
  std::vector<double> range_min, range_max;  // one value, or one per channel
  std::vector<double> scale;                  // likewise
};

// A stored histogram of one tensor of the checkpoint (run/tensor_histograms.h).
struct HistogramRow {
  std::string name, role;
  std::int64_t images = 0;
  double lo = 0, hi = 0;
  std::vector<std::int64_t> counts;
};

struct PackedRow {
  std::string quantizer;
  int bits = 0;
  std::int64_t bytes = 0, weight_bytes = 0, parameters = 0;
};

struct ReportData {
  Study study;
  CheckpointRef checkpoint;
  std::int64_t test_images = 0;
  std::vector<CellRow> cells;  // finished, on the full test set, for `checkpoint`; by id
  std::optional<TrainingRun> training;
  std::vector<PassReport> passes;  // of the cells above
  std::vector<PackedRow> packed;   // model files of the checkpoint, widest first
  std::vector<HistogramRow> histograms;  // of the checkpoint, in the order they were stored
  std::set<std::string> unfinished;      // experiments whose latest run did not finish
};

// The newest cell's checkpoint unless `wanted` names one; each cell's role from `study`.
ReportData load_report_data(store::Database& db, const CheckpointRef& wanted, const Study& study);

std::vector<TensorRow> load_tensors(store::Database& db, std::int64_t cell_id);

}  // namespace qx::report
