// `qx import`: rows computed outside qx (the Python references, the benchmark recorder) written
// through the store, all or nothing, every bad line refused in one line naming file:line.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "qx/core/error.h"
#include "qx/store/results_import.h"
#include "cli_support.h"

namespace qx::test {
namespace {

using ::testing::HasSubstr;

const std::string kExperiment =
    R"({"experiment": {"name": "torch.ao-ptq", "config_path": "tools/torch_ao_ptq.py", "config_text": "--db x",)"
    R"( "git_revision": null, "checkpoint": "c.pt", "model": "resnet20", "device": "cpu", "threads": 2,)"
    R"( "torch_version": "1.13.1", "machine": "a CPU"}})";

std::string cell(const std::string& key, double top1, const std::string& extra = "") {
  return R"({"cell": {"key": ")" + key + R"(", "label": "torch.ao int8", "observer": "torch.ao HistogramObserver",)"
         R"( "weight_observer": "PerChannelMinMaxObserver", "quantizer": "torch.ao/onednn", "w_bits": 8, "a_bits": 8,)"
         R"( "fold_batch_norm": true, "options": {"variant": "onednn", "engine": "onednn"}, "top1": )" +
         std::to_string(top1) + R"(, "loss": 0.3, "images": 10000, "calib_seconds": 1.5, "eval_seconds": 4)" + extra +
         "}}";
}

const std::string kBenchmark =
    R"({"benchmark": {"suite": "torch_int8", "name": "int8_b1", "seconds": 0.002, "iterations": 100,)"
    R"( "items_per_second": null, "context": {"batch": 1}, "machine": "a CPU"}})";

store::ImportCounts import_text(store::ResultsDb& db, const std::string& text) {
  std::istringstream in(text);
  return store::write_import(db, store::read_import(in, "rows.jsonl"));
}

std::int64_t count(store::ResultsDb& db, const std::string& sql) {
  store::Statement query(db.database(), sql);
  EXPECT_TRUE(query.step());
  return query.column_int(0);
}

std::string import_error(const std::string& text) {
  std::istringstream in(text);
  try {
    store::read_import(in, "rows.jsonl");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Import, WritesTheExperimentItsCellsAndBenchmarksThroughTheStore) {
  ScratchDir dir;
  store::ResultsDb db((dir / "r.sqlite").string());
  const auto counts = import_text(db, kExperiment + "\n" + cell("k1", 91.5) + "\n\n" + cell("k2", 90.0) + "\n" + kBenchmark);
  EXPECT_EQ(counts.cells, 2);
  EXPECT_EQ(counts.replaced_cells, 0);
  EXPECT_EQ(counts.benchmarks, 1);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM experiments WHERE name = 'torch.ao-ptq' AND status = 'finished' "
                      "AND torch_version = '1.13.1' AND git_revision IS NULL"), 1);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM results WHERE experiment = 'torch.ao-ptq' AND top5 IS NULL"), 2);
  // The options are stored canonically (members sorted), and the schema's trigger adds the settings rows.
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM cells WHERE options = '{\"engine\":\"onednn\",\"variant\":\"onednn\"}'"), 2);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM cell_settings WHERE key = 'w_bits' AND value = 8"), 2);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM benchmarks WHERE suite = 'torch_int8' AND items_per_second IS NULL"), 1);

  // Run again: the same keys replace their cells, and the suite replaces its rows.
  const auto again = import_text(db, kExperiment + "\n" + cell("k1", 92.0) + "\n" + kBenchmark);
  EXPECT_EQ(again.replaced_cells, 1);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM cells"), 2);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM cells WHERE key = 'k1' AND top1 = 92.0"), 1);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM benchmarks"), 1);
}

TEST(Import, RefusesEachBadLineNamingFileLineAndField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {kExperiment + "\n{not json", "rows.jsonl:2: not JSON"},
      {kExperiment + "\n" + R"({"row": {}})", "rows.jsonl:2: unknown kind 'row'"},
      {kExperiment + "\n" + R"({"cell": {}, "benchmark": {}})", "rows.jsonl:2: each line is one object with one member"},
      {cell("k", 90.0), "rows.jsonl:1: a cell before the experiment line it belongs to"},
      {kExperiment + "\n" + kExperiment, "rows.jsonl:2: a second experiment"},
      {kExperiment + "\n" + cell("k", 101.0), "rows.jsonl:2: cell: field 'top1' is 101, outside [0, 100]"},
      {kExperiment + "\n" + cell("k", 90.0, R"(, "colour": "red")"), "rows.jsonl:2: cell: unknown field 'colour'"},
      {kExperiment + "\n" + cell("k", 90.0) + "\n" + cell("k", 91.0), "rows.jsonl:3: cell key given twice"},
      {kExperiment + "\n" + cell("k", 90.0, R"(, "top5": "high")"), "rows.jsonl:2: cell: field 'top5' must be a number"},
      {kExperiment, "rows.jsonl: an experiment without cells"},
      {"", "rows.jsonl: nothing to import"},
  };
  for (const auto& [text, expected] : cases) EXPECT_THAT(import_error(text), HasSubstr(expected)) << text;
  // Out-of-range bits and a missing field.
  auto narrow = cell("k", 90.0);
  narrow.replace(narrow.find("\"w_bits\": 8"), 11, "\"w_bits\": 1");
  EXPECT_THAT(import_error(kExperiment + "\n" + narrow), HasSubstr("rows.jsonl:2: cell: field 'w_bits' is 1, outside [2, 16]"));
  auto keyless = cell("k", 90.0);
  keyless.replace(keyless.find("\"key\": \"k\", "), 12, "");
  EXPECT_THAT(import_error(kExperiment + "\n" + keyless), HasSubstr("rows.jsonl:2: cell: missing field 'key'"));
}

TEST(Import, ABadFileWritesNothing) {
  ScratchDir dir;
  const auto path = (dir / "r.sqlite").string();
  {
    store::ResultsDb db(path);
    import_text(db, kExperiment + "\n" + cell("k1", 91.5));
  }
  const auto bad = dir / "bad.jsonl";
  std::ofstream(bad) << kExperiment << "\n" << cell("k2", 90.0) << "\n" << cell("k3", 250.0) << "\n";
  expect_clean_failure(run_qx("import bad.jsonl --db r.sqlite", dir),
                       "bad.jsonl:3: cell: field 'top1' is 250, outside [0, 100]");
  // A database that does not exist is not created by a bad file.
  expect_clean_failure(run_qx("import bad.jsonl --db new.sqlite", dir), "bad.jsonl:3");
  EXPECT_FALSE(std::filesystem::exists(dir / "new.sqlite"));
  store::ResultsDb db(path);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM cells"), 1);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM experiments"), 1);
}

}  // namespace
}  // namespace qx::test
