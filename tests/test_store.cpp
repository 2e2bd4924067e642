// The results database: schema, runs, epochs, refusal of a newer schema, and merging cells.
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "qx/core/error.h"
#include "qx/store/results_db.h"
#include "qx/store/results_merge.h"
#include "support.h"

namespace qx::test {
namespace {

std::int64_t count(store::Database& db, const std::string& sql) {
  store::Statement query(db, sql);
  EXPECT_TRUE(query.step());
  return query.column_int(0);
}

TEST(ResultsDb, RecordsARunAndItsEpochs) {
  ScratchDir dir;
  store::ResultsDb results((dir / "sub" / "r.sqlite").string());
  store::RunRecord run;
  run.uid = "u1";
  run.name = "t";
  const auto id = results.open_run(run);
  store::EpochRecord epoch;
  epoch.epoch = 1;
  epoch.test_top1 = 42.5;
  results.record_epoch(id, epoch);
  results.record_epoch(id, epoch);  // a resumed run may write an epoch again: replaced, not doubled
  results.finish_run(id, "finished");
  auto& db = results.database();
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM train_epochs"), 1);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM runs WHERE status = 'finished' AND finished_at IS NOT NULL"), 1);
  EXPECT_EQ(count(db, "SELECT version FROM schema_version"), store::kSchemaVersion);
  // Re-opening the same uid continues the run.
  EXPECT_EQ(results.open_run(run), id);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM runs WHERE status = 'running'"), 1);
}

TEST(ResultsDb, FailedRunKeepsItsError) {
  ScratchDir dir;
  store::ResultsDb results((dir / "r.sqlite").string());
  store::RunRecord run;
  run.uid = "u2";
  run.name = "t";
  const auto id = results.open_run(run);
  results.finish_run(id, "failed", "training diverged");
  store::Statement query(results.database(), "SELECT status, error FROM runs");
  ASSERT_TRUE(query.step());
  EXPECT_EQ(query.column_text(0), "failed");
  EXPECT_EQ(query.column_text(1), "training diverged");
}

TEST(ResultsDb, RefusesANewerSchema) {
  ScratchDir dir;
  const auto path = (dir / "r.sqlite").string();
  { store::ResultsDb results(path); }
  {
    store::Database db(path);
    db.execute("UPDATE schema_version SET version = 999");
  }
  EXPECT_THROW(store::ResultsDb results(path), Error);
}

TEST(ResultsDb, RollsBackAnUncommittedTransaction) {
  ScratchDir dir;
  store::ResultsDb results((dir / "r.sqlite").string());
  auto& db = results.database();
  {
    store::Transaction transaction(db);
    db.execute("INSERT INTO runs (uid, kind, name, status) VALUES ('x', 'train', 'n', 'running')");
  }
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM runs"), 0);
}

// A database with one experiment: a finished cell with a pass record, and a failed cell.
void write_cells(const std::string& path, const std::string& experiment, const std::vector<std::string>& keys) {
  store::ResultsDb results(path);
  store::ExperimentRecord record;
  record.name = experiment;
  record.config_path = experiment + ".toml";
  record.checkpoint = "model.pt";
  record.model = "resnet20";
  record.device = "cuda";
  const auto id = results.open_experiment(record);
  for (const auto& key : keys) {
    store::CellResult cell;
    cell.key = key;
    cell.top1 = 50;
    cell.passes.push_back({"lsq", "1.0.0", "{}", 2.5, "{}"});
    results.record_cell(id, cell);
  }
  store::CellResult failed;
  failed.key = experiment + "-failed";
  failed.error = "diverged";
  results.record_cell(id, failed);
  results.finish_experiment(id, "failed", "diverged");
}

TEST(MergeResults, AddsFinishedCellsOnceWithTheirExperimentAndPasses) {
  ScratchDir dir;
  const auto into_path = (dir / "into.sqlite").string(), from_path = (dir / "from.sqlite").string();
  write_cells(into_path, "grid", {"a", "b"});
  write_cells(from_path, "qat", {"b", "c", "d"});  // "b" is already there
  store::ResultsDb into(into_path);
  const auto first = store::merge_results(into, from_path);
  EXPECT_EQ(first.cells, 2);
  EXPECT_EQ(first.experiments, 1);
  EXPECT_EQ(first.skipped, 1);
  auto& db = into.database();
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM results WHERE experiment = 'qat'"), 2);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM cells WHERE key = 'qat-failed'"), 0);
  // Each added cell keeps its own pass record, under its new id.
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM cell_passes p JOIN cells c ON c.id = p.cell_id "
                      "JOIN experiments e ON e.id = c.experiment_id WHERE e.name = 'qat' AND e.device = 'cuda'"), 2);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM cell_passes"), 4);
  const auto second = store::merge_results(into, from_path);
  EXPECT_EQ(second.cells, 0);
  EXPECT_EQ(second.skipped, 3);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM cells"), 5);
}

TEST(MergeResults, RefusesAMissingFileOrAnotherSchemaAndChangesNothing) {
  ScratchDir dir;
  const auto into_path = (dir / "into.sqlite").string(), from_path = (dir / "from.sqlite").string();
  write_cells(into_path, "grid", {"a"});
  store::ResultsDb into(into_path);
  EXPECT_THAT([&] { store::merge_results(into, (dir / "missing.sqlite").string()); },
              testing::ThrowsMessage<Error>(testing::HasSubstr("no results database")));
  EXPECT_FALSE(std::filesystem::exists(dir / "missing.sqlite"));
  write_cells(from_path, "qat", {"c"});
  {
    store::Database from(from_path);
    from.execute("UPDATE schema_version SET version = 4");
  }
  EXPECT_THAT([&] { store::merge_results(into, from_path); },
              testing::ThrowsMessage<Error>(testing::HasSubstr("schema version 4")));
  { store::Database other((dir / "other.sqlite").string()); other.execute("CREATE TABLE t (x)"); }
  EXPECT_THAT([&] { store::merge_results(into, (dir / "other.sqlite").string()); },
              testing::ThrowsMessage<Error>(testing::HasSubstr("not a qx results database")));
  EXPECT_EQ(count(into.database(), "SELECT COUNT(*) FROM cells"), 2);
  // The failed attempts left nothing attached: a good merge still works.
  {
    store::Database from(from_path);
    from.execute("UPDATE schema_version SET version = " + std::to_string(store::kSchemaVersion));
  }
  EXPECT_EQ(store::merge_results(into, from_path).cells, 1);
}

}  // namespace
}  // namespace qx::test
