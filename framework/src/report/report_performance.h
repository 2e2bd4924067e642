#pragma once
// The performance page: benchmarks recorded in the database and the grids' throughput.
#include <string>

#include "qx/store/sqlite.h"

namespace qx::report {

std::string performance_markdown(store::Database& db);

}  // namespace qx::report
