// Spreading a grid over processes: shards for job arrays, the wire format of a cell's result,
// and `mpirun -np 3 qx run` against a single process on the same grid.
#include <sys/wait.h>

#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli_support.h"
#include "ptq_test.h"
#include "qx/core/error.h"
#include "qx/run/cell_wire.h"
#include "qx/run/mpi_farm.h"
#include "qx/run/ptq_runner.h"
#include "qx/store/results_db.h"

namespace qx::test {
namespace {

using ::testing::HasSubstr;

// key -> top-1 of every finished cell.
std::map<std::string, double> finished_cells(const std::filesystem::path& db_path) {
  store::Database db(db_path.string());
  store::Statement query(db, "SELECT key, top1 FROM cells WHERE status = 'finished'");
  std::map<std::string, double> cells;
  while (query.step()) cells.emplace(query.column_text(0), query.column_double(1));
  return cells;
}

std::int64_t scalar(const std::filesystem::path& db_path, const std::string& sql) {
  store::Database db(db_path.string());
  store::Statement query(db, sql);
  query.step();
  return query.column_int(0);
}

TEST(Shard, ParsesKOfN) {
  const auto shard = run::parse_shard("2/3");
  EXPECT_EQ(shard.index, 2);
  EXPECT_EQ(shard.count, 3);
  EXPECT_TRUE(shard.owns(1));
  EXPECT_TRUE(shard.owns(4));
  EXPECT_FALSE(shard.owns(0));
  for (const char* bad : {"0/3", "4/3", "3", "a/b", "1/0", "1/3x", "/3"}) {
    EXPECT_THAT([&] { run::parse_shard(bad); }, ::testing::ThrowsMessage<Error>(HasSubstr("--shard")));
  }
}

TEST(CellWire, RoundTripsEverythingTheDatabaseStores) {
  store::CellResult result;
  result.key = "{\"k\":1}";
  result.top1 = 91.25, result.top5 = 99.5, result.loss = 0.3125, result.images = 200;
  result.calib_seconds = 1.5, result.quantize_seconds = 0.25, result.eval_seconds = 2.0;
  result.passes.push_back({"cle", "1.0.0", "{\"iterations\":3}", 4.5, "{\"moved\":2}"});
  store::TensorRow tensor;
  tensor.name = "layer1.0.conv1";
  tensor.role = "activation";
  tensor.bits = 4;
  tensor.range_min = {-1.5};
  tensor.range_max = {2.5};
  tensor.scale = {0.1, 0.2};
  tensor.zero_point = {3, 4};
  tensor.qmin = 0, tensor.qmax = 15, tensor.axis = 0;
  tensor.sqnr_db = 17.5;
  result.tensors.push_back(tensor);
  const auto decoded = run::decode_cell_result(run::encode_cell_result(7, result));
  EXPECT_EQ(decoded.index, 7u);
  const auto& r = decoded.result;
  EXPECT_EQ(r.key, result.key);
  EXPECT_EQ(r.top1, 91.25);
  EXPECT_EQ(r.images, 200);
  EXPECT_EQ(r.eval_seconds, 2.0);
  ASSERT_EQ(r.passes.size(), 1u);
  EXPECT_EQ(r.passes[0].report, "{\"moved\":2}");
  ASSERT_EQ(r.tensors.size(), 1u);
  EXPECT_EQ(r.tensors[0].role, "activation");
  EXPECT_EQ(r.tensors[0].zero_point, tensor.zero_point);
  EXPECT_EQ(r.tensors[0].scale, tensor.scale);
  EXPECT_EQ(r.tensors[0].range_max, tensor.range_max);
  EXPECT_EQ(r.tensors[0].qmax, 15);
  EXPECT_EQ(r.tensors[0].sqnr_db, 17.5);
  EXPECT_THAT([] { run::decode_cell_result({'n', 'o', 'p', 'e'}); },
              ::testing::ThrowsMessage<Error>(HasSubstr("not a readable cell result")));
}

class ScalingTest : public PtqTest {
 protected:
  // Eight cells plus the fp32 one; cells with passes run long enough to be interrupted.
  void write_grid(const std::string& extra = "") { write(std::string(kSmallGrid) + extra); }
};

TEST_F(ScalingTest, ShardsCoverEveryCellExactlyOnce) {
  write_grid();
  ASSERT_EQ(run_qx("run e.toml --db whole.sqlite", scratch_).exit_code, 0);
  std::map<std::string, double> joined;
  std::size_t rows = 0;
  for (int k = 1; k <= 3; ++k) {
    const auto db = "shard" + std::to_string(k) + ".sqlite";
    const auto outcome = run_qx("run e.toml --shard " + std::to_string(k) + "/3 --db " + db, scratch_);
    ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
    const auto cells = finished_cells(scratch_ / db);
    rows += cells.size();
    joined.insert(cells.begin(), cells.end());
  }
  EXPECT_EQ(rows, joined.size());  // no cell in two shards
  EXPECT_EQ(joined, finished_cells(scratch_ / "whole.sqlite"));  // and none lost, same top-1
  expect_clean_failure(run_qx("run e.toml --shard 4/3", scratch_), "--shard '4/3': K must be between 1 and N");
}

TEST_F(ScalingTest, TwoProcessesOnOneDatabaseShareTheGrid) {
  write_grid();
  const auto qx = std::string("'") + QX_BINARY + "' run e.toml --db shared.sqlite";
  const auto command = "cd '" + scratch_.path().string() + "' && (" + qx + " >a.log 2>&1; echo $? >a.rc) & (cd '" +
                       scratch_.path().string() + "' && " + qx + " >b.log 2>&1; echo $? >b.rc); wait";
  ASSERT_EQ(std::system(("bash -c \"" + command + "\"").c_str()), 0);
  const auto read = [&](const std::string& name) {
    std::ifstream in(scratch_ / name);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  EXPECT_EQ(read("a.rc"), "0\n") << read("a.log");
  EXPECT_EQ(read("b.rc"), "0\n") << read("b.log");
  for (const auto* log : {"a.log", "b.log"}) EXPECT_THAT(read(log), ::testing::Not(HasSubstr("locked")));
  const auto db = scratch_ / "shared.sqlite";
  EXPECT_EQ(finished_cells(db).size(), 9u);  // none lost
  // Each process counts the cells it computed: together exactly the grid, so none twice.
  EXPECT_EQ(scalar(db, "SELECT SUM(cells_written) FROM experiments"), 9);
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM cell_claims"), 0);
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM experiments WHERE machine LIKE '%cores%'"), 2);
}

TEST_F(ScalingTest, AClaimOfADeadProcessIsTakenOver) {
  write_grid();
  {
    store::ResultsDb results((scratch_ / "results.sqlite").string());
    // A pid that cannot exist on this host (above the kernel's pid_max), and a live one elsewhere.
    EXPECT_TRUE(results.claim_cell("k1", store::ResultsDb::claim_owner().substr(0, store::ResultsDb::claim_owner().rfind(':')) + ":999999999"));
    EXPECT_TRUE(results.claim_cell("k1", store::ResultsDb::claim_owner()));
    EXPECT_TRUE(results.claim_cell("k2", "another-host:1"));
    EXPECT_FALSE(results.claim_cell("k2", store::ResultsDb::claim_owner()));
    EXPECT_EQ(results.claim_holder("k2"), "another-host:1");
    results.release_claims(store::ResultsDb::claim_owner());
    EXPECT_EQ(results.claim_holder("k1"), "");
  }
}

// A `qx run` killed by a signal leaves its experiment row `running`; the next run on the database
// marks it failed when its process is gone, and leaves alone what it cannot check.
TEST_F(ScalingTest, ARunningExperimentOfADeadProcessIsMarkedFailed) {
  store::ResultsDb results((scratch_ / "results.sqlite").string());
  store::ExperimentRecord record;
  record.name = "e";
  const auto dead = results.open_experiment(record), elsewhere = results.open_experiment(record);
  const auto host = store::ResultsDb::claim_owner().substr(0, store::ResultsDb::claim_owner().rfind(':'));
  results.database().execute(fmt::format("UPDATE experiments SET owner = '{}:999999999' WHERE id = {}", host, dead));
  results.database().execute(fmt::format("UPDATE experiments SET owner = 'another-host:1' WHERE id = {}", elsewhere));
  const auto live = results.open_experiment(record);
  const auto status = [&](std::int64_t id) {
    store::Statement query(results.database(), "SELECT status || ': ' || COALESCE(error, '') FROM experiments WHERE id = ?");
    query.bind(1, id).step();
    return query.column_text(0);
  };
  EXPECT_EQ(status(dead), fmt::format("failed: interrupted: its process ({}:999999999) ended without finishing it", host));
  EXPECT_EQ(status(elsewhere), "running: ");
  EXPECT_EQ(status(live), "running: ");
}

// mpirun as root needs the two variables; set in the test, never in the user's command.
std::string mpirun(int ranks) {
  return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 "
         "mpirun --oversubscribe -np " + std::to_string(ranks) + " '" + QX_BINARY + "' ";
}

class MpiTest : public ScalingTest {
 protected:
  void SetUp() override {
    ScalingTest::SetUp();
    if (!run::mpi_available()) GTEST_SKIP() << "this qx was built without MPI";
    if (std::system("command -v mpirun >/dev/null 2>&1") != 0) GTEST_SKIP() << "mpirun not installed";
  }
  int shell(const std::string& command) const {
    return std::system(("cd '" + scratch_.path().string() + "' && " + command).c_str());
  }
};

TEST_F(MpiTest, ThreeRanksComputeWhatOneProcessDoes) {
  write_grid();
  ASSERT_EQ(run_qx("run e.toml --db single.sqlite", scratch_).exit_code, 0);
  ASSERT_EQ(shell(mpirun(3) + "run e.toml --db mpi.sqlite >mpi.log 2>&1"), 0);
  const auto single = finished_cells(scratch_ / "single.sqlite");
  EXPECT_EQ(single.size(), 9u);
  EXPECT_EQ(finished_cells(scratch_ / "mpi.sqlite"), single);  // every key, top-1 identical at 1 thread
  const auto tensors = "SELECT COUNT(*) FROM cell_tensors";
  EXPECT_EQ(scalar(scratch_ / "mpi.sqlite", tensors), scalar(scratch_ / "single.sqlite", tensors));
  // A second run finds every cell finished, computes none and writes nothing to the file.
  const auto read = [&](const char* name) {
    std::ifstream in(scratch_ / name, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  const auto database = read("mpi.sqlite");
  ASSERT_EQ(shell(mpirun(3) + "run e.toml --db mpi.sqlite >again.log 2>&1"), 0);
  EXPECT_THAT(read("again.log"), HasSubstr("0 to compute, 9 finished earlier"));
  EXPECT_EQ(read("mpi.sqlite"), database);
}

TEST_F(MpiTest, AKilledWorkerLeavesWholeCellsAndARerunCompletes) {
  // Cells with a reconstruction pass take long enough to be killed in the middle of one.
  write(std::string(kSmallGrid) + "[passes.adaround]\niterations = 300\n" +
        "[[cells]]\nname = \"slow1\"\nobserver = \"minmax\"\nquantizer = \"per_channel\"\nbits = 4\npasses = [\"adaround\"]\n"
        "[[cells]]\nname = \"slow2\"\nobserver = \"minmax\"\nquantizer = \"per_channel\"\nbits = 2\npasses = [\"adaround\"]\n");
  const std::string db = "killed.sqlite";
  // Cells are dealt longest first: slow1 to rank 1, slow2 to rank 2, then the fast ones, most to
  // rank 0's compute thread. Five seconds after the worker ranks have started (found by the rank
  // Open MPI puts in each rank's environment), SIGKILL both: the slow cells alone outlast that by
  // far, so at least one is killed inside its cell. The scan reads /proc itself: pgrep (procps)
  // is not on a minimal Debian. (Waiting for two finished cells through the sqlite3 shell, then
  // killing rank 1 alone, was flaky on a loaded machine.)
  const std::string workers =
      "$(for dir in /proc/[0-9]*; do "
      "  if tr '\\0' '\\n' < $dir/cmdline 2>/dev/null | grep -qx " + db + " && "
      "     tr '\\0' '\\n' < $dir/environ 2>/dev/null | grep -qxE 'OMPI_COMM_WORLD_RANK=(1|2)'; then echo ${dir#/proc/}; fi; "
      "done)";
  const std::string kill_workers =
      "for i in $(seq 600); do [ -n \"" + workers + "\" ] && break; sleep 0.1; done; sleep 5; "
      "kill -9 " + workers + " 2>/dev/null";
  const int status = shell(mpirun(3) + "run e.toml --db " + db + " >killed.log 2>&1 & job=$!; " + kill_workers +
                           "; wait $job");
  EXPECT_NE(status, 0);  // a dead rank ends the job, as MPI does
  const auto path = scratch_ / db;
  store::Database check(path.string());
  store::Statement integrity(check, "PRAGMA integrity_check");
  ASSERT_TRUE(integrity.step());
  EXPECT_EQ(integrity.column_text(0), "ok");
  const auto before = finished_cells(path);
  EXPECT_LT(before.size(), 11u);  // the kill ended the job early
  // Every finished quantized cell is whole: its tensors came with it, in the same transaction.
  EXPECT_EQ(scalar(path, "SELECT COUNT(*) FROM cells c WHERE status = 'finished' AND quantize = 1 AND "
                         "NOT EXISTS (SELECT 1 FROM cell_tensors t WHERE t.cell_id = c.id)"), 0);
  ASSERT_EQ(shell(mpirun(3) + "run e.toml --db " + db + " >rerun.log 2>&1"), 0);
  const auto after = finished_cells(path);
  EXPECT_EQ(after.size(), 11u);
  for (const auto& [key, top1] : before) EXPECT_EQ(after.at(key), top1);
}

TEST_F(MpiTest, ShardAndMpirunDoNotMix) {
  write_grid();
  ASSERT_NE(shell(mpirun(2) + "run e.toml --shard 1/2 >mix.log 2>&1"), 0);
  std::ifstream log(scratch_ / "mix.log");
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("--shard splits a grid without MPI"));
}

}  // namespace
}  // namespace qx::test
