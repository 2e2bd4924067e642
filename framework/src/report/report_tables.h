#pragma once
// The report's Markdown sections, each generated from ReportData (and, where it takes one, the database).
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "report_data.h"

namespace qx::report {

const CellRow* float_baseline(const ReportData& data);
// A quantized cell with no passes, overrides or label, the naive observer's weight statistics,
// and its residual stream at its activations' width.
bool plain_cell(const ReportData& data, const CellRow& c);
// Such a cell of the PTQ grid (the experiment the report file's [study] names `grid`).
bool plain_grid_cell(const ReportData& data, const CellRow& c);
// The one layer a sensitivity cell overrides ("layer3.2.conv2"), or "" for any other cell.
std::string sensitivity_layer(const CellRow& c);
// The study's sensitivity cells, each with one layer quantized and the rest at 16 bits: each layer's
// top-1 change from fp32 (negative: a drop), mean over seeds, by the width the layer ran at. Layers
// and widths in the order the cells carry them; empty where there is no fp32 cell.
struct LayerSensitivity {
  std::vector<std::string> layers;
  std::vector<int> widths;
  std::map<std::pair<std::string, int>, double> change;
  std::optional<double> at(const std::string& layer, int bits) const;
};
LayerSensitivity layer_sensitivity(const ReportData& data);
// A setting of the cell as text, or "" where the cell has none of that key.
std::string setting(const CellRow& c, const std::string& key);
// Whether each key of `where` has one of its listed values in the cell's settings.
bool has_settings(const CellRow& c, const std::map<std::string, std::vector<std::string>>& where);
const CellRow* find_cell(const ReportData& data, const std::function<bool(const CellRow&)>& match);
// The observers (or quantizers) of the plain grid cells, in the order the grid file lists them.
std::vector<std::string> grid_values(const ReportData& data, std::string CellRow::*field);
// Layers named in a cell's overrides with their widths, e.g. "conv1 W8A8, fc W8A8".
std::string overridden_layers(const CellRow& c);
// "residual stream 8-bit" for a cell that stores it wider than its activations, else "".
std::string residual_stream(const CellRow& c);
std::string width(const CellRow& c);  // "W4A8"
// "AMD EPYC 7B13, no VNNI": the CPU an engine-dependent row ran on, and the flag its int8 kernels
// depend on (without VNNI, oneDNN's u8*s8 products saturate in int16).
std::string cpu_and_vnni(const std::string& machine);

std::string training_markdown(const ReportData& data);
// Measured sizes of the files `qx pack` wrote.
std::string sizes_markdown(const ReportData& data);
// fp32 against our PTQ against PyTorch's PTQ at 16 and 8 bits (the task's step 7).
std::string comparison_markdown(const ReportData& data);
// Observer x quantizer, one table per bit width, from the study's grid experiment.
std::string grid_markdown(const ReportData& data);
// Pass ablations from the study's improvements experiment, mean ± std over seeds (report_improvements.cpp).
std::string improvements_markdown(const ReportData& data);
// QAT cells (the study's qat experiment) against the PTQ cell they start from, with their cost and how far
// training moved the quantization steps (read from the cells' stored tensors).
std::string qat_markdown(store::Database& db, const ReportData& data);
// What breaks at low widths: one row per cause, each a comparison of cells that differ in it alone.
std::string findings_markdown(const ReportData& data);
// Per-tensor SQNR of representative grid cells.
std::string layers_markdown(store::Database& db, const ReportData& data);

}  // namespace qx::report
