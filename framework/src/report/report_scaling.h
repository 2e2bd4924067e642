#pragma once
#include <string>

#include "qx/store/sqlite.h"

namespace qx::report {

// The grid_scaling measurements as a table, and the 8- and 64-node model built on them.
std::string scaling_markdown(store::Database& db);

}  // namespace qx::report
