#include <filesystem>

#include <spdlog/spdlog.h>

#include "commands.h"
#include "qx/core/error.h"
#include "qx/store/results_merge.h"

namespace qx::cli {

namespace {

struct MergeArgs {
  std::string from;
  std::string into;
};

void merge(const MergeArgs& args) {
  // Before opening `into`, which would create it: a failed merge writes nothing.
  if (!std::filesystem::is_regular_file(args.from)) fail("merge: no results database '{}'", args.from);
  store::ResultsDb into(args.into);
  const auto summary = store::merge_results(into, args.from);
  spdlog::info("{} -> {}: {} cells of {} experiments added, {} already there", args.from, args.into, summary.cells,
               summary.experiments, summary.skipped);
}

}  // namespace

void add_merge_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "merge", "add the finished cells of a results database written elsewhere (a GPU machine) to another");
  auto args = std::make_shared<MergeArgs>();
  command->add_option("from", args->from, "the database whose cells to add")->required();
  command->add_option("into", args->into, "the database they go into, e.g. results/results.sqlite")->required();
  command->callback([args] { merge(*args); });
}

}  // namespace qx::cli
