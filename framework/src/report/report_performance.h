#pragma once
// The performance page: benchmarks recorded in the database and the grids' throughput.
#include <string>

#include "qx/store/sqlite.h"
#include "report_data.h"

namespace qx::report {

// `study.throughput` names the experiments of the grid-throughput table.
std::string performance_markdown(store::Database& db, const Study& study);

}  // namespace qx::report
