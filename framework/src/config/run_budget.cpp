#include <cstdlib>

#include "qx/config/ptq_config.h"
#include "qx/core/error.h"

namespace qx::config {

namespace {

// "2" is an integer, "0.5" a real, "true" and "false" booleans, anything else text: the types
// an experiment file's TOML would have given the same value.
Options::Value typed_value(const std::string& text) {
  if (text == "true") return true;
  if (text == "false") return false;
  char* end = nullptr;
  const long long integer = std::strtoll(text.c_str(), &end, 10);
  if (!text.empty() && *end == '\0') return static_cast<std::int64_t>(integer);
  const double real = std::strtod(text.c_str(), &end);
  if (!text.empty() && *end == '\0') return real;
  return text;
}

}  // namespace

void apply_budget(PtqExperiment& experiment, const RunBudget& budget) {
  if (budget.test_images > 0) experiment.evaluation.images = budget.test_images;
  if (budget.calibration_batches > 0) experiment.calibration.batches = budget.calibration_batches;
  if (budget.first_cells > 0 && static_cast<std::size_t>(budget.first_cells) < experiment.cells.size()) {
    experiment.cells.resize(static_cast<std::size_t>(budget.first_cells));
  }
  for (const auto& option : budget.pass_options) {
    const auto dot = option.find('.'), equals = option.find('=');
    if (dot == 0 || dot == std::string::npos || equals == std::string::npos || equals < dot + 2) {
      fail("--pass-option '{}': expected PASS.KEY=VALUE, e.g. lsq.epochs=1", option);
    }
    const auto pass = option.substr(0, dot), key = option.substr(dot + 1, equals - dot - 1);
    const auto value = typed_value(option.substr(equals + 1));
    for (auto& cell : experiment.cells) {
      for (auto& choice : cell.passes) {
        if (choice.name == pass) choice.options.set(key, value, "--pass-option " + option);
      }
    }
  }
}

}  // namespace qx::config
