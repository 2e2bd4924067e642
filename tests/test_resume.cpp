// A training pass's progress between runs of its cell (passes/progress.h): a QAT cell killed after
// an epoch goes on from its last whole epoch and ends exactly as an uninterrupted run does, and a
// progress file that is not one is refused in one line.
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli_support.h"
#include "ptq_test.h"
#include "qx/spec/cell.h"
#include "qx/store/sqlite.h"

namespace qx::test {
namespace {

using ::testing::HasSubstr;

// Four short epochs of LSQ with Adam and distillation: every kind of state the progress keeps.
const char* const kQatCell =
    "[[cells]]\nname = \"qat\"\nobserver = \"minmax\"\nquantizer = \"per_channel\"\nbits = 4\npasses = [\"lsq\"]\n"
    "[passes.lsq]\nepochs = 3\naverage_epochs = 1\nimages_per_epoch = 256\nbatch_size = 32\ncurve_every = 3\n"
    "weight_optimizer = \"adam\"\ndistill = 0.5\n";

// The finished cell's figures and every tensor's parameters, as text.
std::string outcome(const std::filesystem::path& db) {
  store::Database database(db.string());
  store::Statement cell(database,
                        "SELECT printf('%.17g %.17g', top1, loss), (SELECT report FROM cell_passes WHERE name = 'lsq'), "
                        "(SELECT group_concat(name || scale || zero_point || range_min || range_max, '|') "
                        " FROM cell_tensors) FROM cells WHERE status = 'finished'");
  if (!cell.step()) return "no finished cell";
  return cell.column_text(0) + "\n" + cell.column_text(1) + "\n" + cell.column_text(2);
}

class ResumeTest : public PtqTest {};

TEST_F(ResumeTest, AKilledQatCellGoesOnFromItsLastEpochAndEndsAsAnUninterruptedOne) {
  write(kQatCell);
  const auto whole = run_qx("run e.toml --db whole.sqlite", scratch_);
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "resume") && !std::filesystem::is_empty(scratch_ / "resume"))
      << "a finished cell leaves no progress behind";

  // Killed as soon as the first epoch's progress is on disk (polled, not timed).
  // (run_qx's command starts in the scratch folder; the loop after `&` runs where the test does.)
  const auto resume = (scratch_ / "resume").string();
  run_qx("run e.toml & pid=$!; for i in $(seq 2000); do ls '" + resume + "'/*-lsq.pt >/dev/null 2>&1 && break; "
         "sleep 0.01; done; kill -9 $pid; wait $pid",
         scratch_);
  ASSERT_FALSE(std::filesystem::is_empty(scratch_ / "resume")) << "the kill came after the cell had finished";
  const auto resumed = run_qx("run e.toml", scratch_);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_THAT(resumed.err + resumed.out, HasSubstr("pass 'lsq': resuming after epoch"));
  EXPECT_EQ(outcome(scratch_ / "results.sqlite"), outcome(scratch_ / "whole.sqlite"));
  EXPECT_TRUE(std::filesystem::is_empty(scratch_ / "resume"));
}

TEST_F(ResumeTest, AProgressFileThatIsNotOneIsRefusedInOneLine) {
  write(kQatCell);
  ASSERT_EQ(run_qx("run e.toml --db whole.sqlite", scratch_).exit_code, 0);
  store::Database database((scratch_ / "whole.sqlite").string());
  store::Statement key(database, "SELECT key FROM cells");
  ASSERT_TRUE(key.step());
  const auto file = scratch_ / "resume" / (spec::key_digest(key.column_text(0)) + "-lsq.pt");
  std::filesystem::create_directories(file.parent_path());
  std::ofstream(file) << "not a progress file";
  const auto rerun = run_qx("run e.toml", scratch_);
  // The cell fails with the reason and the file named; the file stays for the user to look at.
  EXPECT_NE(rerun.exit_code, 0);
  EXPECT_THAT(rerun.err + rerun.out, HasSubstr("pass 'lsq': cannot read its progress file"));
  EXPECT_THAT(rerun.err + rerun.out, HasSubstr(file.filename().string()));
  EXPECT_TRUE(std::filesystem::exists(file));
}

}  // namespace
}  // namespace qx::test
