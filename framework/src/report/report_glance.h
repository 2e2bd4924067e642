#pragma once
// Results at a layout: a table whose rows a report file declares (experiments/report.toml), each
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

using config::GlanceJudge;
using config::GlanceRow;
using config::ReportLayout;

// The at-a-layout table: each row's best recipe (mean over seeds), its top-1, the change from
// the baseline row, and the size of the model packed at the row's weight width.
std::string glance_markdown(const ReportData& data, const ReportLayout& layout);
// The published reference rows, or "" when there are none.
std::string references_markdown(const ReportLayout& layout);
// Top-1 against bit width, one line per series; returns whether it was drawn.
bool write_glance_plot(const ReportData& data, const ReportLayout& layout, const std::filesystem::path& out_dir,
                       const std::string& gnuplot);

}  // namespace qx::report
