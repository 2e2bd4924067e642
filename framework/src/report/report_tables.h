#pragma once
// The report's Markdown sections, each generated from ReportData alone.
#include <string>

#include "report_data.h"

namespace qx::report {

const CellRow* float_baseline(const ReportData& data);

std::string training_markdown(const ReportData& data);
// Measured sizes of the files `qx pack` wrote.
std::string sizes_markdown(const ReportData& data);
// fp32 against our PTQ against PyTorch's PTQ at 16 and 8 bits (the task's step 7).
std::string comparison_markdown(const ReportData& data);
// Observer x quantizer, one table per bit width, from the `ptq-grid` experiment.
std::string grid_markdown(const ReportData& data);
// Pass ablations from the `improvements` experiment, mean ± std over seeds.
std::string improvements_markdown(const ReportData& data);
// Per-tensor SQNR of representative grid cells.
std::string layers_markdown(store::Database& db, const ReportData& data);

}  // namespace qx::report
