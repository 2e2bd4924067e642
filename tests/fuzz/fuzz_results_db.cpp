// Results databases from elsewhere: opening one (`qx run`, `qx report`: schema check and
// migration) and merging one into another (`qx merge`). The input is the whole file. Seeds: a
// small database written through ResultsDb, with a run, an experiment, a cell and its tensors,
// at SQLite's smallest page size so that the fuzzer's mutations reach every table.
#include <cstddef>
#include <cstdint>
#include <filesystem>

#include "fuzz_support.h"
#include "qx/store/results_db.h"
#include "qx/store/results_merge.h"

namespace {
namespace fs = std::filesystem;

void write_seeds(const fs::path& dir) {
  const auto path = dir / "results.sqlite";
  fs::remove(path);
  {
    qx::store::ResultsDb results(path.string());
    const auto run = results.open_run({"run-1", "train", "seed", "seed.toml", "epochs = 1", "resnet20", "cpu", 1, "test"});
    qx::spec::EpochRecord epoch;
    epoch.epoch = 1;
    epoch.test_top1 = 50;
    results.record_epoch(run, epoch);
    results.finish_run(run, "finished");
    qx::store::ExperimentRecord experiment;
    experiment.name = "seed";
    experiment.config_text = "name = \"seed\"";
    const auto id = results.open_experiment(experiment);
    qx::store::CellResult cell;
    cell.key = "seed-cell";
    cell.top1 = 42;
    cell.images = 10;
    qx::store::TensorRow tensor;
    tensor.name = "conv";
    tensor.role = "weight";
    tensor.bits = 4;
    cell.tensors.push_back(tensor);
    cell.passes.push_back({"bias_correction", "1.0.0", "{}", 0.5, ""});
    results.record_cell(id, cell);
    results.finish_experiment(id, "finished");
    // The page size changes only when VACUUM rebuilds the file, and not in WAL mode.
    results.database().execute("PRAGMA journal_mode = DELETE; PRAGMA page_size = 512; VACUUM");
  }
}

void remove_database(const fs::path& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(path.string() + suffix);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  qx::fuzz::write_seeds_if_asked(write_seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto source = qx::fuzz::scratch_dir() / "source.sqlite";
  const auto opened = qx::fuzz::scratch_dir() / "opened.sqlite";
  remove_database(source);
  remove_database(opened);
  qx::fuzz::write_file(source, data, size);
  qx::fuzz::write_file(opened, data, size);
  try {
    qx::store::ResultsDb results(opened.string());
  } catch (const qx::Error& error) {
    qx::fuzz::expect_one_line(error);
  }
  try {
    qx::store::ResultsDb into(":memory:");
    qx::store::merge_results(into, source.string());
  } catch (const qx::Error& error) {
    qx::fuzz::expect_one_line(error);
  }
  return 0;
}
