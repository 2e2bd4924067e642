#pragma once
// A post-training-quantization experiment, as read from a file such as experiments/ptq_grid.toml:
// the model to quantize, calibration and evaluation settings, and the cells to run, i.e. the
// named fixed cells followed by the cartesian product of the [grid] axes:
//   observer x quantizer x (weight bits x activation bits | bits) x weight observer
//   x fold_batch_norm x override set
// Paths are relative to the experiment file. docs/experiments.md lists every key.
#include <cstdint>
#include <string>
#include <vector>

#include "qx/spec/cell.h"

namespace qx::config {

struct CalibrationConfig {
  std::int64_t batches = 16;     // drawn from the training set, never the test set
  std::int64_t batch_size = 128;
  std::int64_t seed = 0;         // which training images; no augmentation
};

struct EvaluationConfig {
  std::int64_t batch_size = 200;  // the loader's default ([evaluation] batch_size)
  std::int64_t images = 0;   // the first N test images; 0 = all (smoke runs and tests use fewer)
  std::int64_t threads = 0;  // 0 = all cores
  std::string device = "cpu";
  bool channels_last = true;  // the faster layout for oneDNN's convolutions; the numbers do not depend on it
};

struct PtqExperiment {
  std::string name;
  std::string source_path;
  std::string source_text;
  std::string checkpoint;  // resolved against the experiment file's folder
  std::string data_dir;    // likewise; --data and $QX_DATA_DIR come first
  std::string database;
  std::string plugin_dir;
  // Layers whose weight and input histograms are stored for the report ([output] histograms),
  // and where the key stands, for errors found once the model is loaded.
  std::vector<std::string> histogram_layers;
  std::string histograms_where;
  CalibrationConfig calibration;
  EvaluationConfig evaluation;
  std::vector<spec::CellSpec> cells;
};

// A smaller budget laid over a loaded experiment, for smoke runs of a whole reproduction
// (`scripts/reproduce.sh --smoke`): fewer test images and calibration batches, the first cells
// only, and pass options set on every cell that runs the pass. Each changes the cells' keys (the
// test images and the calibration are part of them), so budget cells never pass for full ones.
struct RunBudget {
  std::int64_t test_images = 0;          // 0 keeps [evaluation] images
  std::int64_t calibration_batches = 0;  // 0 keeps [calibration] batches
  std::int64_t first_cells = 0;          // 0 keeps every cell
  std::vector<std::string> pass_options; // "PASS.KEY=VALUE", e.g. "lsq.epochs=1"
  bool empty() const { return !test_images && !calibration_batches && !first_cells && pass_options.empty(); }
};

// Applies `budget` in place; a malformed pass option is a qx::Error naming it.
void apply_budget(PtqExperiment& experiment, const RunBudget& budget);

// Parses and validates the file; every error names file:line:col.
PtqExperiment load_ptq_experiment(const std::string& path);
// The same from text already read; `path` names it in errors and anchors relative paths.
PtqExperiment load_ptq_experiment_text(std::string text, const std::string& path);

}  // namespace qx::config
