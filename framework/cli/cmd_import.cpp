#include <fstream>
#include <iostream>

#include <spdlog/spdlog.h>

#include "commands.h"
#include "qx/core/error.h"
#include "qx/store/results_import.h"

namespace qx::cli {

namespace {

struct ImportArgs {
  std::string file;
  std::string database;
};

void import_rows(const ImportArgs& args) {
  // Every line is read and checked before the database is opened (and perhaps created): a bad
  // file writes nothing.
  store::ImportBatch batch;
  if (args.file == "-") {
    batch = store::read_import(std::cin, "<stdin>");
  } else {
    std::ifstream in(args.file);
    if (!in) fail("import: cannot read '{}'", args.file);
    batch = store::read_import(in, args.file);
  }
  store::ResultsDb db(args.database);
  const auto counts = store::write_import(db, batch);
  if (batch.experiment) {
    spdlog::info("{}: experiment '{}' with {} cells ({} replacing earlier ones)", args.database, batch.experiment->name,
                 counts.cells, counts.replaced_cells);
  }
  if (counts.benchmarks > 0) spdlog::info("{}: {} benchmark measurements", args.database, counts.benchmarks);
}

}  // namespace

void add_import_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "import", "write cells or benchmarks computed outside qx (JSON lines; docs/results-schema.md) into a results "
                "database, all or nothing");
  auto args = std::make_shared<ImportArgs>();
  command->add_option("file", args->file, "the JSON-lines file, or - for standard input")->required();
  command->add_option("--db", args->database, "the results database (created if missing)")->required();
  command->callback([args] { import_rows(*args); });
}

}  // namespace qx::cli
