// The results database: schema, runs, epochs, and refusal of a newer schema.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "qx/core/error.h"
#include "qx/store/results_db.h"
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

}  // namespace
}  // namespace qx::test
