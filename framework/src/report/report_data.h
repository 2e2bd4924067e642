#pragma once
// What the report reads from the results database, as plain rows.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "qx/store/results_read.h"

namespace qx::report {

// The kinds of section the report renders, generic over studies. A report file's [[section]]
// declares one for an experiment, and its [study] table names the experiment that feeds each
// kind's place in the fixed pages (summary, grid, improvements). report_sections.h says what each shows.
enum class SectionKind { kPivot, kPerLayer, kAblation, kCurve, kHistogram, kTraining };

// A row source of the table that sets qx's PTQ beside PyTorch's: every cell of `experiment`
// (or only the one named `label`), described as `method`.
struct ComparisonSource {
  std::string experiment, label, method;
  bool machine = false;  // the row depends on the CPU: name it (real int8 kernels)
};

// What the report file's [study] table declares: which experiment feeds each section, and the
// model's first and last layers, which the findings single out. The framework knows none of them.
struct Study {
  std::map<std::string, SectionKind> roles;  // experiment name -> the kind it feeds
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

// The store's rows (qx/store/results_read.h), as the report reads them.
using store::CheckpointRef;
using store::EpochRow;
using store::HistogramRow;
using store::PackedRecord;
using store::TensorRow;
using PassReport = store::StoredPass;

// A cell with the part its experiment plays in the report.
struct CellRow : store::CellRow {
  std::optional<SectionKind> role;  // the kind its experiment feeds (Study::roles), if any
};

struct TrainingRun : store::TrainingRunRow {
  std::int64_t schedule_epochs = 0;  // the recipe's [train] epochs; any later epoch is SWA
};

struct ReportData {
  Study study;
  CheckpointRef checkpoint;
  std::int64_t test_images = 0;
  std::vector<CellRow> cells;  // finished, on the full test set, for `checkpoint`; by id
  std::optional<TrainingRun> training;
  std::vector<PassReport> passes;  // of the cells above
  std::vector<PackedRecord> packed;   // model files of the checkpoint, widest first
  std::vector<HistogramRow> histograms;  // of the checkpoint, in the order they were stored
  std::set<std::string> unfinished;      // experiments whose latest run did not finish
};

// The newest cell's checkpoint unless `wanted` names one; each cell's role from `study`.
ReportData load_report_data(store::Database& db, const CheckpointRef& wanted, const Study& study);

}  // namespace qx::report
