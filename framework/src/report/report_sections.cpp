#include "report_sections.h"

#include <algorithm>

#include <fmt/format.h>

#include "markdown.h"
#include "report_tables.h"

namespace qx::report {

namespace {

double metric_of(const CellRow& c, const std::string& metric) {
  if (metric == "top5") return c.top5;
  if (metric == "loss") return c.loss;
  return c.top1;
}

bool selected(const CellRow& c, const PivotSection& section) {
  if (c.experiment != section.experiment || !c.quantize || !has_settings(c, section.where)) return false;
  return !setting(c, section.rows).empty() && !setting(c, section.columns).empty();
}

// Each value once, in the order of the cells that carry it first.
void add_once(std::vector<std::string>& values, const std::string& value) {
  if (std::find(values.begin(), values.end(), value) == values.end()) values.push_back(value);
}

std::string pivot(const ReportData& data, const PivotSection& section) {
  std::vector<std::string> rows, columns;
  std::map<std::pair<std::string, std::string>, std::vector<double>> values;
  for (const auto& c : data.cells) {
    if (!selected(c, section)) continue;
    const auto row = setting(c, section.rows), column = setting(c, section.columns);
    add_once(rows, row);
    add_once(columns, column);
    values[{row, column}].push_back(metric_of(c, section.metric));
  }
  if (rows.empty()) return "No cells of this section on this checkpoint.\n";
  MarkdownTable table{{section.rows + " \\ " + section.columns}, {false}, {}};
  for (const auto& column : columns) {
    table.header.push_back("`" + column + "`");
    table.numeric.push_back(true);
  }
  for (const auto& row : rows) {
    std::vector<std::string> line{"`" + row + "`"};
    for (const auto& column : columns) {
      const auto found = values.find({row, column});
      line.push_back(found == values.end() ? "–" : mean_std(found->second));
    }
    table.rows.push_back(std::move(line));
  }
  return table.render() + fmt::format("\n{} of experiment `{}`; several cells in one place (seeds, or settings the "
                                      "section does not name) show their mean ± standard deviation.\n",
                                      section.metric, section.experiment);
}

}  // namespace

std::string sections_markdown(const ReportData& data, const std::vector<PivotSection>& sections) {
  std::string out;
  for (const auto& section : sections) out += fmt::format("## {}\n\n{}\n", section.title, pivot(data, section));
  return out;
}

}  // namespace qx::report
