#include "report_tables.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "markdown.h"

namespace qx::report {

std::string setting(const CellRow& c, const std::string& key) {
  const auto it = c.settings.find(key);
  return it == c.settings.end() ? std::string() : it->second;
}

bool has_settings(const CellRow& c, const std::map<std::string, std::vector<std::string>>& where) {
  for (const auto& [key, values] : where) {
    if (std::find(values.begin(), values.end(), setting(c, key)) == values.end()) return false;
  }
  return true;
}

namespace {

// The layers a cell overrides, each with its weight and activation width, from the settings
// "override.<layer>.w_bits" and "override.<layer>.a_bits" (layer names contain dots).
std::map<std::string, std::pair<std::string, std::string>> overrides(const CellRow& c) {
  const std::string prefix = "override.";
  std::map<std::string, std::pair<std::string, std::string>> layers;
  for (const auto& [key, value] : c.settings) {
    if (key.compare(0, prefix.size(), prefix) != 0) continue;
    const auto dot = key.rfind('.');
    auto& bits = layers[key.substr(prefix.size(), dot - prefix.size())];
    (key.compare(dot + 1, std::string::npos, "w_bits") == 0 ? bits.first : bits.second) = value;
  }
  return layers;
}

}  // namespace

bool plain_cell(const ReportData& data, const CellRow& c) {
  return c.quantize && c.label.empty() && c.passes.empty() && overrides(c).empty() &&
         c.weight_observer == data.study.naive_observer &&
         residual_stream(c).empty();
}

std::string residual_stream(const CellRow& c) {
  const auto bits = setting(c, "residual_bits");
  return bits.empty() ? "" : fmt::format("residual stream {}-bit", bits);
}

bool plain_grid_cell(const ReportData& data, const CellRow& c) {
  return c.role == SectionKind::kPivot && plain_cell(data, c);
}

std::string sensitivity_layer(const CellRow& c) {
  const auto layers = overrides(c);
  return layers.size() == 1 ? layers.begin()->first : std::string();
}

LayerSensitivity layer_sensitivity(const ReportData& data) {
  LayerSensitivity result;
  const auto* fp32 = float_baseline(data);
  if (!fp32) return result;
  std::map<std::pair<std::string, int>, std::vector<double>> changes;
  for (const auto& c : data.cells) {
    const auto layer = c.role == SectionKind::kPerLayer && c.quantize ? sensitivity_layer(c) : std::string();
    if (layer.empty()) continue;
    const int bits = std::stoi(setting(c, "override." + layer + ".a_bits"));
    add_once(result.layers, layer);
    add_once(result.widths, bits);
    changes[{layer, bits}].push_back(c.top1 - fp32->top1);
  }
  for (const auto& [key, values] : changes) result.change[key] = mean(values);
  return result;
}

std::optional<double> LayerSensitivity::at(const std::string& layer, int bits) const {
  const auto found = change.find({layer, bits});
  return found == change.end() ? std::nullopt : std::optional<double>(found->second);
}

const CellRow* find_cell(const ReportData& data, const std::function<bool(const CellRow&)>& match) {
  for (const auto& c : data.cells) {
    if (match(c)) return &c;
  }
  return nullptr;
}

std::string overridden_layers(const CellRow& c) {
  std::vector<std::string> names;
  for (const auto& [layer, bits] : overrides(c)) {
    // Weight bits 0: the layer keeps the cell's weight width and only its input is overridden.
    const auto weights = bits.first == "0" ? std::string() : "W" + bits.first;
    names.push_back(fmt::format("{} {}A{}", layer, weights, bits.second));
  }
  return fmt::format("{}", fmt::join(names, ", "));
}

std::string width(const CellRow& c) { return fmt::format("W{}A{}", c.w_bits, c.a_bits); }

// Values in the order of their first cells, which is the grid file's order.
std::vector<std::string> grid_values(const ReportData& data, std::string CellRow::*field) {
  std::vector<std::string> values;
  for (const auto& c : data.cells) {
    if (plain_grid_cell(data, c) && std::find(values.begin(), values.end(), c.*field) == values.end()) {
      values.push_back(c.*field);
    }
  }
  return values;
}

namespace {

// The earlier quantizer of the grid whose cells `quantizer` reproduces exactly (top-1, top-5 and
// loss in every cell both have), or "" if none: such a column says nothing new.
std::string duplicate_of(const ReportData& data, const std::string& quantizer) {
  for (const auto& earlier : grid_values(data, &CellRow::quantizer)) {
    if (earlier == quantizer) return "";
    int compared = 0;
    bool same = true;
    for (const auto& c : data.cells) {
      if (!plain_grid_cell(data, c) || c.quantizer != quantizer) continue;
      const auto* twin = find_cell(data, [&](const CellRow& o) {
        return plain_grid_cell(data, o) && o.quantizer == earlier && o.observer == c.observer && o.w_bits == c.w_bits &&
               o.a_bits == c.a_bits;
      });
      if (!twin) continue;
      ++compared;
      same = same && twin->top1 == c.top1 && twin->top5 == c.top5 && twin->loss == c.loss;
    }
    if (compared > 0 && same) return earlier;
  }
  return "";
}

// The grid's quantizers without the columns that duplicate an earlier one, and a sentence naming those.
std::vector<std::string> distinct_quantizers(const ReportData& data, std::string& note) {
  std::vector<std::string> kept;
  for (const auto& q : grid_values(data, &CellRow::quantizer)) {
    const auto twin = duplicate_of(data, q);
    if (twin.empty()) {
      kept.push_back(q);
    } else {
      note += fmt::format("`{}` gives every cell of the grid exactly the top-1, top-5 and loss of `{}`, so its column "
                          "is left out.\n",
                          q, twin);
    }
  }
  return kept;
}

}  // namespace

const CellRow* float_baseline(const ReportData& data) {
  return find_cell(data, [](const CellRow& c) { return !c.quantize; });
}

std::string training_markdown(const ReportData& data) {
  if (!data.training || data.training->epochs.empty()) return "No training run for this checkpoint in the database.\n";
  const auto& t = *data.training;
  const auto best = *std::max_element(t.epochs.begin(), t.epochs.end(),
                                      [](const EpochRow& a, const EpochRow& b) { return a.test_top1 < b.test_top1; });
  MarkdownTable table{{"phase", "epochs", "test top-1 at its end", "train top-1 at its end", "time"},
                      {false, true, true, true, true},
                      {}};
  auto add_phase = [&](const std::string& phase, std::int64_t first, std::int64_t last) {
    const EpochRow* end = nullptr;
    double seconds = 0;
    for (const auto& e : t.epochs) {
      if (e.epoch < first || e.epoch > last) continue;
      seconds += e.seconds;
      end = &e;
    }
    if (!end) return;
    table.rows.push_back({phase, fmt::format("{}-{}", first, end->epoch), percent(end->test_top1),
                          percent(end->train_top1), fmt::format("{:.1f} h", seconds / 3600.0)});
  };
  const std::int64_t schedule_end = t.schedule_epochs > 0 ? t.schedule_epochs : t.epochs.back().epoch;
  add_phase("schedule", 1, schedule_end);
  add_phase("SWA: test top-1 is the weight average's", schedule_end + 1, t.epochs.back().epoch);
  return table.render() + caption(data.text, "training", fmt::arg("top1", percent(t.epochs.back().test_top1)),
                                  fmt::arg("best_top1", percent(best.test_top1)), fmt::arg("best_epoch", best.epoch));
}

std::string sizes_markdown(const ReportData& data) {
  if (data.packed.empty()) return "No packed model files recorded (`qx pack CHECKPOINT --db DB`).\n";
  const PackedRecord* fp32 = nullptr;
  for (const auto& p : data.packed) {
    if (p.bits == 32) fp32 = &p;
  }
  MarkdownTable table{{"weights", "file (bytes)", "of which weight codes", "smaller than fp32 by"},
                      {false, true, true, true},
                      {}};
  for (const auto& p : data.packed) {
    table.rows.push_back({p.bits == 32 ? std::string("fp32") : fmt::format("{}-bit `{}`", p.bits, p.quantizer),
                          fmt::format("{}", p.bytes), fmt::format("{}", p.weight_bytes),
                          fp32 ? fmt::format("{:.1f}x", static_cast<double>(fp32->bytes) / p.bytes) : "–"});
  }
  return table.render() + caption(data.text, "sizes");
}

std::string cpu_and_vnni(const std::string& machine) {
  if (machine.empty()) return "machine not recorded";
  const auto present = machine.substr(0, machine.find("; no "));
  const bool vnni = present.find("avx512_vnni") != std::string::npos || present.find("avx_vnni") != std::string::npos;
  return machine.substr(0, machine.find(',')) + (vnni ? ", VNNI" : ", no VNNI");
}

std::string comparison_markdown(const ReportData& data) {
  const auto* fp32 = float_baseline(data);
  if (!fp32) return "No float baseline cell in the database.\n";
  MarkdownTable table{{"method", "bits (W/A)", "top-1", "vs fp32"}, {false, false, true, true}, {}};
  auto add = [&](const std::string& method, const std::string& bits, double top1) {
    table.rows.push_back({method, bits, percent(top1), signed_delta(top1 - fp32->top1)});
  };
  add(say(data.text, "comparison.fp32"), "32/32", fp32->top1);
  // The rows the report file declares: PyTorch's own PTQ, and qx's reference cells.
  for (const auto& source : data.study.comparison) {
    for (const auto& c : data.cells) {
      if (c.experiment != source.experiment || (!source.label.empty() && c.label != source.label)) continue;
      auto method = source.label.empty() ? fmt::format("{}, {}", source.method, c.label) : source.method;
      if (source.machine) method += " on " + cpu_and_vnni(c.machine);
      add(method, fmt::format("{}/{}", c.w_bits, c.a_bits), c.top1);
    }
  }
  std::string duplicates;  // named under the grid tables
  const auto quantizers = distinct_quantizers(data, duplicates);
  for (int bits : {16, 8}) {
    for (const auto& quantizer : quantizers) {
      std::vector<const CellRow*> cells;
      for (const auto& c : data.cells) {
        if (plain_grid_cell(data, c) && c.quantizer == quantizer && c.w_bits == bits && c.a_bits == bits) cells.push_back(&c);
      }
      if (cells.empty()) continue;
      auto [worst, best] = std::minmax_element(cells.begin(), cells.end(),
                                               [](const CellRow* a, const CellRow* b) { return a->top1 < b->top1; });
      add(fmt::format("qx `{}`, best of {} observers ({})", quantizer, cells.size(), (*best)->observer),
          fmt::format("{}/{}", bits, bits), (*best)->top1);
      add(fmt::format("qx `{}`, worst of {} observers ({})", quantizer, cells.size(), (*worst)->observer),
          fmt::format("{}/{}", bits, bits), (*worst)->top1);
    }
  }
  return table.render();
}

std::string grid_markdown(const ReportData& data) {
  const auto* fp32 = float_baseline(data);
  std::string out;
  std::set<int> widths;
  for (const auto& c : data.cells) {
    if (plain_grid_cell(data, c) && c.w_bits == c.a_bits) widths.insert(c.w_bits);
  }
  std::string duplicates;
  const auto quantizers = distinct_quantizers(data, duplicates);
  for (auto it = widths.rbegin(); it != widths.rend(); ++it) {
    const int bits = *it;
    MarkdownTable table{{"observer \\ quantizer"}, {false}, {}};
    for (const auto& q : quantizers) {
      table.header.push_back("`" + q + "`");
      table.numeric.push_back(true);
    }
    for (const auto& observer : grid_values(data, &CellRow::observer)) {
      std::vector<std::string> row{"`" + observer + "`"};
      for (const auto& quantizer : quantizers) {
        const auto* c = find_cell(data, [&](const CellRow& c) {
          return plain_grid_cell(data, c) && c.observer == observer && c.quantizer == quantizer && c.w_bits == bits &&
                 c.a_bits == bits;
        });
        row.push_back(!c ? "–" : fp32 ? fmt::format("{} ({})", percent(c->top1), signed_delta(c->top1 - fp32->top1))
                                      : percent(c->top1));
      }
      table.rows.push_back(std::move(row));
    }
    out += fmt::format("### W{0}A{0}\n\n{1}\n", bits, table.render());
  }
  out += duplicates.empty() ? "" : duplicates + "\n";
  double calib = 0, eval = 0;
  int n = 0;
  for (const auto& c : data.cells) {
    if (c.role != SectionKind::kPivot) continue;
    calib += c.calib_seconds, eval += c.eval_seconds, ++n;
  }
  if (n > 0) {
    out += say(data.text, "grid.cost", fmt::arg("cells", n), fmt::arg("calibration", seconds(calib / n)),
               fmt::arg("evaluation", seconds(eval / n)), fmt::arg("images", data.test_images));
  }
  // The cost of simulation: integer-grid cells against the float cell of the same run.
  const auto* grid_fp32 =
      find_cell(data, [](const CellRow& c) { return c.role == SectionKind::kPivot && !c.quantize; });
  double simulated = 0;
  int m = 0;
  for (const auto& c : data.cells) {
    if (plain_grid_cell(data, c)) simulated += c.eval_seconds, ++m;
  }
  if (grid_fp32 && m > 0 && grid_fp32->eval_seconds > 0) {
    out += caption(data.text, "grid.simulation_cost", fmt::arg("simulated", seconds(simulated / m)),
                   fmt::arg("fp32", seconds(grid_fp32->eval_seconds)),
                   fmt::arg("ratio", simulated / m / grid_fp32->eval_seconds));
  }
  return out;
}

std::string layers_markdown(store::Database& db, const ReportData& data) {
  std::vector<const CellRow*> cells;
  for (const auto& observer : {data.study.naive_observer, data.study.clipping_observer}) {
    for (int bits : {8, 4, 2}) {
      if (const auto* c = find_cell(data, [&](const CellRow& c) {
            return plain_grid_cell(data, c) && c.observer == observer && c.quantizer == data.study.per_channel_quantizer &&
                   c.w_bits == bits &&
                   c.a_bits == bits;
          })) {
        cells.push_back(c);
      }
    }
  }
  if (cells.empty()) return "No per-channel grid cells in the database.\n";
  MarkdownTable table{{"tensor", "role"}, {false, false}, {}};
  std::map<std::string, std::vector<std::string>> rows;
  std::vector<std::string> order;
  for (const auto* c : cells) {
    table.header.push_back(fmt::format("{} {}", c->observer, width(*c)));
    table.numeric.push_back(true);
    for (const auto& t : store::read_tensors(db, c->id)) {
      const auto name = t.name + "|" + t.role;
      if (!rows.count(name)) {
        order.push_back(name);
        rows[name] = {"`" + t.name + "`", t.role};
      }
      rows[name].push_back(std::isfinite(t.sqnr_db) ? fmt::format("{:.1f}", t.sqnr_db) : "–");
    }
  }
  for (const auto& name : order) table.rows.push_back(rows[name]);
  return table.render() + caption(data.text, "layers");
}

}  // namespace qx::report
