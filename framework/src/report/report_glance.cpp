#include "report_glance.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "markdown.h"
#include "report_plots.h"
#include "report_tables.h"

namespace qx::report {

namespace {

// The cells of one recipe: every setting alike but the seed, on one machine.
struct Recipe {
  std::vector<const CellRow*> cells;
  double mean = 0;
  // The recipes it was picked from (itself included) and their means, best first: what decides
  // whether "best" is a tie, a noise winner or the highest of cells at chance.
  std::vector<double> rivals;
};

bool matches(const CellRow& c, const GlanceRow& row) {
  return c.experiment == row.experiment && has_settings(c, row.where);
}

std::string recipe_key(const CellRow& c) {
  std::string key = c.machine;
  for (const auto& [name, value] : c.settings) {
    if (name != "seed") key += "\n" + name + "=" + value;
  }
  return key;
}

// The best recipe among the row's cells (by its mean over seeds), one per machine where the row
// is by machine; in the order of their machines.
std::vector<Recipe> pick(const ReportData& data, const GlanceRow& row) {
  std::map<std::string, Recipe> recipes;
  for (const auto& c : data.cells) {
    if (matches(c, row)) recipes[recipe_key(c)].cells.push_back(&c);
  }
  std::map<std::string, Recipe> best;  // by machine, or one under ""
  std::map<std::string, std::vector<double>> rivals;
  for (auto& [key, recipe] : recipes) {
    double sum = 0;
    for (const auto* c : recipe.cells) sum += c->top1;
    recipe.mean = sum / static_cast<double>(recipe.cells.size());
    const auto machine = row.by_machine ? recipe.cells.front()->machine : std::string();
    rivals[machine].push_back(recipe.mean);
    auto& slot = best[machine];
    if (slot.cells.empty() || recipe.mean > slot.mean) slot = recipe;
  }
  std::vector<Recipe> picked;
  for (auto& [machine, recipe] : best) {
    recipe.rivals = std::move(rivals[machine]);
    std::sort(recipe.rivals.begin(), recipe.rivals.end(), std::greater<>());
    picked.push_back(std::move(recipe));
  }
  return picked;
}

// One standard error of the difference of two top-1 figures near `top1` percent, each measured on
// `images` test images: the scale below which one recipe beating another says nothing.
double difference_noise(double top1, std::int64_t images) {
  const double p = top1 / 100;
  return images > 0 ? 100 * std::sqrt(2 * p * (1 - p) / static_cast<double>(images)) : 0;
}

// What "best" means where a row picked among several recipes: tied with others at the shown
// precision, the highest of recipes that are all near chance, or ahead of the runner-up by less
// than the noise of two measurements. Empty where the best stands clear.
std::string best_qualifier(const Recipe& recipe, const Study& study, std::int64_t images) {
  const auto& r = recipe.rivals;
  if (r.size() < 2) return "";
  const auto shown = [](double v) { return std::lround(v * 100); };
  const auto ties = std::count_if(r.begin() + 1, r.end(), [&](double v) { return shown(v) == shown(r.front()); });
  if (ties > 0) return fmt::format("tied with {} of the other {} recipes", ties, r.size() - 1);
  // Near chance: within five standard errors of a guess's top-1 on this many images.
  const double p = study.chance / 100;
  if (study.chance > 0 && images > 0 &&
      r.front() - study.chance < 5 * 100 * std::sqrt(p * (1 - p) / static_cast<double>(images))) {
    return fmt::format("highest of {} recipes, all {}–{}, near chance", r.size(), percent(r.back()), percent(r.front()));
  }
  if (r.front() - r[1] < difference_noise(r.front(), images)) {
    return fmt::format("runner-up within noise at {}, of {} recipes", signed_delta(r[1] - r.front()), r.size());
  }
  return "";
}

std::string short_name(const ReportLayout& layout, const std::string& value) {
  const auto found = layout.names.find(value);
  return found == layout.names.end() ? value : found->second;
}

// "per-channel · MSE · weights lp-norm · CLE+QDrop · conv1 W8A8, fc W8A8 · residual 8-bit".
std::string composed_recipe(const ReportLayout& layout, const CellRow& c) {
  std::vector<std::string> parts;
  if (!c.quantizer.empty()) parts.push_back(short_name(layout, c.quantizer));
  if (!c.observer.empty()) parts.push_back(short_name(layout, c.observer));
  const auto weights = setting(c, "weight_observer");
  if (!weights.empty() && weights != layout.study.naive_observer) parts.push_back("weights " + short_name(layout, weights));
  if (!c.passes.empty()) {
    std::string passes;
    std::size_t start = 0;
    while (start <= c.passes.size()) {
      const auto end = std::min(c.passes.find_first_of("+,", start), c.passes.size());
      passes += (passes.empty() ? "" : "+") + short_name(layout, c.passes.substr(start, end - start));
      start = end + 1;
    }
    parts.push_back(passes);
  }
  const auto layers = overridden_layers(c);
  if (!layers.empty()) {
    const auto count = std::count(layers.begin(), layers.end(), ',') + 1;
    parts.push_back(count <= 2 ? layers : fmt::format("{} layers overridden", count));
  }
  if (!residual_stream(c).empty()) parts.push_back("residual " + setting(c, "residual_bits") + "-bit");
  std::string text;
  for (const auto& part : parts) text += (text.empty() ? "" : " · ") + part;
  return text;
}

std::string width_of(const CellRow& c) { return c.quantize ? width(c) : "W32A32"; }

std::string packed_size(const ReportData& data, const CellRow& c) {
  const int bits = c.quantize ? c.w_bits : 32;
  for (const auto& p : data.packed) {
    if (p.bits == bits) return fmt::format("{:.0f} kB", static_cast<double>(p.bytes) / 1000.0);
  }
  return "–";
}

// "87.57 (99.71%)": the top-1 of the judge's verdict on one of the recipe's cells, and how many
// images it agrees on with the simulation; "–" where none of them was judged.
std::string judged(const ReportData& data, const GlanceJudge& judge, const Recipe& recipe) {
  for (const auto* c : recipe.cells) {
    const auto id = std::to_string(c->id);
    const auto* verdict = find_cell(data, [&](const CellRow& v) {
      return v.experiment == judge.experiment && setting(v, judge.prefix + ".source_cell") == id &&
             has_settings(v, judge.where);
    });
    if (verdict) {
      return fmt::format("{} ({:.2f}%)", percent(verdict->top1),
                         100 * std::stod(setting(*verdict, judge.prefix + ".agreement")));
    }
  }
  return "–";
}

std::string wanted_width(const GlanceRow& row) {
  const auto w = row.where.find("w_bits"), a = row.where.find("a_bits");
  if (w == row.where.end() || a == row.where.end()) return "";
  return fmt::format("W{}A{}", w->second.front(), a->second.front());
}

}  // namespace

std::string glance_markdown(const ReportData& data, const ReportLayout& layout) {
  std::vector<std::vector<Recipe>> picks;  // each row's, in the order of the rows
  std::optional<double> baseline;
  for (const auto& row : layout.rows) {
    picks.push_back(pick(data, row));
    if (row.baseline && !picks.back().empty()) baseline = picks.back().front().mean;
  }
  MarkdownTable table{{"", "recipe", "bits", "top-1", "vs fp32", "packed size"},
                      {false, false, false, true, true, true},
                      {}};
  for (const auto& judge : layout.judges) {
    table.header.push_back(judge.name + " (agreement)");
    table.numeric.push_back(true);
  }
  for (std::size_t i = 0; i < layout.rows.size(); ++i) {
    const auto& row = layout.rows[i];
    const auto& picked = picks[i];
    if (picked.empty()) {
      table.rows.push_back({row.name, "not measured on this checkpoint", wanted_width(row), "–", "–", "–"});
      table.rows.back().resize(table.header.size(), "–");
      continue;
    }
    for (const auto& recipe : picked) {
      const auto& first = *recipe.cells.front();
      std::vector<double> top1;
      for (const auto* c : recipe.cells) top1.push_back(c->top1);
      auto recipe_text = row.recipe.empty() ? composed_recipe(layout, first) : row.recipe;
      if (row.by_machine) recipe_text += " · " + cpu_and_vnni(first.machine);
      if (const auto qualifier = best_qualifier(recipe, layout.study, data.test_images); !qualifier.empty()) {
        recipe_text += " (" + qualifier + ")";
      }
      table.rows.push_back({row.name, recipe_text, width_of(first), mean_std(top1),
                            baseline ? signed_delta(recipe.mean - *baseline) : "–", packed_size(data, first)});
      for (const auto& judge : layout.judges) table.rows.back().push_back(judged(data, judge, recipe));
    }
  }
  return table.render() + caption(data.text, "glance", fmt::arg("images", grouped(data.test_images)),
                                  fmt::arg("chance", percent(layout.study.chance)),
                                  fmt::arg("noise_at_90", difference_noise(90, data.test_images)));
}

std::string references_markdown(const ReportLayout& layout) {
  if (layout.references.empty()) return "";
  MarkdownTable table{{"published", "bits", "top-1", "its fp32", "vs its fp32", "source"},
                      {false, false, true, true, true, false},
                      {}};
  for (const auto& r : layout.references) {
    table.rows.push_back({r.method, r.bits, percent(r.top1), percent(r.fp32), signed_delta(r.top1 - r.fp32), r.source});
  }
  return table.render();
}

bool write_glance_plot(const ReportData& data, const ReportLayout& layout, const std::filesystem::path& out_dir,
                       const std::string& gnuplot) {
  if (layout.figure.empty()) return false;
  std::vector<std::string> series;  // in the order the rows name them
  std::vector<int> widths;
  std::map<std::string, std::map<int, double>> points;
  std::optional<double> baseline;
  for (const auto& row : layout.rows) {
    for (const auto& recipe : pick(data, row)) {
      const auto& c = *recipe.cells.front();
      if (row.baseline) baseline = recipe.mean;
      if (row.series.empty() || !c.quantize || c.w_bits != c.a_bits) continue;
      add_once(series, row.series);
      add_once(widths, c.w_bits);
      auto& point = points[row.series][c.w_bits];
      point = std::max(point, recipe.mean);
    }
  }
  if (series.empty()) return false;
  std::string blocks, plot = "plot ";
  for (std::size_t i = 0; i < series.size(); ++i) {
    std::string rows;
    for (const auto& [bits, top1] : points[series[i]]) rows += fmt::format("{} {:.2f}\n", bits, top1);
    blocks += block(fmt::format("s{}", i), rows);
    // Distinct point shapes, the first open and larger: series that agree (16 and 8 bits) stay visible.
    static constexpr int kPointTypes[] = {6, 7, 5, 9, 13, 11};
    plot += fmt::format("$s{} using 1:2 with linespoints lw 2 pt {} ps {} title '{}', ", i, kPointTypes[i % 6],
                        i == 0 ? 2.0 : 1.2, series[i]);
  }
  std::string body = blocks + "set xlabel 'bits (weights = activations)'\nset ylabel 'test top-1 (%)'\n"
                              "set logscale x 2\nset xrange [20:1.7]\n" + xtics(widths) + "set yrange [0:100]\n"
                              "set key bottom left\nset grid\n" + figure_title(data, "glance");
  if (baseline) body += fmt::format("fp32 = {:.2f}\n", *baseline);
  plot += baseline ? "fp32 with lines dt 2 lc rgb 'black' title 'fp32'\n" : "\n";
  render(gnuplot, body + plot, out_dir / layout.figure);
  return true;
}

}  // namespace qx::report
