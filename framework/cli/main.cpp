// qx: quantization experiments on LibTorch. See README.md.
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "qx/core/error.h"
#include "qx/eval/runtime.h"

namespace {

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

int report(const std::string& message) {
  std::cerr << "qx: error: " << first_line(message) << '\n';
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  qx::configure_allocator();
  spdlog::set_pattern("[%H:%M:%S] %v");

  CLI::App app{"qx: quantization experiments on LibTorch"};
  app.require_subcommand(1);
  qx::cli::GlobalOptions global;
  app.add_option("--plugins", global.plugin_dir, "plugin directory (default: $QX_PLUGIN_DIR, the experiment file, "
                                                 "<prefix>/lib/qx/plugins beside an installed qx, else the build tree's)");
  qx::cli::add_plugins_command(app, global);
  qx::cli::add_data_command(app);
  qx::cli::add_train_command(app, global);
  qx::cli::add_run_command(app, global);
  qx::cli::add_export_command(app);
  qx::cli::add_export_onnx_command(app, global);
  qx::cli::add_judge_command(app, global);
  qx::cli::add_report_command(app);
  qx::cli::add_merge_command(app);
  qx::cli::add_import_command(app);
  qx::cli::add_pack_command(app, global);
  qx::cli::add_eval_command(app, global);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const qx::Error& e) {
    return report(e.what());
  } catch (const c10::Error& e) {
    return report(e.what_without_backtrace());
  } catch (const std::exception& e) {
    return report(e.what());
  }
  return EXIT_SUCCESS;
}
