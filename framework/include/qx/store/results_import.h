#pragma once
// Rows computed outside qx, written through the store (`qx import`): the Python references'
// cells (tools/qxref.py) and the benchmark recorder's measurements. They arrive as JSON lines,
// one object per line, each with one member naming its kind:
//
//   {"experiment": {"name": ..., "config_path": ..., "config_text": ..., "git_revision": ...,
//                   "checkpoint": ..., "model": ..., "device": ..., "threads": N,
//                   "torch_version": ..., "machine": ...}}
//   {"cell": {"key": ..., "label": ..., "observer": ... or null, "weight_observer": ... or null,
//             "quantizer": ...,
//             "w_bits": B, "a_bits": B, "fold_batch_norm": true, "options": {...}, "top1": ...,
//             "loss": ..., "images": N, "calib_seconds": ..., "eval_seconds": ...}}
//   {"benchmark": {"suite": ..., "name": ..., "seconds": ..., "iterations": N,
//                  "items_per_second": ... or null, "context": {...}, "machine": ...}}
//
// docs/results-schema.md describes each field. Cells need the one experiment line before them.
#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <vector>

#include "qx/store/results_db.h"

namespace qx::store {

// A cell another program computed: its own identity (key) and figures, stored as finished.
struct ImportedCell {
  std::string key, label;
  std::optional<std::string> observer, weight_observer;  // null where no observer chose a range
  std::string quantizer;
  std::int64_t w_bits = 0, a_bits = 0;
  bool fold_batch_norm = true;
  std::string options_json;  // an object, in canonical compact form
  double top1 = 0, loss = 0;
  std::optional<double> top5;
  std::int64_t images = 0;
  double calib_seconds = 0, eval_seconds = 0;
};

struct ImportBatch {
  std::optional<ExperimentRecord> experiment;
  std::vector<ImportedCell> cells;
  std::vector<BenchmarkRow> benchmarks;
};

// Reads and checks every line before anything is written. Fails in one line naming
// "source:line" and the field: not JSON, an unknown kind or field, a missing or mistyped field,
// a width outside [kMinBits, kMaxBits], an accuracy outside [0, 100], a cell before the
// experiment, a second experiment, or a key or benchmark given twice.
ImportBatch read_import(std::istream& in, const std::string& source);

struct ImportCounts {
  std::int64_t experiment_id = 0;  // 0 without an experiment line
  std::int64_t cells = 0, replaced_cells = 0, benchmarks = 0;
};

// One transaction: the experiment (finished) and its cells, each replacing a cell of the same key;
// every suite named by a benchmark row replaces that suite's earlier rows. Nothing is written
// when any of it fails.
ImportCounts write_import(ResultsDb& db, const ImportBatch& batch);

}  // namespace qx::store
