#include <spdlog/spdlog.h>

#include "commands.h"
#include "qx/train/checkpoint.h"

namespace qx::cli {

namespace {

struct ExportArgs {
  std::string checkpoint;
  std::string out;
};

// A trained model for others to use needs no training state: without the momentum buffers (and,
// after an SWA phase, the SGD iterate) a ResNet20 checkpoint halves. History, recipe and run
// identity stay, so results still trace back.
void export_checkpoint(const ExportArgs& args) {
  auto checkpoint = train::load_checkpoint(args.checkpoint);
  checkpoint.optimizer.clear();
  checkpoint.train_state.clear();
  train::save_checkpoint(checkpoint, args.out);
  spdlog::info("{} (epoch {}, run {}) -> {} without optimizer state or SGD iterate", args.checkpoint, checkpoint.epoch,
               checkpoint.run_uid, args.out);
}

}  // namespace

void add_export_command(CLI::App& app) {
  auto* command = app.add_subcommand("export", "write a checkpoint without its training state (optimizer, SGD iterate), for shipping");
  auto args = std::make_shared<ExportArgs>();
  command->add_option("checkpoint", args->checkpoint, "a checkpoint written by qx train")->required();
  command->add_option("out", args->out, "where to write the exported checkpoint")->required();
  command->callback([args] { export_checkpoint(*args); });
}

}  // namespace qx::cli
