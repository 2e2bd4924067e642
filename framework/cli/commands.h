#pragma once
// The `qx` subcommands. Each registers itself on the CLI11 app and runs when selected.
#include <string>

#include <CLI/CLI.hpp>

namespace qx::cli {

struct GlobalOptions {
  std::string plugin_dir;  // --plugins
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
