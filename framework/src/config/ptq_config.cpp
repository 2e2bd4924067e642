#include "qx/config/ptq_config.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "qx/config/toml_reader.h"
#include "qx/core/error.h"
#include "qx/spec/bits.h"

namespace qx::config {

namespace fs = std::filesystem;

namespace {

constexpr const char* kNoOverrides = "none";

std::string relative_to(const fs::path& file, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (file.parent_path() / path).lexically_normal().string();
}

// Plugin options per plugin name, from [observers.<name>] or [quantizers.<name>].
std::map<std::string, Options> plugin_options(TableReader& root, const std::string& table, const char* kind) {
  std::map<std::string, Options> out;
  auto section = root.section(table);
  for (const auto& name : section.keys()) {
    auto options = section.section(name);
    out.emplace(name, options.remaining_as_options(fmt::format("{} '{}' ([{}.{}])", kind, name, table, name)));
  }
  return out;
}

spec::PluginChoice choose(const std::string& name, const std::map<std::string, Options>& options, const char* kind) {
  auto it = options.find(name);
  return {name, it != options.end() ? it->second : Options(fmt::format("{} '{}'", kind, name))};
}

using OverrideSets = std::map<std::string, std::map<std::string, spec::LayerBits>>;

// Plugin options by plugin name, per kind.
struct PluginTables {
  std::map<std::string, Options> observers, quantizers, passes;
};

// [overrides.<set>.<layer>] weight_bits / activation_bits.
OverrideSets override_sets(TableReader& root) {
  std::map<std::string, std::map<std::string, spec::LayerBits>> sets;
  auto section = root.section("overrides");
  for (const auto& set : section.keys()) {
    if (set == kNoOverrides) fail("{}: '{}' is reserved for 'no overrides'", section.where(), kNoOverrides);
    auto layers = section.section(set);
    auto& bits = sets[set];
    for (const auto& layer : layers.keys()) {
      auto entry = layers.section(layer);
      bits[layer].weight_bits = static_cast<int>(entry.get_int("weight_bits", 0, spec::kMinBits, spec::kMaxBits));
      bits[layer].activation_bits = static_cast<int>(entry.get_int("activation_bits", 0, spec::kMinBits, spec::kMaxBits));
      entry.finish();
    }
    layers.finish();
  }
  section.finish();
  return sets;
}

const std::map<std::string, spec::LayerBits>& find_set(const OverrideSets& sets, const std::string& name,
    const std::string& where) {
  static const std::map<std::string, spec::LayerBits> none;
  if (name == kNoOverrides) return none;
  auto it = sets.find(name);
  if (it == sets.end()) fail("{}: unknown override set '{}' (define it as [overrides.{}])", where, name, name);
  return it->second;
}

int bits_value(std::int64_t bits) { return static_cast<int>(bits); }

// 0 (the stream stored at its readers' width), or a width no narrower than the activations':
// a stream stored narrower than the layers read it would quantize twice for nothing.
int residual_bits(std::int64_t bits, int activation_bits, const std::string& where) {
  if (bits == 0) return 0;
  if (bits < spec::kMinBits) {
    fail("{}: residual_bits must be 0 (off) or {}..{}, got {}", where, spec::kMinBits, spec::kMaxBits, bits);
  }
  if (bits < activation_bits) {
    fail("{}: residual_bits {} is narrower than the activations' {} bits", where, bits, activation_bits);
  }
  return bits_value(bits);
}

std::vector<spec::PluginChoice> choose_passes(const std::vector<std::string>& names,
                                             const std::map<std::string, Options>& options) {
  std::vector<spec::PluginChoice> out;
  for (const auto& name : names) out.push_back(choose(name, options, "pass"));
  return out;
}

// One [grid] table: the cartesian product of its axes, appended to `cells`.
void expand_grid(TableReader& grid, const PluginTables& plugins, const OverrideSets& overrides,
                 std::vector<spec::CellSpec>& out) {
  const auto observers = grid.get_string_array("observers", std::nullopt);
  const auto quantizers = grid.get_string_array("quantizers", std::nullopt);
  const auto weight_observers = grid.get_string_array("weight_observers", std::vector<std::string>{spec::kDefaultWeightObserver});
  const auto folds = grid.get_bool_array("fold_batch_norm", std::vector<bool>{true});
  const auto override_names = grid.get_string_array("overrides", std::vector<std::string>{kNoOverrides});
  const auto pass_lists = grid.get_string_lists("passes", std::vector<std::vector<std::string>>{{}});
  const auto seeds = grid.get_int_array("seeds", std::vector<std::int64_t>{0}, 0);
  const auto residual_widths = grid.get_int_array("residual_bits", std::vector<std::int64_t>{0}, 0, spec::kMaxBits);
  const auto residual_where = grid.where_of("residual_bits");
  std::vector<std::pair<std::int64_t, std::int64_t>> widths;  // (weight, activation)
  const int ways = int{grid.has("bits")} + int{grid.has("widths")} +
                   int{grid.has("weight_bits") || grid.has("activation_bits")};
  if (ways > 1) {
    fail("{}: give one of bits, widths, or weight_bits and activation_bits", grid.where());
  }
  if (grid.has("widths")) {
    for (const auto& pair : grid.get_int_lists("widths", spec::kMinBits, spec::kMaxBits)) {
      if (pair.size() != 2) fail("{}: each of 'widths' is [weight_bits, activation_bits]", grid.where());
      widths.emplace_back(pair[0], pair[1]);
    }
  } else if (grid.has("bits")) {
    for (auto bits : grid.get_int_array("bits", std::nullopt, spec::kMinBits, spec::kMaxBits)) {
      widths.emplace_back(bits, bits);
    }
  } else {
    const auto weight_bits = grid.get_int_array("weight_bits", std::nullopt, spec::kMinBits, spec::kMaxBits);
    const auto activation_bits = grid.get_int_array("activation_bits", std::nullopt, spec::kMinBits, spec::kMaxBits);
    for (auto w : weight_bits) {
      for (auto a : activation_bits) widths.emplace_back(w, a);
    }
  }
  grid.finish();
  for (const auto& name : override_names) find_set(overrides, name, grid.where());

  // The cartesian product, one axis at a time, the first axis outermost.
  std::vector<spec::CellSpec> cells(1);
  auto expand = [&cells](const auto& values, const auto& apply) {
    std::vector<spec::CellSpec> next;
    for (const auto& cell : cells) {
      for (const auto& value : values) apply(next.emplace_back(cell), value);
    }
    cells = std::move(next);
  };
  expand(observers, [&](spec::CellSpec& c, const std::string& v) { c.observer = choose(v, plugins.observers, "observer"); });
  expand(quantizers, [&](spec::CellSpec& c, const std::string& v) { c.quantizer = choose(v, plugins.quantizers, "quantizer"); });
  expand(widths, [](spec::CellSpec& c, const std::pair<std::int64_t, std::int64_t>& v) {
    c.weight_bits = bits_value(v.first);
    c.activation_bits = bits_value(v.second);
  });
  expand(weight_observers,
         [&](spec::CellSpec& c, const std::string& v) { c.weight_observer = choose(v, plugins.observers, "observer"); });
  expand(folds, [](spec::CellSpec& c, bool v) { c.fold_batch_norm = v; });
  expand(residual_widths, [&](spec::CellSpec& c, std::int64_t v) {
    c.residual_bits = residual_bits(v, c.activation_bits, residual_where);
  });
  expand(override_names, [&](spec::CellSpec& c, const std::string& v) { c.overrides = find_set(overrides, v, grid.where()); });
  expand(pass_lists, [&](spec::CellSpec& c, const std::vector<std::string>& v) { c.passes = choose_passes(v, plugins.passes); });
  // A seed only matters to passes: a cell without any runs once, with seed 0.
  for (auto& cell : cells) {
    for (std::size_t i = 0; i < (cell.passes.empty() ? 1 : seeds.size()); ++i) {
      out.push_back(cell);
      out.back().seed = cell.passes.empty() ? 0 : seeds[i];
    }
  }
}

}  // namespace

PtqExperiment load_ptq_experiment(const std::string& path) {
  return load_ptq_experiment_text(parse_toml_file(path).text, path);
}

namespace {

// The tables that every cell shares: model, data, calibration, evaluation, output, plugins.
void read_run_settings(TableReader& root, const fs::path& file, PtqExperiment& experiment) {
  auto model = root.section("model");
  experiment.checkpoint = relative_to(file, model.get_string("checkpoint", std::nullopt));
  model.finish();
  auto data = root.section("data");
  experiment.data_dir = relative_to(file, data.get_string("dir", std::string()));
  data.finish();

  auto calibration = root.section("calibration");
  experiment.calibration.batches = calibration.get_int("batches", 16, 1, 100000);
  experiment.calibration.batch_size = calibration.get_int("batch_size", 128, 1, 100000);
  experiment.calibration.seed = calibration.get_int("seed", 0, 0);
  calibration.finish();

  auto evaluation = root.section("evaluation");
  experiment.evaluation.batch_size = evaluation.get_int("batch_size", 200, 1, 100000);
  experiment.evaluation.images = evaluation.get_int("images", 0, 0);
  experiment.evaluation.threads = evaluation.get_int("threads", 0, 0, 1024);
  experiment.evaluation.device = evaluation.get_string("device", "cpu");
  experiment.evaluation.channels_last = evaluation.get_bool("channels_last", true);
  evaluation.finish();

  auto output = root.section("output");
  experiment.database = relative_to(file, output.get_string("database", std::nullopt));
  experiment.histogram_layers = output.get_string_array("histograms", std::vector<std::string>{});
  experiment.histograms_where = output.where_of("histograms");
  output.finish();
  auto plugin_dir = root.section("plugins");
  experiment.plugin_dir = relative_to(file, plugin_dir.get_string("dir", std::string()));
  plugin_dir.finish();
}

// One [[cells]] entry: a cell named and set by hand, outside any grid.
spec::CellSpec fixed_cell(TableReader& entry, const PluginTables& plugins, const OverrideSets& overrides) {
  spec::CellSpec cell;
  cell.label = entry.get_string("name", std::nullopt);
  cell.quantize = entry.get_bool("quantize", true);
  if (cell.quantize) {
    cell.observer = choose(entry.get_string("observer", std::nullopt), plugins.observers, "observer");
    cell.weight_observer = choose(entry.get_string("weight_observer", spec::kDefaultWeightObserver), plugins.observers, "observer");
    cell.quantizer = choose(entry.get_string("quantizer", std::nullopt), plugins.quantizers, "quantizer");
    if (entry.has("bits") && (entry.has("weight_bits") || entry.has("activation_bits"))) {
      fail("{}: give either bits or weight_bits and activation_bits", entry.where());
    }
    using spec::kMaxBits, spec::kMinBits;
    const auto bits = entry.has("bits") ? entry.get_int("bits", std::nullopt, kMinBits, kMaxBits) : 0;
    cell.weight_bits = bits_value(bits ? bits : entry.get_int("weight_bits", std::nullopt, kMinBits, kMaxBits));
    cell.activation_bits = bits_value(bits ? bits : entry.get_int("activation_bits", std::nullopt, kMinBits, kMaxBits));
    cell.fold_batch_norm = entry.get_bool("fold_batch_norm", true);
    cell.overrides = find_set(overrides, entry.get_string("overrides", kNoOverrides), entry.where());
    cell.passes = choose_passes(entry.get_string_array("passes", std::vector<std::string>{}), plugins.passes);
    // [cells.pass_options.<pass>]: this cell's options for one of its passes, over [passes.<pass>].
    auto own = entry.section("pass_options");
    for (const auto& name : own.keys()) {
      auto it = std::find_if(cell.passes.begin(), cell.passes.end(), [&](const auto& p) { return p.name == name; });
      if (it == cell.passes.end()) fail("{}: pass_options for '{}', which the cell does not run", own.where(), name);
      auto section = own.section(name);
      it->options.set_all(section.remaining_as_options(name));
      section.finish();
    }
    own.finish();
    cell.seed = entry.get_int("seed", 0, 0);
    cell.residual_bits = residual_bits(entry.get_int("residual_bits", 0, 0, spec::kMaxBits), cell.activation_bits,
                                       entry.where_of("residual_bits"));
  }
  entry.finish();
  return cell;
}

}  // namespace

PtqExperiment load_ptq_experiment_text(std::string text, const std::string& path) {
  auto document = parse_toml_text(std::move(text), path);
  TableReader root(document.root, document.path, "");
  PtqExperiment experiment;
  experiment.source_path = document.path;
  experiment.source_text = document.text;
  experiment.name = root.get_string("name", std::nullopt);
  read_run_settings(root, fs::path(document.path), experiment);

  const PluginTables plugins{plugin_options(root, "observers", "observer"),
                             plugin_options(root, "quantizers", "quantizer"), plugin_options(root, "passes", "pass")};
  const auto overrides = override_sets(root);
  for (auto& entry : root.table_array("cells")) experiment.cells.push_back(fixed_cell(entry, plugins, overrides));

  // One [grid] table, or several ([[grid]]) whose products are concatenated.
  if (root.has("grid")) {
    if (document.root["grid"].is_array_of_tables()) {
      for (auto& grid : root.table_array("grid")) expand_grid(grid, plugins, overrides, experiment.cells);
    } else {
      auto grid = root.section("grid");
      expand_grid(grid, plugins, overrides, experiment.cells);
    }
  }
  root.finish();
  if (experiment.cells.empty()) fail("{}: no cells: add a [grid] or [[cells]]", document.path);
  return experiment;
}

}  // namespace qx::config
