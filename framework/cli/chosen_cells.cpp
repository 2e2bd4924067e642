#include "commands.h"

namespace qx::cli {

ChosenCells::ChosenCells(const std::string& experiment_file, const std::vector<std::string>& selectors,
                         const GlobalOptions& global, const run::RunOverrides& overrides)
    : experiment_(config::load_ptq_experiment(experiment_file)),
      host_(resolve_plugin_dir(global.plugin_dir, experiment_.plugin_dir)),
      session_(experiment_, host_, overrides),
      cells_(session_.select(selectors)) {}

}  // namespace qx::cli
