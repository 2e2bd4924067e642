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

const std::vector<int> kWidths = {8, 4, 2};

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

// Top-1 drop against fp32 with one layer quantized at `bits`, the rest at 16 (sensitivity.toml).
std::optional<double> layer_drop(const ReportData& data, double fp32, const std::string& layer, int bits) {
  for (const auto& c : data.cells) {
    if (c.role == StudyRole::kSensitivity && sensitivity_layer(c) == layer &&
        setting(c, "override." + layer + ".a_bits") == std::to_string(bits)) {
      return fp32 - c.top1;
    }
  }
  return std::nullopt;
}

// The layers of the sensitivity experiment other than the stem and the classifier.
std::vector<std::string> middle_layers(const ReportData& data) {
  std::vector<std::string> layers;
  for (const auto& c : data.cells) {
    const auto layer = c.role == StudyRole::kSensitivity ? sensitivity_layer(c) : std::string();
    if (!layer.empty() && layer != data.study.first_layer && layer != data.study.last_layer &&
        std::find(layers.begin(), layers.end(), layer) == layers.end()) {
      layers.push_back(layer);
    }
  }
  return layers;
}

std::string drop(std::optional<double> value) { return value ? signed_delta(-*value) : "–"; }

}  // namespace

std::string findings_markdown(const ReportData& data) {
  const auto* fp32 = float_baseline(data);
  const auto& s = data.study;
  if (!fp32 || !grid(data, s.naive_observer, s.per_channel_quantizer, 4)) return "No PTQ grid on this checkpoint in the database.\n";
  MarkdownTable table{{"cause", "measured as (top-1 %, change in points)"}, {false, false}, {}};
  for (int bits : kWidths) {
    table.header.push_back(fmt::format("W{0}A{0}", bits));
    table.numeric.push_back(true);
  }
  using Row = std::function<std::string(int)>;
  auto add = [&](const std::string& cause, const std::string& how, const Row& value) {
    std::vector<std::string> row{cause, how};
    bool measured = false;
    for (int bits : kWidths) {
      row.push_back(value(bits));
      measured = measured || row.back() != "–";
    }
    if (measured) table.rows.push_back(std::move(row));  // a row only where its experiment ran
  };
  add("few levels for long tails",
      fmt::format("activations: `{}` → best clipping observer (`{}` weights)", s.naive_observer, s.per_channel_quantizer),
      [&](int b) { return clipping(data, b); });
  add("one grid for all channels",
      fmt::format("weights: per-tensor `{}` → `{}` (`{}` activations)", s.per_tensor_quantizer, s.per_channel_quantizer,
                  s.clipping_observer),
      [&](int b) {
        return change(grid(data, s.clipping_observer, s.per_tensor_quantizer, b),
                      grid(data, s.clipping_observer, s.per_channel_quantizer, b));
      });
  add("BatchNorm folding",
      fmt::format("`{}`, per-tensor `{}`: BatchNorm kept in float → folded", s.naive_observer, s.per_tensor_quantizer),
      [&](int b) {
        return change(grid(data, s.naive_observer, s.per_tensor_quantizer, b, false),
                      grid(data, s.naive_observer, s.per_tensor_quantizer, b));
      });
  add("BatchNorm folding",
      fmt::format("`{}`, `{}`: BatchNorm kept in float → folded", s.naive_observer, s.per_channel_quantizer),
      [&](int b) {
        return change(grid(data, s.naive_observer, s.per_channel_quantizer, b, false),
                      grid(data, s.naive_observer, s.per_channel_quantizer, b));
      });

  const auto middle = middle_layers(data);
  const auto& first = data.study.first_layer;
  const auto& last = data.study.last_layer;
  if (!middle.empty()) {
    add("the first layer", fmt::format("drop with only `{}` quantized (weights and input), the rest at 16 bits", first),
        [&](int b) { return drop(layer_drop(data, fp32->top1, first, b)); });
    add("the last layer", fmt::format("drop with only `{}` quantized", last),
        [&](int b) { return drop(layer_drop(data, fp32->top1, last, b)); });
    add("a middle layer", fmt::format("median drop over the other {} layers, one at a time", middle.size()),
        [&](int b) -> std::string {
      std::vector<double> drops;
      for (const auto& layer : middle) {
        if (const auto d = layer_drop(data, fp32->top1, layer, b)) drops.push_back(*d);
      }
      if (drops.empty()) return "–";
      std::sort(drops.begin(), drops.end());
      return signed_delta(-drops[drops.size() / 2]);
    });
    add("errors compound",
        fmt::format("sum of the single-layer drops → drop with every layer quantized (`{}`, `{}`)",
                    s.clipping_observer, s.per_channel_quantizer),
        [&](int b) -> std::string {
          double sum = 0;
          auto layers = middle;
          layers.push_back(first);
          layers.push_back(last);
          for (const auto& layer : layers) {
            const auto d = layer_drop(data, fp32->top1, layer, b);
            if (!d) return "–";
            sum += *d;
          }
          const auto* all = grid(data, s.clipping_observer, s.per_channel_quantizer, b);
          return all ? fmt::format("{} → {}", signed_delta(-sum), signed_delta(all->top1 - fp32->top1)) : "–";
        });
  }
  return table.render() + fmt::format("\nfp32 = {}. Each row changes one thing; weights and activations at the "
                                      "column's width. Chance is 10.00.\n",
                                      percent(fp32->top1));
}

}  // namespace qx::report
