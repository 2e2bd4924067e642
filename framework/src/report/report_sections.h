#pragma once
// Sections a report file declares as data ([[section]] in experiments/report.toml), written to
// DIR/sections.md with their figures. Each names a kind the framework knows (SectionKind in
// qx/config/report_layout.h) and the experiment it shows, so a new experiment gets a table and a
// figure without C++. A pivot can also be drawn, one line per row against numeric columns.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "qx/store/sqlite.h"
#include "report_data.h"

namespace qx::report {

using config::DeclaredSection;

// Each section under its title, its figures written to `out_dir` as section<N>_*.svg and linked
// from the page (which lives in `out_dir`); "" when there are none.
std::string sections_markdown(store::Database& db, const ReportData& data, const std::vector<DeclaredSection>& sections,
                              const std::filesystem::path& out_dir, const std::string& gnuplot);

}  // namespace qx::report
