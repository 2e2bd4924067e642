#include <spdlog/spdlog.h>

#include "commands.h"
#include "qx/config/ptq_config.h"
#include "qx/core/error.h"
#include "qx/deploy/onnx_export.h"
#include "qx/host/plugin_host.h"
#include "qx/run/experiment_session.h"
#include "qx/spec/cell.h"

namespace qx::cli {

namespace {

struct ExportOnnxArgs {
  std::string experiment;
  std::vector<std::string> cells;
  std::string out;
  run::RunOverrides overrides;
};

void export_cells(const ExportOnnxArgs& args, const GlobalOptions& global) {
  ChosenCells chosen_cells(args.experiment, args.cells, global, args.overrides);
  auto& session = chosen_cells.session();
  const auto& chosen = chosen_cells.cells();
  // One cell into a file named *.onnx; otherwise a folder, one file per cell named by its key's digest.
  const bool single_file = std::filesystem::path(args.out).extension() == ".onnx";
  if (single_file && chosen.size() != 1) fail("--out {} names one file, but {} cells are chosen", args.out, chosen.size());
  for (const auto* planned : chosen) {
    const auto file = single_file ? std::filesystem::path(args.out)
                                  : std::filesystem::path(args.out) / (spec::key_digest(planned->key) + ".onnx");
    deploy::OnnxExportSummary summary;
    const auto result = session.compute(planned->index, [&](sim::QuantSim& sim, const store::CellResult&) {
      summary = deploy::export_onnx(sim, file, {data::Normalization{}, planned->description});
    });
    if (!result.error.empty()) fail("{}: {}", planned->description, result.error);
    spdlog::info("{}: top-1 {:.2f}% simulated -> {} ({} bytes, {} nodes; {} weights as codes, {} activation points, {} "
                 "clipped to a narrower grid)",
                 planned->description, result.top1, file.string(), summary.bytes, summary.nodes,
                 summary.quantized_weights, summary.quantized_activations, summary.clipped_activations);
  }
}

}  // namespace

void add_export_onnx_command(CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand(
      "export-onnx", "quantize cells of an experiment and write each as an ONNX QDQ model (docs/deployment.md)");
  auto args = std::make_shared<ExportOnnxArgs>();
  command->add_option("experiment", args->experiment, "experiment file, e.g. experiments/ptq_grid.toml")->required();
  command->add_option("--cell", args->cells,
                      "the cell to export (repeatable; default: every cell): its label, its description as "
                      "`qx run --list` prints it, its index, or its key's digest");
  command->add_option("--out", args->out, "FILE.onnx for one cell, else a folder of KEY_DIGEST.onnx files")->required();
  command->add_option("--data", args->overrides.data_dir, "CIFAR-10 folder (overrides $QX_DATA_DIR and [data] dir)");
  command->add_option("--checkpoint", args->overrides.checkpoint, "instead of [model] checkpoint");
  command->add_option("--threads", args->overrides.threads, "CPU threads instead of [evaluation] threads")
      ->check(CLI::NonNegativeNumber);
  command->callback([args, &global] { export_cells(*args, global); });
}

}  // namespace qx::cli
