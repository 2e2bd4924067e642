#pragma once
// A report file (experiments/report.toml, `qx report --layout FILE`): what a study shows and in
// which words. The README's glance rows, the experiment that feeds each generic kind of section
// in the fixed pages, the sections it declares for docs/results/sections.md, published figures
// for scale, and the study's words ([text]). qx::report renders it; the framework knows no study.
#include <map>
#include <string>
#include <vector>

namespace qx::config {

// The kinds of section the report renders, generic over studies:
//   pivot        one metric of an experiment's cells over two of their settings (mean over seeds);
//   per-layer    one layer quantized at a time: each layer's change from fp32 by width;
//   ablation     passes and placements against PTQ alone, by width;
//   curve        training-pass cells, their cost and loss curves;
//   histogram    distributions with the ranges each observer of the experiment chose;
//   training     the checkpoint's training run (no experiment).
enum class SectionKind { kPivot, kTable, kPerLayer, kAblation, kCurve, kHistogram, kTraining };

// The kinds by the names a report file uses, and back.
SectionKind section_kind(const std::string& name);
const std::vector<std::string>& section_kind_names();

// A row source of the table that sets qx's PTQ beside a reference implementation: every cell of
// `experiment` (or only the one named `label`), described as `method`.
struct ComparisonSource {
  std::string experiment, label, method;
  bool machine = false;  // the row depends on the CPU: name it (real int8 kernels)
};

// [study]: which experiment feeds each kind of section, and what the sections' comparisons stand on.
struct Study {
  std::map<std::string, SectionKind> roles;  // experiment name -> the kind it feeds
  std::vector<ComparisonSource> comparison;
  std::vector<std::string> throughput;  // experiments in performance.md's grid-throughput table
  std::string first_layer, last_layer;  // the model's stem and classifier, which the findings single out
  std::string test_set = "the test set";  // what the test images are, for page headers
  std::vector<int> findings_widths;       // the findings table's columns, W{b}A{b}
  std::string summary_histogram;          // the weight layer whose histogram the summary shows
  double chance = 0;  // top-1 of a guess (0: not declared), for labels near it
  // [study.plugins]: the plugins the sections' comparisons stand on.
  std::string naive_observer;         // plain min/max statistics, the baseline of every other
  std::string clipping_observer;      // the base recipe's activation observer
  std::string per_tensor_quantizer;   // one grid per tensor
  std::string per_channel_quantizer;  // one grid per output channel: the base recipe's
  std::string training_pass;          // the QAT pass whose cells and curves the curve section shows
};

// [[glance.row]]: one row of the README's table, the best recipe among the cells it picks.
struct GlanceRow {
  std::string name;        // what the row answers, e.g. "qx, naive"
  std::string experiment;  // the experiment whose cells it picks
  // Settings the cells must have (cell_settings keys), each one of the listed values.
  std::map<std::string, std::vector<std::string>> where;
  std::string recipe;       // shown as the recipe when set; else composed from the settings
  bool baseline = false;    // the fp32 row the others are compared with
  bool by_machine = false;  // one row per machine the cells ran on (real int8 kernels)
  std::string series;       // the figure's line this row belongs to ("" = not drawn)
  std::string where_text;   // file:line:col of the row, for messages
};

// [[glance.judge]]: a column of the README's table, what an integer runtime made of each row's
// cell: the verdict whose `<prefix>.source_cell` is the cell, its top-1 and `<prefix>.agreement`.
struct GlanceJudge {
  std::string name;        // the column's heading, e.g. "onnxruntime"
  std::string experiment;  // the verdicts' experiment
  std::string prefix;      // of their settings: "onnx"
  std::map<std::string, std::vector<std::string>> where;  // verdict settings, e.g. one engine
};

// [[reference]]: a published figure for the same network, shown apart from everything measured here.
struct ReferenceRow {
  std::string method, bits, source;
  double top1 = 0, fp32 = 0;
};

// [[section]]: a section of docs/results/sections.md.
struct DeclaredSection {
  SectionKind kind = SectionKind::kPivot;
  std::string title;
  std::string experiment;  // empty for kTraining
  // kPivot only.
  std::string rows, columns;  // cell_settings keys, e.g. "observer" and "w_bits"
  std::string metric;         // "top1", "top5" or "loss"
  std::map<std::string, std::vector<std::string>> where;  // settings the cells must have
  bool figure = false;        // also draw the pivot: one line per row, columns on the x axis
  // kTable only (and `where`): one line per cell, one column per metric or cell_settings key;
  // transposed, one line per key and one column per cell (many keys of few cells: a per-layer table).
  std::vector<std::string> show;
  bool transpose = false;
  std::vector<std::string> name_with;  // settings added to each cell's name, e.g. "int8.engine"
  std::string caption;  // the [text] key under the table; "" for "table.<experiment>"
};

struct ReportLayout {
  Study study;
  std::vector<GlanceRow> rows;  // [[glance.row]]
  std::vector<GlanceJudge> judges;  // [[glance.judge]]
  std::vector<ReferenceRow> references;
  std::vector<DeclaredSection> sections;
  // [names]: short names for settings values in composed recipes: "per_channel" -> "per-channel".
  std::map<std::string, std::string> names;
  std::string figure;    // [glance] figure: SVG file name, "" for none
  std::string main_job;  // [glance] main_job: the experiment scripts/run.sh recomputes, "" for none
  // [text]: the study's words by key (docs/experiments.md lists the keys), each a format string
  // whose {name} fields the report fills from the database. An absent key shows nothing.
  std::map<std::string, std::string> text;
};

// Reads a report file; a malformed one fails with file:line:col.
ReportLayout load_report_layout(const std::string& path);

}  // namespace qx::config
