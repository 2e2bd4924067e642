#include "qx/sim/cell.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace qx::sim {

namespace {

// A JSON string (RFC 8259): quotes, backslashes and control characters escaped, anything else
// as it is (UTF-8 passes through). The names and values here are plain, so the keys of every
// stored cell read the same as before control characters were escaped; a path may hold quotes
// and an option text a newline.
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        else out += c;
    }
  }
  return out + "\"";
}

std::string json_value(const Options::Value& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
        else if constexpr (std::is_same_v<T, std::string>) return quoted(v);
        else if constexpr (std::is_same_v<T, double>) return fmt::format("{:.17g}", v);
        else return fmt::format("{}", v);
      },
      value);
}

}  // namespace

std::string plugin_json(const PluginChoice& choice) {
  std::vector<std::string> options;
  for (const auto& [key, value] : choice.options.values()) options.push_back(quoted(key) + ":" + json_value(value));
  return fmt::format("{{\"name\":{},\"options\":{{{}}}}}", quoted(choice.name), fmt::join(options, ","));
}

std::string cell_key(const CellSpec& cell, const std::string& context) {
  if (!cell.quantize) return fmt::format("{{\"context\":{},\"quantize\":false}}", context);
  return fmt::format("{{\"a_bits\":{},\"cell\":{},\"context\":{},\"fold_batch_norm\":{},\"w_bits\":{}}}",
                     cell.activation_bits, cell_options_json(cell), context, cell.fold_batch_norm ? "true" : "false",
                     cell.weight_bits);
}

std::string cell_options_json(const CellSpec& cell) {
  if (!cell.quantize) return "{}";
  std::vector<std::string> overrides;
  for (const auto& [layer, bits] : cell.overrides) {
    overrides.push_back(fmt::format("{}:{{\"a_bits\":{},\"w_bits\":{}}}", quoted(layer), bits.activation_bits,
                                    bits.weight_bits));
  }
  // Keys stay in sorted order: "passes" after "overrides", "residual_bits" and "seed" after
  // "quantizer".
  std::string passes, residual, seed;
  if (cell.residual_bits > 0) residual = fmt::format(",\"residual_bits\":{}", cell.residual_bits);
  if (!cell.passes.empty()) {
    std::vector<std::string> items;
    for (const auto& pass : cell.passes) items.push_back(plugin_json(pass));
    passes = fmt::format(",\"passes\":[{}]", fmt::join(items, ","));
    seed = fmt::format(",\"seed\":{}", cell.seed);
  }
  return fmt::format("{{\"observer\":{},\"overrides\":{{{}}}{},\"quantizer\":{}{}{},\"weight_observer\":{}}}",
                     plugin_json(cell.observer), fmt::join(overrides, ","), passes, plugin_json(cell.quantizer),
                     residual, seed, plugin_json(cell.weight_observer));
}

std::string describe(const CellSpec& cell) {
  if (!cell.quantize) return cell.label.empty() ? "fp32" : cell.label;
  std::string text = fmt::format("{}/{} W{}A{}", cell.observer.name, cell.quantizer.name, cell.weight_bits,
                                 cell.activation_bits);
  if (cell.weight_observer.name != kDefaultWeightObserver) text += fmt::format(" (weights: {})", cell.weight_observer.name);
  if (!cell.fold_batch_norm) text += " unfolded";
  if (cell.residual_bits > 0) text += fmt::format(" residual stream {}-bit", cell.residual_bits);
  if (!cell.overrides.empty()) text += fmt::format(" +{} overrides", cell.overrides.size());
  if (!cell.passes.empty()) text += fmt::format(" +{} seed {}", pass_list(cell), cell.seed);
  if (!cell.label.empty()) text = cell.label + ": " + text;
  return text;
}

std::string pass_list(const CellSpec& cell) {
  std::vector<std::string> names;
  for (const auto& pass : cell.passes) names.push_back(pass.name);
  return fmt::format("{}", fmt::join(names, "+"));
}

}  // namespace qx::sim
