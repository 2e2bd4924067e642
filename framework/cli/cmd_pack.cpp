#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "qx/core/error.h"
#include "qx/deploy/packed_model.h"
#include "qx/host/plugin_host.h"
#include "qx/store/results_db.h"

namespace qx::cli {

namespace {

struct PackArgs {
  std::string checkpoint;
  std::vector<int> bits{32, 16, 8, 4, 3, 2};
  std::string quantizer = "per_channel";
  std::string out_dir = "packed";
  std::string database;
};

// Measured model sizes: each width is written as a real file and its size recorded.
void pack(const PackArgs& args, const GlobalOptions& global) {
  for (int bits : args.bits) {
    if (bits != 32) quant::QuantSpec{bits}.validate("qx pack --bits");
  }
  const auto checkpoint = train::load_checkpoint(args.checkpoint);
  PluginHost host(resolve_plugin_dir(global.plugin_dir, ""));
  std::filesystem::create_directories(args.out_dir);
  std::unique_ptr<store::ResultsDb> results;
  if (!args.database.empty()) results = std::make_unique<store::ResultsDb>(args.database);
  for (int bits : args.bits) {
    const auto quantizer = bits == 32 ? std::string("float") : args.quantizer;
    const auto file = std::filesystem::path(args.out_dir) / fmt::format("{}-{}-w{}.qxpk", checkpoint.model, quantizer, bits);
    const auto packed = deploy::pack_model(checkpoint, host, args.quantizer, bits, file);
    spdlog::info("{}: {} bytes ({} of them weights, {} weights)", file.string(), packed.bytes, packed.weight_bytes,
                 packed.parameters);
    if (results) {
      results->record_packed({checkpoint.run_uid, checkpoint.epoch, quantizer, bits,
                              static_cast<std::int64_t>(packed.bytes), packed.weight_bytes, packed.parameters,
                              file.filename().string()});
    }
  }
}

}  // namespace

void add_pack_command(CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand("pack", "write the model with low-bit packed weights, to measure its real size");
  auto args = std::make_shared<PackArgs>();
  command->add_option("checkpoint", args->checkpoint, "a qx checkpoint")->required();
  command->add_option("--bits", args->bits, "weight widths; 32 = float (default 32 16 8 4 3 2)");
  command->add_option("--quantizer", args->quantizer, "quantizer for the weights (default per_channel)");
  command->add_option("--out-dir", args->out_dir, "where the files go (default packed/)");
  command->add_option("--db", args->database, "record the sizes in this results database");
  command->callback([args, &global] { pack(*args, global); });
}

}  // namespace qx::cli
