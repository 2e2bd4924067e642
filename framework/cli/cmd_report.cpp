#include <spdlog/spdlog.h>

#include "commands.h"
#include "qx/report/report.h"

namespace qx::cli {

void add_report_command(CLI::App& app) {
  auto options = std::make_shared<report::ReportOptions>();
  auto* command = app.add_subcommand("report", "render the results database as Markdown tables and SVG figures");
  command->add_option("database", options->database, "results database, e.g. results/results.sqlite")
      ->required();
  command->add_option("--out", options->out_dir, "output folder")->required();
  command->add_option("--readme", options->readme, "also fill the README's qx-report region");
  command->add_option("--layout", options->layout,
                      "report file: which experiment feeds each section, and the results at a glance (e.g. experiments/report.toml)");
  command->add_option("--run", options->run_uid, "report the cells of this checkpoint run (default: the newest cell's)");
  command->add_option("--epoch", options->epoch, "with --run: the checkpoint's epoch");
  command->add_option("--gnuplot", options->gnuplot, "gnuplot executable");
  command->callback([options] {
    report::write_report(*options);
    spdlog::info("report written to {}", options->out_dir.string());
  });
}

}  // namespace qx::cli
