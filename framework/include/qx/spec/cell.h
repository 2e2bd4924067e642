#pragma once
// One cell of an experiment: everything that decides how a model is quantized and evaluated, as
// plain data (no LibTorch), so that the config, the store and the report can hold cells without
// the simulation. The experiment file expands into cells (config/ptq_config.h); the engine runs
// each one on a freshly loaded model (sim/quant_sim.h); the results database keys it by
// cell_key().
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "qx/core/options.h"
#include "qx/spec/json.h"

namespace qx::spec {

// The weight statistics a cell uses unless its experiment names others: the weight is seen once
// and whole, so its minimum and maximum (per channel where the quantizer asks) lose nothing.
inline constexpr const char* kDefaultWeightObserver = "minmax";

struct PluginChoice {
  std::string name;
  Options options;  // the experiment's [observers.<name>] or [quantizers.<name>] table
};

// Per-layer bit widths from the experiment's [overrides.<layer>]; 0 keeps the cell's width.
struct LayerBits {
  int weight_bits = 0;
  int activation_bits = 0;  // applies to the activation points that feed the layer
};

struct CellSpec {
  std::string label;     // a fixed cell's name ("fp32"), or empty for grid cells
  bool quantize = true;  // false: the float model, evaluated as is
  PluginChoice observer;         // activation statistics
  PluginChoice weight_observer;  // weight statistics (one pass)
  PluginChoice quantizer;
  int weight_bits = 8;
  int activation_bits = 8;
  bool fold_batch_norm = true;
  // The width the residual stream (the tensors shortcuts read) is stored at; the conv layers that
  // read it re-quantize it to their own input width. 0: stored at the width its layers read.
  int residual_bits = 0;
  std::map<std::string, LayerBits> overrides;  // by weight-layer name
  std::vector<PluginChoice> passes;            // in the order they run (passes/pass.h)
  std::int64_t seed = 0;                       // for passes that draw random numbers
};

// A canonical JSON text of the cell (keys sorted, plugin options included) plus `context`, the
// settings shared by all cells that change its numbers (checkpoint, calibration). Equal keys mean
// equal results, so `qx run` skips a cell whose key is already in the database.
std::string cell_key(const CellSpec& cell, const std::string& context);

// 16 hex digits naming a key in a file name (FNV-1a, 64 bits): stable across builds and
// platforms, as std::hash is not.
std::string key_digest(const std::string& key);

// The cell's plugin options and overrides as JSON, for the database's `options` column. Passes
// and the seed appear only in cells that have passes, and residual_bits only where it is set, so
// cells without keep their keys.
std::string cell_options_json(const CellSpec& cell);
// The same as an object, for writers that add members (a judge's measurements, store/results_db.h).
JsonObject cell_options(const CellSpec& cell);

// "minmax/per_channel W4A4", "fp32", "mse/per_channel W4A4 +cle+adaround seed 1", ...
std::string describe(const CellSpec& cell);

// {"name":...,"options":{...}}, keys sorted.
std::string plugin_json(const PluginChoice& choice);

// "cle+bias_correction", or "" for a cell without passes.
std::string pass_list(const CellSpec& cell);

}  // namespace qx::spec
