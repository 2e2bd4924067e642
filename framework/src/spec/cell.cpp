#include "qx/spec/cell.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "qx/spec/json.h"

namespace qx::spec {

namespace {

std::string json_value(const Options::Value& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
        else if constexpr (std::is_same_v<T, std::string>) return json_string(v);
        else if constexpr (std::is_same_v<T, double>) return json_number(v);
        else return std::to_string(v);
      },
      value);
}

JsonObject plugin_object(const PluginChoice& choice) {
  JsonObject options;
  for (const auto& [key, value] : choice.options.values()) options.set_json(key, json_value(value));
  return JsonObject().set("name", choice.name).set("options", options);
}

}  // namespace

std::string plugin_json(const PluginChoice& choice) { return plugin_object(choice).str(); }

std::string key_digest(const std::string& key) {
  std::uint64_t hash = 14695981039346656037ull;  // FNV-1a's offset basis and prime
  for (const unsigned char c : key) hash = (hash ^ c) * 1099511628211ull;
  return fmt::format("{:016x}", hash);
}

std::string cell_key(const CellSpec& cell, const std::string& context) {
  JsonObject key;
  key.set_json("context", context);
  if (!cell.quantize) return key.set("quantize", false).str();
  return key.set("a_bits", cell.activation_bits)
      .set_json("cell", cell_options_json(cell))
      .set("fold_batch_norm", cell.fold_batch_norm)
      .set("w_bits", cell.weight_bits)
      .str();
}

std::string cell_options_json(const CellSpec& cell) { return cell_options(cell).str(); }

JsonObject cell_options(const CellSpec& cell) {
  if (!cell.quantize) return {};
  JsonObject overrides;
  for (const auto& [layer, bits] : cell.overrides) {
    overrides.set(layer, JsonObject().set("a_bits", bits.activation_bits).set("w_bits", bits.weight_bits));
  }
  JsonObject options;
  options.set("observer", plugin_object(cell.observer))
      .set("overrides", overrides)
      .set("quantizer", plugin_object(cell.quantizer))
      .set("weight_observer", plugin_object(cell.weight_observer));
  // Members that older cells lack are left out where unused, so that those cells keep their keys.
  if (cell.residual_bits > 0) options.set("residual_bits", cell.residual_bits);
  if (!cell.passes.empty()) {
    std::vector<std::string> passes;
    for (const auto& pass : cell.passes) passes.push_back(plugin_json(pass));
    options.set_json("passes", json_array(passes)).set("seed", cell.seed);
  }
  return options;
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

}  // namespace qx::spec
