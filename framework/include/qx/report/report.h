#pragma once
// `qx report`: the results database rendered as Markdown tables and gnuplot figures, so that no
// number in the README or docs/ is typed by hand. The output depends only on the database: the
// same file gives the same bytes (rows are ordered explicitly, numbers formatted explicitly, and
// gnuplot's SVG carries no timestamp). docs/results/summary.md links every page it writes;
// docs/experiments.md describes the report file.
#include <cstdint>
#include <filesystem>
#include <string>

namespace qx::report {

struct ReportOptions {
  std::string database;
  std::filesystem::path out_dir;
  // When set, the README's text between "<!-- qx-report:begin -->" and "<!-- qx-report:end -->"
  // is replaced by the generated summary.
  std::filesystem::path readme;
  // A report file (experiments/report.toml) declaring the results at a glance; when set, they are
  // what the README's region holds, and every other table goes to <out_dir>/summary.md only.
  std::string layout;
  // The checkpoint whose cells are reported (run uid and epoch); empty / -1 = the newest cell's.
  std::string run_uid;
  std::int64_t epoch = -1;
  std::string gnuplot = "gnuplot";
};

void write_report(const ReportOptions& options);

}  // namespace qx::report
