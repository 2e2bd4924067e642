#pragma once
// Results at a glance: a table whose rows a report file declares (experiments/report.toml), each
// picking cells of one experiment by their settings, and a figure of top-1 against bit width.
// The report file names the experiments and settings; this code knows none of them.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "report_data.h"
#include "report_sections.h"

namespace qx::report {

struct GlanceRow {
  std::string name;        // what the row answers, e.g. "qx, naive"
  std::string experiment;  // the experiment whose cells it picks
  // Settings the cells must have (cell_settings keys), each one of the listed values.
  std::map<std::string, std::vector<std::string>> where;
  std::string recipe;             // shown as the recipe when set; else composed from the settings
  bool baseline = false;          // the fp32 row the others are compared with
  bool by_machine = false;        // one row per machine the cells ran on (real int8 kernels)
  std::string series;             // the figure's line this row belongs to ("" = not drawn)
  std::string where_text;         // file:line:col of the row, for messages
};

// A published figure for the same network, shown apart from everything measured here.
struct ReferenceRow {
  std::string method, bits, source;
  double top1 = 0, fp32 = 0;
};

struct Glance {
  Study study;  // [study]: which experiment feeds each section of docs/results
  std::vector<GlanceRow> rows;
  std::vector<ReferenceRow> references;
  std::vector<DeclaredSection> sections;  // [[section]]: docs/results/sections.md
  // Short names for settings values in composed recipes: "per_channel" -> "per-channel", ...
  std::map<std::string, std::string> names;
  std::string figure;  // SVG file name, "" for none
  std::string main_job;  // the experiment scripts/run.sh recomputes ([glance] main_job), "" for none
};

// Reads a report file; a malformed one fails with file:line:col.
Glance load_glance(const std::string& path);

// The at-a-glance table: each row's best recipe (mean over seeds), its top-1, the change from
// the baseline row, and the size of the model packed at the row's weight width.
std::string glance_markdown(const ReportData& data, const Glance& glance);
// The published reference rows, or "" when there are none.
std::string references_markdown(const Glance& glance);
// Top-1 against bit width, one line per series; returns whether it was drawn.
bool write_glance_plot(const ReportData& data, const Glance& glance, const std::filesystem::path& out_dir,
                       const std::string& gnuplot);

}  // namespace qx::report
