#include "report_sections.h"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "markdown.h"
#include "qx/core/error.h"
#include "report_plots.h"
#include "report_tables.h"

namespace qx::report {

namespace {

namespace fs = std::filesystem;

// The data with `role` played by `experiment` alone: the section's experiment feeds the kind's
// table and figure in place of the one the [study] table names, which the pages keep.
ReportData with_role(const ReportData& data, const std::string& experiment, SectionKind role) {
  ReportData out = data;
  for (auto& c : out.cells) {
    if (c.experiment == experiment) {
      c.role = role;
    } else if (c.role == role) {
      c.role = std::nullopt;
    }
  }
  return out;
}

double metric_of(const CellRow& c, const std::string& metric) {
  if (metric == "top5") return c.top5;
  if (metric == "loss") return c.loss;
  return c.top1;
}

bool is_number(const std::string& text) {
  char* end = nullptr;
  std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size();
}

// Metric values of the selected cells by (row value, column value), with the values in cell order.
struct Pivot {
  std::vector<std::string> rows, columns;
  std::map<std::pair<std::string, std::string>, std::vector<double>> values;
};

Pivot pivot_of(const ReportData& data, const DeclaredSection& section) {
  Pivot p;
  for (const auto& c : data.cells) {
    if (c.experiment != section.experiment || !c.quantize || !has_settings(c, section.where)) continue;
    const auto row = setting(c, section.rows), column = setting(c, section.columns);
    if (row.empty() || column.empty()) continue;
    add_once(p.rows, row);
    add_once(p.columns, column);
    p.values[{row, column}].push_back(metric_of(c, section.metric));
  }
  return p;
}

std::string pivot_table(const Pivot& p, const DeclaredSection& section) {
  MarkdownTable table{{section.rows + " \\ " + section.columns}, {false}, {}};
  for (const auto& column : p.columns) {
    table.header.push_back("`" + column + "`");
    table.numeric.push_back(true);
  }
  for (const auto& row : p.rows) {
    std::vector<std::string> line{"`" + row + "`"};
    for (const auto& column : p.columns) {
      const auto found = p.values.find({row, column});
      line.push_back(found == p.values.end() ? "–" : mean_std(found->second));
    }
    table.rows.push_back(std::move(line));
  }
  return table.render() + fmt::format("\n{} of experiment `{}`; several cells in one place (seeds, or settings the "
                                      "section does not name) show their mean ± standard deviation.\n",
                                      section.metric, section.experiment);
}

// One line per cell (or, transposed, per key); each column a metric or a setting (or a cell),
// numbers to four significant digits.
std::string cell_table(const ReportData& data, const DeclaredSection& section) {
  std::vector<std::string> names;
  std::vector<std::vector<std::string>> values;  // by cell, by key
  for (const auto& c : data.cells) {
    if (c.experiment != section.experiment || !has_settings(c, section.where)) continue;
    names.push_back(c.label.empty() ? fmt::format("{}/{} {}{}", c.observer, c.quantizer, width(c),
                                                  c.passes.empty() ? "" : " +" + c.passes)
                                    : c.label);
    for (const auto& key : section.name_with) names.back() += ", " + setting(c, key);
    values.emplace_back();
    for (const auto& key : section.show) {
      // The metrics and the machine (its CPU and ISA, which timings depend on) are cell fields, not settings.
      const auto text = key == "top1" || key == "top5" || key == "loss" ? fmt::format("{}", metric_of(c, key))
                        : key == "machine"                          ? c.machine
                                                                    : setting(c, key);
      values.back().push_back(text.empty() ? "–" : is_number(text) ? fmt::format("{:.4g}", std::stod(text)) : text);
    }
  }
  if (names.empty()) return "No cells of this section on this checkpoint.\n";
  MarkdownTable table{{section.transpose ? "key" : "cell"}, {false}, {}};
  for (const auto& column : section.transpose ? names : section.show) {
    table.header.push_back("`" + column + "`");
    table.numeric.push_back(true);
  }
  if (section.transpose) {
    for (std::size_t k = 0; k < section.show.size(); ++k) {
      table.rows.push_back({"`" + section.show[k] + "`"});
      for (const auto& cell : values) table.rows.back().push_back(cell[k]);
    }
  } else {
    for (std::size_t i = 0; i < names.size(); ++i) {
      table.rows.push_back({names[i]});
      table.rows.back().insert(table.rows.back().end(), values[i].begin(), values[i].end());
    }
  }
  return table.render() + caption(data.text, section.caption.empty() ? "table." + section.experiment : section.caption,
                                  fmt::arg("experiment", section.experiment));
}

// One line per row over numeric columns; false when a column value is not a number.
bool pivot_plot(const Pivot& p, const DeclaredSection& section, const fs::path& svg, const std::string& gnuplot) {
  if (!std::all_of(p.columns.begin(), p.columns.end(), is_number)) return false;
  std::vector<std::string> columns = p.columns;
  std::sort(columns.begin(), columns.end(),
            [](const std::string& a, const std::string& b) { return std::stod(a) > std::stod(b); });
  std::string blocks, plot = "plot ";
  for (std::size_t i = 0; i < p.rows.size(); ++i) {
    std::string points;
    for (const auto& column : columns) {
      const auto found = p.values.find({p.rows[i], column});
      if (found != p.values.end()) points += fmt::format("{} {:.4f}\n", column, mean(found->second));
    }
    const auto name = fmt::format("row{}", i);
    blocks += block(name, points);
    plot += fmt::format("${} using 1:2 with linespoints lw 2 title '{}', ", name, p.rows[i]);
  }
  plot.resize(plot.size() - 2);
  // Widths halve from column to column: a log axis spaces them evenly. Largest first, as the tables.
  const double first = std::stod(columns.front()), last = std::stod(columns.back());
  const auto axis = last > 0 ? fmt::format("set logscale x 2\nset xrange [{}:{}]\n", first * 1.25, last / 1.25)
                             : std::string("set xrange [*:*] reverse\n");
  std::string tics;
  for (const auto& column : columns) tics += (tics.empty() ? "" : ", ") + column;
  render(gnuplot,
         blocks + fmt::format("set xlabel '{}'\nset ylabel '{}'\n{}set xtics ({})\nset key outside right\n"
                              "set grid\nset title '{}'\n",
                              section.columns, section.metric, axis, tics, section.title) +
             plot + "\n",
         svg);
  return true;
}

// Each layer's change from fp32 with it alone quantized, one column per width it was run at.
std::string sensitivity_table(const ReportData& data) {
  const auto* fp32 = float_baseline(data);
  if (!fp32) return "No fp32 cell to compare with on this checkpoint.\n";
  const auto sensitivity = layer_sensitivity(data);
  if (sensitivity.layers.empty()) return "No cells of this section on this checkpoint.\n";
  MarkdownTable table{{"layer"}, {false}, {}};
  for (int bits : sensitivity.widths) {
    table.header.push_back(fmt::format("{}-bit", bits));
    table.numeric.push_back(true);
  }
  for (const auto& layer : sensitivity.layers) {
    std::vector<std::string> line{"`" + layer + "`"};
    for (int bits : sensitivity.widths) {
      const auto change = sensitivity.at(layer, bits);
      line.push_back(change ? signed_delta(*change) : "–");
    }
    table.rows.push_back(std::move(line));
  }
  return table.render() + caption(data.text, "per-layer", fmt::arg("fp32", percent(fp32->top1)));
}

std::string figure_link(const std::string& file) { return fmt::format("![{}]({})\n\n", file, file); }

std::string render_section(store::Database& db, const ReportData& data, const DeclaredSection& section,
                           const fs::path& out_dir, const std::string& gnuplot, const std::string& prefix) {
  std::string text;
  auto draw = [&](bool (*plot)(const ReportData&, const fs::path&, const std::string&), const ReportData& from,
                  const std::string& name) {
    if (plot(from, out_dir / (prefix + name), gnuplot)) text += "\n" + figure_link(prefix + name);
  };
  switch (section.kind) {
    case SectionKind::kPivot: {
      const auto p = pivot_of(data, section);
      if (p.rows.empty()) return "No cells of this section on this checkpoint.\n";
      text = pivot_table(p, section);
      if (section.figure && pivot_plot(p, section, out_dir / (prefix + "pivot.svg"), gnuplot)) {
        text += "\n" + figure_link(prefix + "pivot.svg");
      }
      return text;
    }
    case SectionKind::kTable: return cell_table(data, section);
    case SectionKind::kPerLayer: {
      const auto own = with_role(data, section.experiment, SectionKind::kPerLayer);
      text = sensitivity_table(own);
      draw(plot_sensitivity, own, "sensitivity.svg");
      return text;
    }
    case SectionKind::kAblation:
      return improvements_markdown(with_role(data, section.experiment, SectionKind::kAblation));
    case SectionKind::kCurve: {
      const auto own = with_role(data, section.experiment, SectionKind::kCurve);
      text = qat_markdown(db, own);
      draw(plot_qat, own, "qat.svg");
      return text;
    }
    case SectionKind::kHistogram: {
      const auto own = with_role(data, section.experiment, SectionKind::kPivot);
      for (const auto& file : write_histogram_plots(db, own, out_dir, gnuplot, prefix)) text += figure_link(file);
      return text.empty() ? "No stored histograms on this checkpoint.\n" : histograms_caption(data) + text;
    }
    case SectionKind::kTraining:
      text = training_markdown(data);
      draw(plot_training, data, "training.svg");
      return text;
  }
  return text;
}

}  // namespace

std::string sections_markdown(store::Database& db, const ReportData& data, const std::vector<DeclaredSection>& sections,
                              const fs::path& out_dir, const std::string& gnuplot) {
  std::string out;
  for (std::size_t i = 0; i < sections.size(); ++i) {
    const auto prefix = fmt::format("section{}_", i + 1);
    auto body = render_section(db, data, sections[i], out_dir, gnuplot, prefix);
    while (!body.empty() && body.back() == '\n') body.pop_back();
    out += fmt::format("## {}\n\n{}\n\n", sections[i].title, body);
  }
  return out;
}

}  // namespace qx::report
