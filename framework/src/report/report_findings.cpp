// "What breaks at 4 and 2 bits", as measurements: each row isolates one cause by comparing two
// sets of cells that differ in that cause alone. The README's prose explains the rows; every
// figure comes from here.
#include <algorithm>
#include <functional>
#include <optional>

#include <fmt/format.h>

#include "markdown.h"
#include "report_tables.h"

namespace qx::report {

namespace {

const CellRow* grid(const ReportData& data, const std::string& observer, const std::string& quantizer, int bits,
                    bool folded = true) {
  for (const auto& c : data.cells) {
    if ((folded ? plain_grid_cell(data, c) : plain_cell(data, c)) && c.fold_batch_norm == folded && c.observer == observer &&
        c.quantizer == quantizer && c.w_bits == bits && c.a_bits == bits) {
      return &c;
    }
  }
  return nullptr;
}

// "83.10 → 88.02 (+4.92)"
std::string change(const CellRow* from, const CellRow* to) {
  if (!from || !to) return "–";
  return fmt::format("{} → {} ({})", percent(from->top1), percent(to->top1), signed_delta(to->top1 - from->top1));
}

// The best activation observer that clips, against the naive one, with per-channel weights.
std::string clipping(const ReportData& data, int bits) {
  const auto& s = data.study;
  const auto* naive = grid(data, s.naive_observer, s.per_channel_quantizer, bits);
  const CellRow* best = nullptr;
  for (const auto& observer : grid_values(data, &CellRow::observer)) {
    if (observer == s.naive_observer) continue;
    const auto* c = grid(data, observer, s.per_channel_quantizer, bits);
    if (c && (!best || c->top1 > best->top1)) best = c;
  }
  return best ? change(naive, best) + fmt::format(", `{}`", best->observer) : "–";
}

std::string change(std::optional<double> value) { return value ? signed_delta(*value) : "–"; }

}  // namespace

std::string findings_markdown(const ReportData& data) {
  const auto* fp32 = float_baseline(data);
  const auto& s = data.study;
  if (!fp32 || !grid(data, s.naive_observer, s.per_channel_quantizer, 4)) return "No PTQ grid on this checkpoint in the database.\n";
  MarkdownTable table{{"cause", "measured as (top-1 %, change in points)"}, {false, false}, {}};
  for (int bits : s.findings_widths) {
    table.header.push_back(fmt::format("W{0}A{0}", bits));
    table.numeric.push_back(true);
  }
  const auto sensitivity = layer_sensitivity(data);
  const auto& first = data.study.first_layer;
  const auto& last = data.study.last_layer;
  std::vector<std::string> middle;  // every layer but the stem and the classifier
  for (const auto& layer : sensitivity.layers) {
    if (layer != first && layer != last) middle.push_back(layer);
  }
  // Each row's cause and how it is measured, in the report file's words ([text] "findings.<row>").
  const auto words = [&](const std::string& key) {
    return say(data.text, "findings." + key, fmt::arg("naive", s.naive_observer), fmt::arg("clipping", s.clipping_observer),
               fmt::arg("per_tensor", s.per_tensor_quantizer), fmt::arg("per_channel", s.per_channel_quantizer),
               fmt::arg("first", first), fmt::arg("last", last), fmt::arg("others", middle.size()));
  };
  using Row = std::function<std::string(int)>;
  auto add = [&](const std::string& key, const Row& value) {
    std::vector<std::string> row{words(key), words(key + ".how")};
    bool measured = false;
    for (int bits : s.findings_widths) {
      row.push_back(value(bits));
      measured = measured || row.back() != "–";
    }
    if (measured) table.rows.push_back(std::move(row));  // a row only where its experiment ran
  };
  add("clipping", [&](int b) { return clipping(data, b); });
  add("per_channel", [&](int b) {
    return change(grid(data, s.clipping_observer, s.per_tensor_quantizer, b),
                  grid(data, s.clipping_observer, s.per_channel_quantizer, b));
  });
  add("folding_per_tensor", [&](int b) {
    return change(grid(data, s.naive_observer, s.per_tensor_quantizer, b, false),
                  grid(data, s.naive_observer, s.per_tensor_quantizer, b));
  });
  add("folding_per_channel", [&](int b) {
    return change(grid(data, s.naive_observer, s.per_channel_quantizer, b, false),
                  grid(data, s.naive_observer, s.per_channel_quantizer, b));
  });

  if (!middle.empty()) {
    add("first_layer", [&](int b) { return change(sensitivity.at(first, b)); });
    add("last_layer", [&](int b) { return change(sensitivity.at(last, b)); });
    add("middle_layer", [&](int b) -> std::string {
      std::vector<double> changes;
      for (const auto& layer : middle) {
        if (const auto d = sensitivity.at(layer, b)) changes.push_back(*d);
      }
      if (changes.empty()) return "–";
      std::sort(changes.begin(), changes.end(), std::greater<>());  // drops in ascending order
      return signed_delta(changes[changes.size() / 2]);
    });
    add("sum_of_layers", [&](int b) -> std::string {
      double sum = 0;
      auto every_layer = middle;
      every_layer.push_back(first);
      every_layer.push_back(last);
      for (const auto& layer : every_layer) {
        const auto d = sensitivity.at(layer, b);
        if (!d) return "–";
        sum += *d;
      }
      const auto* all = grid(data, s.clipping_observer, s.per_channel_quantizer, b);
      return all ? fmt::format("{} → {}", signed_delta(sum), signed_delta(all->top1 - fp32->top1)) : "–";
    });
  }
  return table.render() + caption(data.text, "findings", fmt::arg("fp32", percent(fp32->top1)),
                                  fmt::arg("chance", percent(data.study.chance)));
}

}  // namespace qx::report
