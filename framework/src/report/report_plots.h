#pragma once
// The report's figures: gnuplot scripts with their data inline, rendered to SVG.
#include <filesystem>
#include <string>
#include <vector>

#include "report_data.h"

namespace qx::report {

// Writes every figure the data supports into `out_dir`; returns their file names.
std::vector<std::string> write_plots(const ReportData& data, const std::filesystem::path& out_dir,
                                     const std::string& gnuplot);

}  // namespace qx::report
