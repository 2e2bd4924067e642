#pragma once
// The performance page: benchmarks recorded in the database, the grids' throughput, and what
// regenerating the cells costs.
#include <string>

#include "qx/store/sqlite.h"
#include "report_data.h"

namespace qx::report {

// `data.study.throughput` names the experiments of the grid-throughput table.
std::string performance_markdown(store::Database& db, const ReportData& data);
// What regenerating every cell of the checkpoint costs, per experiment, from the cells' recorded times.
std::string reproduction_markdown(const ReportData& data);
// The same in one sentence for the README, linking the table on `page` (performance.md).
// `main_job`: the experiment `scripts/run.sh` recomputes, whose own estimate follows ("" for none).
std::string reproduction_line(const ReportData& data, const std::string& page, const std::string& main_job);

}  // namespace qx::report
