#pragma once
// Sections a report file declares as data ([[section]] in experiments/report.toml): a pivot of
// one metric of an experiment's cells over two of their settings, each cell the mean over seeds.
// A new experiment gets a table without C++.
#include <map>
#include <string>
#include <vector>

#include "report_data.h"

namespace qx::report {

struct PivotSection {
  std::string title;
  std::string experiment;
  std::string rows, columns;  // cell_settings keys, e.g. "observer" and "quantizer"
  std::string metric;         // "top1", "top5" or "loss"
  std::map<std::string, std::vector<std::string>> where;  // settings the cells must have
};

// One Markdown table per section, under its title; "" when there are none.
std::string sections_markdown(const ReportData& data, const std::vector<PivotSection>& sections);

}  // namespace qx::report
