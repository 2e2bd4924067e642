#pragma once
// What the report reads from the results database, as plain rows.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "qx/config/report_layout.h"
#include "qx/store/results_read.h"

namespace qx::report {

// What a report file declares (qx/config/report_layout.h), as the report reads it.
using config::ComparisonSource;
using config::SectionKind;
using config::Study;

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
  std::map<std::string, std::string> text;  // the study's words ([text]), by key: markdown.h's Texts
  CheckpointRef checkpoint;
  std::int64_t test_images = 0;
  std::vector<CellRow> cells;  // finished, on the full test set, for `checkpoint`; by id
  std::optional<TrainingRun> training;
  std::vector<PassReport> passes;  // of the cells above
  std::vector<PackedRecord> packed;   // model files of the checkpoint, widest first
  std::vector<HistogramRow> histograms;  // of the checkpoint, in the order they were stored
  std::set<std::string> unfinished;      // experiments whose latest run did not finish
};

// The newest cell's checkpoint unless `wanted` names one; each cell's role from the layout's study.
ReportData load_report_data(store::Database& db, const CheckpointRef& wanted, const config::ReportLayout& layout);

}  // namespace qx::report
