// The improvement passes' ablation table and the QAT table: what each idea buys at low widths,
// and at what cost.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "markdown.h"
#include "report_tables.h"

namespace qx::report {

namespace {

// What a cell changes in the base PTQ's weight grid: its quantizer and weight observer, where
// they are not the base's (the per-channel quantizer, the naive observer); empty for the base grid.
std::string weight_grid(const Study& s, const CellRow& c) {
  std::vector<std::string> changes;
  if (c.quantizer != s.per_channel_quantizer) changes.push_back(c.quantizer + " grid");
  if (c.weight_observer != s.naive_observer) changes.push_back(c.weight_observer + " weight ranges");
  return fmt::format("{}", fmt::join(changes, ", "));
}

// "+cle+qdrop (conv1 W8A8, fc W8A8) · per_channel_affine grid · residual stream 8-bit": a cell's
// recipe beyond the base PTQ, as a row name.
std::string recipe(const Study& study, const CellRow& c) {
  auto row = c.passes.empty() ? std::string("PTQ alone") : "+" + c.passes;
  if (const auto layers = overridden_layers(c); !layers.empty()) row += " (" + layers + ")";
  if (const auto grid = weight_grid(study, c); !grid.empty()) row += " · " + grid;
  if (const auto stream = residual_stream(c); !stream.empty()) row += " · " + stream;
  return row;
}

// A recorded option's JSON value as a reader writes it: numbers in their shortest form (the
// key's JSON spells 0.005 with seventeen digits, so that the key round-trips), strings unquoted.
std::string readable(const std::string& value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') return value.substr(1, value.size() - 2);
  char* end = nullptr;
  const double number = std::strtod(value.c_str(), &end);
  return end == value.c_str() + value.size() && !value.empty() ? fmt::format("{}", number) : value;
}

// A pass's recorded options as text: {"name":"lsq","options":{"adam_lr":0.0050000000000000001,
// "epochs":6,"weight_optimizer":"adam"}} gives "adam_lr 0.005, epochs 6, weight_optimizer adam";
// the pass's defaults for the rest (docs/passes.md).
std::string pass_options_text(const PassReport& pass) {
  std::vector<std::string> items;
  for (const auto& [key, value] : pass.options) items.push_back(key + " " + readable(value));
  return items.empty() ? "defaults" : fmt::format("{}", fmt::join(items, ", "));
}

// How far training moved the quantization steps from where PTQ put them: the median over weight
// channels, and over activation points, of |step after / step before - 1|. It tells a step that
// was learned from one that only came along (docs/passes.md, lsq).
std::string step_change(store::Database& db, std::int64_t before, std::int64_t after) {
  const auto start = store::read_tensors(db, before);
  std::map<std::string, std::vector<double>> moved;  // by role
  for (const auto& t : store::read_tensors(db, after)) {
    const auto s = std::find_if(start.begin(), start.end(),
                                [&](const TensorRow& r) { return r.name == t.name && r.role == t.role; });
    if (s == start.end() || s->scale.size() != t.scale.size()) continue;
    for (std::size_t i = 0; i < t.scale.size(); ++i) {
      if (s->scale[i] > 0) moved[t.role].push_back(std::abs(t.scale[i] / s->scale[i] - 1.0));
    }
  }
  auto median = [](std::vector<double> values) {
    if (values.empty()) return std::string("–");
    const auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
    std::nth_element(values.begin(), middle, values.end());
    return fmt::format("{:.2f}%", 100.0 * *middle);
  };
  return median(moved["weight"]) + " / " + median(moved["activation"]);
}

}  // namespace

// The base PTQ of the improvements grid: the same cell as the PTQ grid's cell of the clipping
// observer and the per-channel quantizer ([study.plugins]) at that width, so a key finished there
// is not run again, and the row takes it from there.
bool base_ptq_cell(const ReportData& data, const CellRow& c) {
  return plain_cell(data, c) && c.observer == data.study.clipping_observer &&
         c.quantizer == data.study.per_channel_quantizer && c.fold_batch_norm;
}

std::string improvements_markdown(const ReportData& data) {
  const auto* fp32 = float_baseline(data);
  std::vector<std::string> rows, columns;
  std::map<std::pair<std::string, std::string>, std::vector<double>> top1;
  std::map<std::string, std::vector<double>> pass_seconds;
  std::map<std::string, std::size_t> pass_count;
  std::vector<const CellRow*> cells;
  for (const auto& c : data.cells) {
    if (c.role == SectionKind::kAblation && c.quantize) cells.push_back(&c);
  }
  for (const auto& c : data.cells) {
    if (c.role == SectionKind::kAblation || !base_ptq_cell(data, c)) continue;
    const bool grid_width =
        std::any_of(cells.begin(), cells.end(), [&](const CellRow* i) { return width(*i) == width(c); });
    const bool present = std::any_of(cells.begin(), cells.end(), [&](const CellRow* i) {
      return base_ptq_cell(data, *i) && width(*i) == width(c);
    });
    if (grid_width && !present) cells.push_back(&c);
  }
  for (const auto* cell : cells) {
    const auto& c = *cell;
    const auto row = recipe(data.study, c);
    const auto joins = static_cast<std::size_t>(std::count(c.passes.begin(), c.passes.end(), '+'));
    pass_count[row] = c.passes.empty() ? 0 : 1 + joins;
    add_once(rows, row);
    add_once(columns, width(c));
    top1[{row, width(c)}].push_back(c.top1);
    pass_seconds[row].push_back(c.pass_seconds);
  }
  if (rows.empty()) return "No `improvements` experiment in the database.\n";
  // Each idea alone first, then the built-up recipe step by step (the rows with overrides), then
  // the same on a changed weight grid.
  std::stable_sort(rows.begin(), rows.end(), [&](const std::string& a, const std::string& b) {
    const auto order = [&](const std::string& row) {
      return std::make_tuple(row.find(" · ") != std::string::npos, row.find(" (") != std::string::npos, pass_count[row]);
    };
    return order(a) < order(b);
  });
  std::sort(columns.begin(), columns.end(), [](const std::string& a, const std::string& b) { return a > b; });
  MarkdownTable table{{"passes (in order)"}, {false}, {}};
  for (const auto& column : columns) {
    table.header.push_back(column);
    table.numeric.push_back(true);
  }
  table.header.push_back("pass seconds per cell, mean (max)");
  table.numeric.push_back(true);
  for (const auto& row : rows) {
    std::vector<std::string> cells{row};
    for (const auto& column : columns) {
      auto it = top1.find({row, column});
      cells.push_back(it == top1.end() ? "–" : mean_std(it->second));
    }
    const auto& times = pass_seconds[row];
    cells.push_back(fmt::format("{} ({})", seconds(mean(times)), seconds(*std::max_element(times.begin(), times.end()))));
    table.rows.push_back(std::move(cells));
  }
  std::string out = table.render();
  if (fp32) out += caption(data.text, "ablation", fmt::arg("fp32", percent(fp32->top1)));

  // The best recipe per width, by mean over seeds.
  MarkdownTable best{{"width", "best PTQ recipe", "top-1", "to fp32"}, {false, false, true, true}, {}};
  for (const auto& column : columns) {
    const std::string* winner = nullptr;
    double winner_top1 = -1;
    for (const auto& row : rows) {
      auto it = top1.find({row, column});
      if (it != top1.end() && mean(it->second) > winner_top1) {
        winner = &row;
        winner_top1 = mean(it->second);
      }
    }
    best.rows.push_back({column, *winner, mean_std(top1[{*winner, column}]),
                         fp32 ? signed_delta(winner_top1 - fp32->top1) : "–"});
  }
  return out + "\n" + best.render();
}

std::string qat_markdown(store::Database& db, const ReportData& data) {
  const auto* fp32 = float_baseline(data);
  MarkdownTable table{{"cell", "seed", "starts from (PTQ)", "PTQ top-1", "after QAT", "to fp32", "LSQ options",
                       "QAT seconds", "device", "steps moved (weights / activations)"},
                      {false, true, false, true, true, true, false, true, false, true},
                      {}};
  // Each cell's result over its seeds, for the best cell per width.
  std::map<std::string, std::map<std::string, std::vector<double>>> by_width;
  // Rows widest first, then by name: a variant's name extends the name of the cell it varies, so
  // each recipe's variants and seeds sit together under it.
  std::vector<std::pair<std::tuple<int, int, std::string, int>, std::vector<std::string>>> rows;
  for (const auto& c : data.cells) {
    if (c.role != SectionKind::kCurve || !c.quantize) continue;
    const PassReport* lsq = nullptr;
    for (const auto& pass : data.passes) {
      if (pass.cell_id == c.id && pass.name == data.study.training_pass) lsq = &pass;
    }
    if (!lsq) continue;
    // The PTQ cell of the improvements grid with the same recipe up to LSQ, where there is one.
    CellRow ptq = c;  // the recipe before QAT: LSQ is the last pass
    const auto lsq_at = c.passes.rfind(data.study.training_pass);
    ptq.passes = c.passes.substr(0, lsq_at == 0 || lsq_at == std::string::npos ? 0 : lsq_at - 1);
    const auto* start = find_cell(data, [&](const CellRow& s) {
      return s.role == SectionKind::kAblation && s.w_bits == c.w_bits && s.a_bits == c.a_bits && s.seed == c.seed &&
             s.passes == ptq.passes && overridden_layers(s) == overridden_layers(c) &&
             weight_grid(data.study, s) == weight_grid(data.study, c) && residual_stream(s) == residual_stream(c);
    });
    const auto name = c.label.empty() ? width(c) : c.label;
    by_width[width(c)][name].push_back(c.top1);
    rows.push_back({{-c.w_bits, -c.a_bits, name, c.seed},
                    {name, std::to_string(c.seed), recipe(data.study, ptq), start ? percent(start->top1) : "–", percent(c.top1),
                     fp32 ? signed_delta(c.top1 - fp32->top1) : "–", pass_options_text(*lsq), seconds(lsq->seconds),
                     c.device, start ? step_change(db, start->id, c.id) : "–"}});
  }
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& row : rows) table.rows.push_back(std::move(row.second));
  if (table.rows.empty()) return "No `curve` experiment (training-pass cells) in the database.\n";
  // The best cell per width, by mean over its seeds, widest first.
  MarkdownTable best{{"width", "best QAT cell", "top-1", "to fp32"}, {false, false, true, true}, {}};
  for (auto it = by_width.rbegin(); it != by_width.rend(); ++it) {
    const auto winner = std::max_element(it->second.begin(), it->second.end(), [](const auto& a, const auto& b) {
      return mean(a.second) < mean(b.second);
    });
    best.rows.push_back({it->first, winner->first, mean_std(winner->second),
                         fp32 ? signed_delta(mean(winner->second) - fp32->top1) : "–"});
  }
  return table.render() + caption(data.text, "curve") + "\n" + best.render() + caption(data.text, "curve.best");
}

}  // namespace qx::report
