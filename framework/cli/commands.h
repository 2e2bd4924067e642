#pragma once
// The `qx` subcommands. Each registers itself on the CLI11 app and runs when selected.
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "qx/config/ptq_config.h"
#include "qx/host/plugin_host.h"
#include "qx/run/experiment_session.h"

namespace qx::cli {

struct GlobalOptions {
  std::string plugin_dir;  // --plugins
};

// An experiment file with its plugins and a session over its cells, and the cells the user chose:
// what the commands that recompute chosen cells (export-onnx, judge) start from.
class ChosenCells {
 public:
  ChosenCells(const std::string& experiment_file, const std::vector<std::string>& selectors,
              const GlobalOptions& global, const run::RunOverrides& overrides);
  run::ExperimentSession& session() { return session_; }
  const std::vector<const run::PlannedCell*>& cells() const { return cells_; }

 private:
  config::PtqExperiment experiment_;
  PluginHost host_;
  run::ExperimentSession session_;  // reads experiment_ and host_, declared before it
  std::vector<const run::PlannedCell*> cells_;
};

void add_plugins_command(CLI::App& app, const GlobalOptions& global);
void add_data_command(CLI::App& app);
void add_train_command(CLI::App& app, const GlobalOptions& global);
void add_eval_command(CLI::App& app, const GlobalOptions& global);
void add_run_command(CLI::App& app, const GlobalOptions& global);
void add_export_command(CLI::App& app);
void add_export_onnx_command(CLI::App& app, const GlobalOptions& global);
void add_judge_command(CLI::App& app, const GlobalOptions& global);
void add_report_command(CLI::App& app);
void add_merge_command(CLI::App& app);
void add_import_command(CLI::App& app);
void add_pack_command(CLI::App& app, const GlobalOptions& global);

}  // namespace qx::cli
