// The results database: schema, runs, epochs, refusal of a newer schema, and merging cells.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include <fmt/format.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "qx/core/error.h"
#include "qx/store/results_db.h"
#include "qx/store/results_merge.h"
#include "qx/store/results_read.h"
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
  spec::EpochRecord epoch;
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

std::string text(store::Database& db, const std::string& sql) {
  store::Statement query(db, sql);
  return query.step() ? query.column_text(0) : std::string("(no row)");
}

// One cell with every kind of setting: plugin options, a per-layer override (a dotted layer
// name), passes with options, a residual width and a seed.
store::CellResult cell_with_every_setting(const std::string& key) {
  store::CellResult result;
  result.key = key;
  result.top1 = 61.5;
  auto& c = result.cell;
  c.observer.name = "percentile";
  c.observer.options.set("percentile", 99.99);
  c.weight_observer.name = "minmax";
  c.quantizer.name = "per_channel";
  c.weight_bits = 4;
  c.activation_bits = 2;
  c.residual_bits = 8;
  c.overrides["layer1.0.conv1"] = {8, 0};
  c.passes.push_back({"cle", {}});
  c.passes.push_back({"adaround", {}});
  c.passes.back().options.set("iterations", std::int64_t{500});
  c.passes.back().options.set("warm_up", true);
  c.seed = 3;
  return result;
}

TEST(ResultsDb, KeepsEachCellSettingAsARowForEveryWriterAndAfterMigration) {
  ScratchDir dir;
  const auto path = (dir / "r.sqlite").string();
  const char* expected =
      "a_bits=2 fold_batch_norm=1 observer=percentile observer.percentile=99.99 "
      "override.layer1.0.conv1.a_bits=0 override.layer1.0.conv1.w_bits=8 pass.adaround.iterations=500 "
      "pass.adaround.warm_up=1 passes=cle+adaround quantize=1 quantizer=per_channel residual_bits=8 seed=3 w_bits=4 "
      "weight_observer=minmax";
  const std::string settings_of_a =
      "SELECT group_concat(key || '=' || value, ' ') FROM "
      "(SELECT s.key, s.value FROM cell_settings s JOIN cells c ON c.id = s.cell_id WHERE c.key = 'a' ORDER BY s.key)";
  {
    store::ResultsDb results(path);
    store::ExperimentRecord record;
    record.name = "grid";
    record.config_path = "grid.toml";
    record.checkpoint = "model.pt";
    record.model = "resnet20";
    record.device = "cpu";
    const auto id = results.open_experiment(record);
    results.record_cell(id, cell_with_every_setting("a"));
    auto& db = results.database();
    EXPECT_EQ(text(db, settings_of_a), expected);
    // Integers stay integers, so a query compares them as numbers; the view joins the results.
    EXPECT_EQ(count(db, "SELECT COUNT(*) FROM result_settings WHERE key = 'w_bits' AND value = 4 AND top1 = 61.5"), 1);
    // A failed cell written again replaces its rows with the new cell's.
    store::CellResult failed = cell_with_every_setting("b");
    failed.error = "diverged";
    results.record_cell(id, failed);
    failed.error.clear();
    failed.cell.weight_bits = 8;
    results.record_cell(id, failed);
    EXPECT_EQ(text(db, "SELECT s.value FROM cell_settings s JOIN cells c ON c.id = s.cell_id "
                       "WHERE c.key = 'b' AND s.key = 'w_bits'"), "8");
    EXPECT_EQ(count(db, "SELECT COUNT(*) FROM cell_settings WHERE cell_id NOT IN (SELECT id FROM cells)"), 0);
  }
  {
    // A version-7 file: its cells get their rows when this qx opens it.
    store::Database db(path);
    db.execute("DROP TRIGGER cell_settings_on_insert; DROP VIEW result_settings; DROP TABLE cell_settings; "
               "ALTER TABLE experiments DROP COLUMN owner; UPDATE schema_version SET version = 7");
  }
  store::ResultsDb reopened(path);
  EXPECT_EQ(text(reopened.database(), settings_of_a), expected);
}

// The read API returns what the write side stored: a cell of the asked checkpoint with its
// settings, its tensors number for number (a non-finite SQNR as NaN), its pass's options and curve.
TEST(ResultsRead, ReadsBackTheCellsOfOneCheckpointAsTheyWereWritten) {
  ScratchDir dir;
  store::ResultsDb results((dir / "r.sqlite").string());
  store::ExperimentRecord record;
  record.name = "grid";
  record.config_path = "grid.toml";
  record.device = "cpu";
  record.threads = 2;
  const auto id = results.open_experiment(record);
  const auto key_of = [](const char* run, int epoch) {
    return fmt::format(R"({{"context":{{"run":{{"checkpoint":{{"epoch":{},"run":"{}"}},"test_images":10000}}}}}})", epoch,
                       run);
  };
  auto cell = cell_with_every_setting(key_of("u1", 3));
  cell.top5 = 90.25;
  cell.passes.push_back({"lsq", "1.0.0", R"({"options":{"distill":1.0,"weight_optimizer":"adam","warm":true}})", 4.5,
                         R"({"curve":[{"epoch":1,"loss":0.75},{"epoch":2,"loss":0.5}]})"});
  store::TensorRow weight;
  weight.name = "layer1.0.conv1";
  weight.role = "weight";
  weight.bits = 4;
  weight.axis = 0;
  weight.qmin = -8;
  weight.qmax = 7;
  weight.scale = {0.125, 0.0625};
  weight.zero_point = {0, 1};
  weight.range_min = {-1.0, -0.5};
  weight.range_max = {0.875, 0.4375};
  weight.sqnr_db = 21.5;
  store::TensorRow activation = weight;
  activation.name = "layer1.0.mid_q";
  activation.role = "activation";
  activation.axis = -1;
  activation.scale = {0.25};
  activation.zero_point = {3};
  activation.range_min = {0};
  activation.range_max = {3.75};
  activation.sqnr_db = std::numeric_limits<double>::infinity();
  cell.tensors = {weight, activation};
  results.record_cell(id, cell);
  auto other = cell_with_every_setting(key_of("u2", 1));
  results.record_cell(id, other);
  results.finish_experiment(id, "finished");

  auto& db = results.database();
  EXPECT_EQ(store::newest_checkpoint(db).run_uid, "u2");
  const auto read = store::read_cells(db, {"u1", 3});
  EXPECT_EQ(read.test_images, 10000);
  ASSERT_EQ(read.cells.size(), 1u);
  const auto& row = read.cells[0];
  EXPECT_EQ(row.experiment, "grid");
  EXPECT_EQ(row.observer, "percentile");
  EXPECT_EQ(row.w_bits, 4);
  EXPECT_EQ(row.a_bits, 2);
  EXPECT_EQ(row.seed, 3);
  EXPECT_EQ(row.threads, 2);
  EXPECT_DOUBLE_EQ(row.top5, 90.25);
  EXPECT_DOUBLE_EQ(row.pass_seconds, 4.5);
  EXPECT_EQ(row.settings.at("override.layer1.0.conv1.w_bits"), "8");
  EXPECT_EQ(row.settings.at("residual_bits"), "8");

  const auto tensors = store::read_tensors(db, row.id);
  ASSERT_EQ(tensors.size(), 2u);
  EXPECT_EQ(tensors[0].name, weight.name);
  EXPECT_EQ(tensors[0].axis, 0);
  EXPECT_EQ(tensors[0].qmin, -8);
  EXPECT_EQ(tensors[0].scale, weight.scale);
  EXPECT_EQ(tensors[0].zero_point, weight.zero_point);
  EXPECT_EQ(tensors[0].range_min, weight.range_min);
  EXPECT_EQ(tensors[0].range_max, weight.range_max);
  EXPECT_DOUBLE_EQ(tensors[0].sqnr_db, 21.5);
  EXPECT_EQ(tensors[1].role, "activation");
  EXPECT_EQ(tensors[1].range_max, activation.range_max);
  EXPECT_TRUE(std::isnan(tensors[1].sqnr_db));  // stored as NULL

  const auto passes = store::read_passes(db);
  const auto lsq = std::find_if(passes.begin(), passes.end(),
                                [&](const store::StoredPass& p) { return p.cell_id == row.id && p.name == "lsq"; });
  ASSERT_NE(lsq, passes.end());
  using Option = std::pair<std::string, std::string>;
  EXPECT_EQ(lsq->options,
            (std::vector<Option>{{"distill", "1.0"}, {"weight_optimizer", "adam"}, {"warm", "true"}}));
  EXPECT_EQ(lsq->curve, (std::vector<std::pair<double, double>>{{1, 0.75}, {2, 0.5}}));
  EXPECT_TRUE(store::read_unfinished_experiments(db).empty());
  EXPECT_THROW(store::read_cells(db, {"u1", 4}), Error);
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
  // The settings rows come with the cells (the insert trigger), one set per cell.
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM cells WHERE id NOT IN "
                      "(SELECT cell_id FROM cell_settings WHERE key = 'quantize')"), 0);
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
