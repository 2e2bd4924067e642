#pragma once
// Sections a report file declares as data ([[section]] in experiments/report.toml), written to
// DIR/sections.md with their figures. Each names a kind the framework knows and the experiment it
// shows, so a new experiment gets a table and a figure without C++:
//   pivot        one metric of the experiment's cells over two of their settings (mean over
//                seeds), optionally drawn as one line per row against numeric columns;
//   per-layer    one layer quantized at a time: each layer's change from fp32 by width;
//   ablation     passes and placements against PTQ alone, by width (improvements.md's table);
//   curve        training-pass cells, their cost and loss curves (improvements.md's QAT part);
//   histogram    distributions with the ranges each observer of the experiment chose;
//   training     the checkpoint's training run (no experiment).
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "qx/store/sqlite.h"
#include "report_data.h"

namespace qx::report {

// The kinds by the names a report file uses, and back.
SectionKind section_kind(const std::string& name);
const std::vector<std::string>& section_kind_names();

struct DeclaredSection {
  SectionKind kind = SectionKind::kPivot;
  std::string title;
  std::string experiment;  // empty for kTraining
  // kPivot only.
  std::string rows, columns;  // cell_settings keys, e.g. "observer" and "w_bits"
  std::string metric;         // "top1", "top5" or "loss"
  std::map<std::string, std::vector<std::string>> where;  // settings the cells must have
  bool figure = false;        // also draw the pivot: one line per row, columns on the x axis
};

// Each section under its title, its figures written to `out_dir` as section<N>_*.svg and linked
// from the page (which lives in `out_dir`); "" when there are none.
std::string sections_markdown(store::Database& db, const ReportData& data, const std::vector<DeclaredSection>& sections,
                              const std::filesystem::path& out_dir, const std::string& gnuplot);

}  // namespace qx::report
