#pragma once
#include <string>

#include "markdown.h"
#include "qx/store/sqlite.h"

namespace qx::report {

// The grid_scaling measurements as a table, and the 8- and 64-node model built on them.
std::string scaling_markdown(store::Database& db, const Texts& text);

}  // namespace qx::report
