// PTQ experiments end to end: experiment files, grid expansion, `qx run` and its database.
// The data is synthetic but full size (the loader accepts nothing else); evaluation is cut to a
// few hundred images so that each cell takes well under a second.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli_support.h"
#include "qx/config/ptq_config.h"
#include "qx/core/error.h"
#include "qx/deploy/packed_model.h"
#include "qx/run/ptq_runner.h"
#include "qx/sim/quant_sim.h"
#include "ptq_test.h"

namespace qx::test {
namespace {

using ::testing::HasSubstr;

TEST_F(PtqTest, GridExpandsFixedCellsFirstThenTheProduct) {
  write(std::string(kSmallGrid) +
        "[overrides.first_last]\nconv1 = { weight_bits = 8, activation_bits = 8 }\n"
        "[grid.more]\n");  // an unknown table inside [grid] must be rejected
  EXPECT_THAT([&] { config::load_ptq_experiment((scratch_ / "e.toml").string()); },
              ::testing::ThrowsMessage<Error>(HasSubstr("unknown key 'more' in [grid]")));
  write(std::string(kSmallGrid));
  const auto experiment = config::load_ptq_experiment((scratch_ / "e.toml").string());
  ASSERT_EQ(experiment.cells.size(), 1u + 2 * 2 * 2);
  EXPECT_FALSE(experiment.cells[0].quantize);
  EXPECT_EQ(spec::describe(experiment.cells[1]), "minmax/asymmetric W8A8");
  EXPECT_EQ(spec::describe(experiment.cells[8]), "percentile/per_channel W4A4");
  EXPECT_EQ(experiment.cells[8].observer.options.get_double("percentile", 0), 99.9);
}

TEST_F(PtqTest, WeightAndActivationWidthsAreIndependent) {
  write("[grid]\nobservers = [\"minmax\"]\nquantizers = [\"per_channel\"]\nweight_bits = [4, 2]\n"
        "activation_bits = [8, 4]\n");
  const auto experiment = config::load_ptq_experiment((scratch_ / "e.toml").string());
  std::vector<std::string> names;
  for (const auto& cell : experiment.cells) names.push_back(spec::describe(cell));
  EXPECT_THAT(names, ::testing::ElementsAre("minmax/per_channel W4A8", "minmax/per_channel W4A4",
                                            "minmax/per_channel W2A8", "minmax/per_channel W2A4"));
}

TEST_F(PtqTest, PassListsAndSeedsAreGridAxes) {
  write("[grid]\nobservers = [\"minmax\"]\nquantizers = [\"per_channel\"]\nbits = [4]\n"
        "passes = [[], [\"cle\"], [\"cle\", \"adaround\"]]\nseeds = [0, 1]\n[passes.adaround]\niterations = 5\n");
  const auto experiment = config::load_ptq_experiment((scratch_ / "e.toml").string());
  std::vector<std::string> names;
  for (const auto& cell : experiment.cells) names.push_back(spec::describe(cell));
  // A cell without passes does not depend on the seed, so it runs once.
  EXPECT_THAT(names, ::testing::ElementsAre("minmax/per_channel W4A4", "minmax/per_channel W4A4 +cle seed 0",
                                            "minmax/per_channel W4A4 +cle seed 1",
                                            "minmax/per_channel W4A4 +cle+adaround seed 0",
                                            "minmax/per_channel W4A4 +cle+adaround seed 1"));
  EXPECT_EQ(experiment.cells[3].passes[1].options.get_int("iterations", 0), 5);
  // Cells without passes keep the key they had before passes existed.
  EXPECT_THAT(spec::cell_options_json(experiment.cells[0]), ::testing::Not(HasSubstr("passes")));
  EXPECT_THAT(spec::cell_options_json(experiment.cells[2]), HasSubstr("\"passes\":[{\"name\":\"cle\""));
}

TEST_F(PtqTest, FixedCellsOverrideTheirPassesOptions) {
  const std::string cells =
      "[passes.adaround]\niterations = 5\nwarmup = 0.1\n"
      "[[cells]]\nname = \"a\"\nobserver = \"minmax\"\nquantizer = \"per_channel\"\nbits = 4\npasses = [\"adaround\"]\n"
      "[[cells]]\nname = \"b\"\nobserver = \"minmax\"\nquantizer = \"per_channel\"\nbits = 4\npasses = [\"adaround\"]\n"
      "[cells.pass_options.adaround]\niterations = 7\n";
  write(cells);
  const auto experiment = config::load_ptq_experiment((scratch_ / "e.toml").string());
  ASSERT_EQ(experiment.cells.size(), 2u);
  EXPECT_EQ(experiment.cells[0].passes[0].options.get_int("iterations", 0), 5);
  EXPECT_EQ(experiment.cells[1].passes[0].options.get_int("iterations", 0), 7);
  EXPECT_EQ(experiment.cells[1].passes[0].options.get_double("warmup", 0), 0.1);  // the rest from [passes.adaround]
  EXPECT_NE(spec::cell_options_json(experiment.cells[0]), spec::cell_options_json(experiment.cells[1]));
  write(cells + "[cells.pass_options.cle]\nx = 1\n");
  EXPECT_THAT([&] { config::load_ptq_experiment((scratch_ / "e.toml").string()); },
              ::testing::ThrowsMessage<Error>(HasSubstr("pass_options for 'cle', which the cell does not run")));
}

TEST_F(PtqTest, SeveralGridsWithExplicitWidths) {
  write("[[grid]]\nobservers = [\"minmax\"]\nquantizers = [\"per_channel\"]\nwidths = [[4, 4], [2, 8]]\n"
        "[[grid]]\nobservers = [\"mse\"]\nquantizers = [\"per_channel\"]\nbits = [3]\npasses = [[\"cle\"]]\n");
  const auto experiment = config::load_ptq_experiment((scratch_ / "e.toml").string());
  std::vector<std::string> names;
  for (const auto& cell : experiment.cells) names.push_back(spec::describe(cell));
  EXPECT_THAT(names, ::testing::ElementsAre("minmax/per_channel W4A4", "minmax/per_channel W2A8",
                                            "mse/per_channel W3A3 +cle seed 0"));
  write("[grid]\nobservers = [\"minmax\"]\nquantizers = [\"per_channel\"]\nwidths = [[4, 4, 4]]\n");
  EXPECT_THAT([&] { config::load_ptq_experiment((scratch_ / "e.toml").string()); },
              ::testing::ThrowsMessage<Error>(HasSubstr("each of 'widths' is [weight_bits, activation_bits]")));
  write("[grid]\nobservers = [\"minmax\"]\nquantizers = [\"per_channel\"]\nwidths = [[4, 1]]\n");
  EXPECT_THAT([&] { config::load_ptq_experiment((scratch_ / "e.toml").string()); },
              ::testing::ThrowsMessage<Error>(HasSubstr("'grid.widths' = 1 is out of range [2, 16]")));
}

TEST_F(PtqTest, ResidualStreamWidthIsAGridAxisAndACellSetting) {
  write("[grid]\nobservers = [\"minmax\"]\nquantizers = [\"per_channel\"]\nbits = [4]\nresidual_bits = [0, 8]\n"
        "[[cells]]\nname = \"a\"\nobserver = \"minmax\"\nquantizer = \"per_channel\"\nbits = 2\nresidual_bits = 4\n");
  const auto experiment = config::load_ptq_experiment((scratch_ / "e.toml").string());
  std::vector<std::string> names;
  for (const auto& cell : experiment.cells) names.push_back(spec::describe(cell));
  EXPECT_THAT(names, ::testing::ElementsAre("a: minmax/per_channel W2A2 residual stream 4-bit", "minmax/per_channel W4A4",
                                            "minmax/per_channel W4A4 residual stream 8-bit"));
  // Off, the setting leaves the key as it was before it existed; on, it makes a different cell.
  EXPECT_THAT(spec::cell_options_json(experiment.cells[1]), ::testing::Not(HasSubstr("residual")));
  EXPECT_THAT(spec::cell_options_json(experiment.cells[2]), HasSubstr("\"residual_bits\":8"));
  write("[grid]\nobservers = [\"minmax\"]\nquantizers = [\"per_channel\"]\nbits = [8]\nresidual_bits = [4]\n");
  expect_clean_failure(run_qx("run e.toml", scratch_),
                       "e.toml:19:17: residual_bits 4 is narrower than the activations' 8 bits");
  write("[grid]\nobservers = [\"minmax\"]\nquantizers = [\"per_channel\"]\nbits = [4]\nresidual_bits = [1]\n");
  expect_clean_failure(run_qx("run e.toml", scratch_), "residual_bits must be 0 (off) or 2..16, got 1");
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "results.sqlite"));
}

// The experiment files the README and docs refer to parse, and expand to the cells they promise.
TEST(ShippedExperiments, ParseAndExpand) {
  const std::string dir = std::string(QX_SOURCE_DIR) + "/experiments/";
  const auto grid = config::load_ptq_experiment(dir + "ptq_grid.toml");
  EXPECT_EQ(grid.cells.size(), 3u + 5 * 4 * 4);  // fp32, torch.ao's recipe, float16, the grid
  const auto sensitivity = config::load_ptq_experiment(dir + "sensitivity.toml");
  EXPECT_EQ(sensitivity.cells.size(), 20u * 2 + 2 * 3);  // one layer at a time; unfolded BatchNorm
  EXPECT_EQ(grid.histogram_layers.size(), 4u);
  const auto improvements = config::load_ptq_experiment(dir + "improvements.toml");
  // Built up: 5 widths x 3; affine weight grid: 5 x 2, lp_norm + QDrop 5 + 2 seeds, lp_norm
  // alone 5, lp_norm's share on the symmetric grid 1; seeds: 2 x 2; alone: 5 x (7 pass lists +
  // the first/last rule); the residual stream at 8 bits: 4 widths x 2 + 3 widths x 2 seeds;
  // block inputs at 8 bits: 2.
  EXPECT_EQ(improvements.cells.size(), 15u + 10 + 7 + 5 + 1 + 4 + 40 + 14 + 2);
  const auto qat = config::load_ptq_experiment(dir + "qat.toml");
  // The best recipe at W2A2 and W4A4; the W4A4 ladder of four and the W2A2 ladder of two; two
  // more seeds of the best W4A4 recipe and one of the best W2A2 recipe; that recipe at W3A3, two
  // seeds, and at W3A3 with forty epochs, two seeds.
  EXPECT_EQ(qat.cells.size(), 2u + 4 + 2 + 3 + 2 + 2);
  PluginHost host(QX_PLUGIN_DIR);
  for (const auto* experiment : {&grid, &sensitivity, &improvements, &qat}) {
    for (const auto& cell : experiment->cells) {
      for (const auto& pass : cell.passes) EXPECT_NO_THROW(host.create_pass(pass.name, pass.options));
    }
  }
}

TEST_F(PtqTest, PassesFailAtValidationOrRecordAFailedCell) {
  write("[grid]\nobservers = [\"minmax\"]\nquantizers = [\"per_channel\"]\nbits = [4]\n"
        "passes = [[\"adaroud\"]]\n");
  expect_clean_failure(run_qx("run e.toml", scratch_), "unknown pass plugin 'adaroud'");
  write("[grid]\nobservers = [\"minmax\"]\nquantizers = [\"per_channel\"]\nbits = [4]\n"
        "passes = [[\"adaround\"]]\n[passes.adaround]\niterations = 0\n");
  expect_clean_failure(run_qx("run e.toml", scratch_), "e.toml:21:14: option 'iterations' of pass 'adaround'");
  write("[grid]\nobservers = [\"minmax\"]\nquantizers = [\"per_channel\"]\nbits = [4]\nfold_batch_norm = [false]\n"
        "passes = [[\"cle\"]]\n");
  expect_clean_failure(run_qx("run e.toml", scratch_), "pass 'cle' needs fold_batch_norm = true");
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "results.sqlite"));
  write("[grid]\nobservers = [\"minmax\"]\nquantizers = [\"per_channel\"]\nbits = [4]\n"
        "passes = [[\"cle\", \"bias_correction\"]]\n");
  const auto result = run_qx("run e.toml", scratch_);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(count("SELECT COUNT(*) FROM results WHERE passes = 'cle+bias_correction' AND pass_seconds > 0"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM cell_passes"), 2);
}

TEST_F(PtqTest, BadDeviceOrMergeSourceFailsCleanly) {
  write("[grid]\nobservers = [\"minmax\"]\nquantizers = [\"per_channel\"]\nbits = [8]\n");
  expect_clean_failure(run_qx("run e.toml --device tpu", scratch_), "unknown device 'tpu'");
  expect_clean_failure(run_qx("merge elsewhere.sqlite results.sqlite", scratch_),
                       "merge: no results database 'elsewhere.sqlite'");
  // A GPU's cells merged into the local database: a run on the CPU then skips them.
  ASSERT_EQ(run_qx("run e.toml --db gpu.sqlite", scratch_).exit_code, 0);
  const auto merged = run_qx("merge gpu.sqlite results.sqlite", scratch_);
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  EXPECT_THAT(merged.out, HasSubstr("1 cells of 1 experiments added"));
  const auto rerun = run_qx("run e.toml", scratch_);
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  EXPECT_THAT(rerun.out, HasSubstr("finished earlier, skipped"));
  EXPECT_EQ(count("SELECT COUNT(*) FROM cells"), 1);
}

// A sink that keeps what the runner tells it (run/cell_sink.h), one line per event.
class RecordingSink : public run::CellSink {
 public:
  void begin(const run::RunStart& start) override { events.push_back(fmt::format("begin {}", start.cells)); }
  void computed(const run::PlannedCell& planned, const store::CellResult& result, const std::string&) override {
    events.push_back(fmt::format("computed {} {}", planned.index, result.error.empty() ? "finished" : "failed"));
  }
  void settled(const run::PlannedCell& planned, run::Settled how) override {
    events.push_back(fmt::format("settled {} {}", planned.index, how == run::Settled::kEarlier ? "earlier" : "elsewhere"));
  }
  void end(const run::RunSummary& summary) override {
    events.push_back(fmt::format("end: {} finished, {} failed, {} skipped", summary.finished, summary.failed,
                                 summary.skipped));
  }
  std::vector<std::string> events;
};

// The serial runner schedules and its sinks report: a test's sink sees every cell in file order
// between begin and end, and a rerun settles each one as finished earlier without computing it.
TEST_F(PtqTest, TheRunnerTellsItsSinksEveryCellInOrder) {
  write("[grid]\nobservers = [\"minmax\"]\nquantizers = [\"per_channel\"]\nbits = [8, 4]\n"
        "[[cells]]\nname = \"fp32\"\nquantize = false\n");
  PluginHost host(QX_PLUGIN_DIR);
  const auto experiment = config::load_ptq_experiment((scratch_ / "e.toml").string());
  RecordingSink first;
  const auto summary = run::run_ptq_experiment(experiment, host, {}, {}, {&first});
  EXPECT_EQ(first.events, (std::vector<std::string>{"begin 3", "computed 0 finished", "computed 1 finished",
                                                     "computed 2 finished", "end: 3 finished, 0 failed, 0 skipped"}));
  EXPECT_EQ(summary.finished, 3);
  EXPECT_EQ(count("SELECT COUNT(*) FROM cells WHERE status = 'finished'"), 3);
  RecordingSink second;
  run::run_ptq_experiment(experiment, host, {}, {}, {&second});
  EXPECT_EQ(second.events, (std::vector<std::string>{"begin 3", "settled 0 earlier", "settled 1 earlier",
                                                      "settled 2 earlier", "end: 0 finished, 0 failed, 3 skipped"}));
}

TEST_F(PtqTest, PackWritesRealLowBitFilesAndReadsThemBack) {
  const auto checkpoint = train::load_checkpoint(*shared_ / "model.pt");
  PluginHost host(QX_PLUGIN_DIR);
  std::map<int, std::uintmax_t> sizes;
  for (int bits : {32, 8, 4, 2}) {
    sizes[bits] = deploy::pack_model(checkpoint, host, "per_channel", bits, scratch_ / fmt::format("w{}.qxpk", bits)).bytes;
    EXPECT_EQ(sizes[bits], std::filesystem::file_size(scratch_ / fmt::format("w{}.qxpk", bits)));
  }
  EXPECT_GT(sizes[32], 3 * sizes[8]);
  EXPECT_GT(sizes[8], sizes[4]);
  EXPECT_GT(sizes[4], sizes[2]);

  // The 4-bit file holds exactly the simulation's quantized weights.
  auto model = host.create_model("resnet20", Options("model 'resnet20'"));
  train::load_model_state(*model, checkpoint.state_dict, "checkpoint");
  model->eval();
  spec::CellSpec cell;
  cell.observer = cell.weight_observer = {"minmax", Options("observer 'minmax'")};
  cell.quantizer = {"per_channel", Options("quantizer 'per_channel'")};
  cell.weight_bits = cell.activation_bits = 4;
  sim::QuantSim sim(*model, host, cell);
  sim.quantize_weights();
  const auto unpacked = deploy::unpack_model(scratch_ / "w4.qxpk");
  for (const auto& site : sim.weight_sites()) {
    ASSERT_TRUE(unpacked.count(site.name + ".weight")) << site.name;
    EXPECT_TRUE(tensors_equal(unpacked.at(site.name + ".weight"), site.weight.detach().contiguous())) << site.name;
  }
  EXPECT_TRUE(tensors_equal(unpacked.at("bn1.bias"), model->named_parameters()["bn1.bias"].detach()));

  std::filesystem::resize_file(scratch_ / "w4.qxpk", sizes[4] - 100);
  EXPECT_THAT([&] { deploy::unpack_model(scratch_ / "w4.qxpk"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("truncated")));
}

TEST_F(PtqTest, BadExperimentFilesNameTheirPlace) {
  write("[grid]\nobsevers = [\"minmax\"]\nquantizers = [\"per_channel\"]\nbits = [8]\n");
  expect_clean_failure(run_qx("run e.toml", scratch_), "unknown key 'obsevers' in [grid]; did you mean 'observers'?");
  write("[grid]\nobservers = [\"minmax\"]\nquantizers = [\"per_channel\"]\nbits = [8, 1]\n");
  expect_clean_failure(run_qx("run e.toml", scratch_), "e.toml:18:12: 'grid.bits' = 1 is out of range [2, 16]");
  write("[grid]\nobservers = [\"minmax\"]\nquantizers = [\"per_channel\"]\nbits = [8, 17]\n");
  expect_clean_failure(run_qx("run e.toml", scratch_), "'grid.bits' = 17 is out of range [2, 16]");
  write("[grid]\nobservers = [\"minmx\"]\nquantizers = [\"per_channel\"]\nbits = [8]\n");
  expect_clean_failure(run_qx("run e.toml", scratch_), "unknown observer plugin 'minmx'");
  write("[grid]\nobservers = [\"minmax\"]\nquantizers = [\"pytorch\"]\nbits = [2]\n"
        "[quantizers.pytorch]\nbackend = \"x86\"\n");
  expect_clean_failure(run_qx("run e.toml", scratch_), "reduce_range needs at least 3 bits");
  write("[grid]\nobservers = [\"minmax\"]\nquantizers = [\"per_channel\"]\nbits = [8]\noverrides = [\"x\"]\n");
  expect_clean_failure(run_qx("run e.toml", scratch_), "unknown override set 'x'");
  write("[[cells]]\nname = \"a\"\nobserver = \"minmax\"\nquantizer = \"per_channel\"\nbits = 8\n"
        "overrides = \"last\"\n[overrides.last]\nfc9 = { weight_bits = 8 }\n");
  expect_clean_failure(run_qx("run e.toml", scratch_), "override for unknown layer 'fc9'");
  write("histograms = [\"conv1\", \"conv9\"]\n[grid]\nobservers = [\"minmax\"]\nquantizers = [\"per_channel\"]\nbits = [8]\n");
  expect_clean_failure(run_qx("run e.toml", scratch_), "e.toml:15:14: histograms: the model has no weight layer 'conv9'");
  std::ofstream(scratch_ / "broken.toml") << "name = \"x\"\n[grid\n";
  expect_clean_failure(run_qx("run broken.toml", scratch_), "broken.toml:2:");
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "results.sqlite"));  // nothing ran, nothing written
}

// A smoke budget is laid over the loaded file: fewer images and batches, the first cells, and a
// pass option on every cell that runs the pass, over the file's and the cell's own values.
TEST_F(PtqTest, ABudgetShrinksTheRunAndItsCellsKeepKeysOfTheirOwn) {
  const std::string cells =
      "[passes.adaround]\niterations = 5\n"
      "[[cells]]\nname = \"a\"\nobserver = \"minmax\"\nquantizer = \"per_channel\"\nbits = 4\npasses = [\"adaround\"]\n"
      "[cells.pass_options.adaround]\niterations = 7\n"
      "[[cells]]\nname = \"b\"\nobserver = \"minmax\"\nquantizer = \"per_channel\"\nbits = 4\n";
  write(kSmallGrid + cells);
  auto experiment = config::load_ptq_experiment((scratch_ / "e.toml").string());
  config::RunBudget budget;
  budget.test_images = 16;
  budget.calibration_batches = 1;
  budget.first_cells = 2;
  budget.pass_options = {"adaround.iterations=2", "adaround.warmup=0.5", "lsq.epochs=1"};
  config::apply_budget(experiment, budget);
  EXPECT_EQ(experiment.evaluation.images, 16);
  EXPECT_EQ(experiment.calibration.batches, 1);
  ASSERT_EQ(experiment.cells.size(), 2u);  // fp32, then "a": fixed cells come first
  const auto& passes = experiment.cells[1].passes;
  ASSERT_EQ(passes.size(), 1u);
  EXPECT_EQ(passes[0].options.get_int("iterations", 0), 2);  // over the cell's own 7
  EXPECT_EQ(passes[0].options.get_double("warmup", 0), 0.5);
  for (const char* bad : {"adaround", "adaround.iterations", ".x=1", "adaround.=1"}) {
    budget.pass_options = {bad};
    EXPECT_THAT([&] { config::apply_budget(experiment, budget); },
                ::testing::ThrowsMessage<Error>(HasSubstr("expected PASS.KEY=VALUE"))) << bad;
  }

  // End to end: the budget's cells are stored beside the full ones, never in their place.
  write(kSmallGrid);
  ASSERT_EQ(run_qx("run e.toml --first 3", scratch_).exit_code, 0);
  EXPECT_EQ(count("SELECT count(*) FROM results"), 3);
  const auto small = run_qx("run e.toml --first 3 --test-images 50 --calibration-batches 1", scratch_);
  ASSERT_EQ(small.exit_code, 0) << small.err;
  EXPECT_THAT(small.out, HasSubstr("3 run, 0 skipped"));
  EXPECT_EQ(count("SELECT count(*) FROM cells WHERE images = 50"), 3);
  const auto misspelled = run_qx("run e.toml --first 1 --pass-option x", scratch_);
  EXPECT_NE(misspelled.exit_code, 0);
  EXPECT_THAT(misspelled.err, HasSubstr("expected PASS.KEY=VALUE"));
}

TEST_F(PtqTest, RerunSkipsFinishedCellsAndWritesEachOnce) {
  write(kSmallGrid);
  const auto first = run_qx("run e.toml", scratch_);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(count("SELECT count(*) FROM results"), 9);
  EXPECT_EQ(count("SELECT count(*) FROM cell_tensors"), 8 * (20 + 21));  // weights + activation points
  const auto second = run_qx("run e.toml", scratch_);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_THAT(second.out, HasSubstr("0 run, 9 skipped"));
  EXPECT_EQ(count("SELECT count(*) FROM cells"), 9);
  EXPECT_EQ(count("SELECT count(*) FROM experiments"), 1);  // a run with nothing to compute writes nothing
  EXPECT_EQ(count("SELECT count(DISTINCT key) FROM cells"), 9);
}

// Killed once its first cell is written (polled, not timed), the database holds whole cells
// only, and a rerun completes the grid.
TEST_F(PtqTest, KilledRunResumesWithExactlyOneRowPerCell) {
  write(kSmallGrid);
  // (run_qx's command starts in the scratch folder; the loop after `&` runs where the test does.)
  const auto db = (scratch_ / "results.sqlite").string();
  run_qx("run e.toml & pid=$!; for i in $(seq 3000); do [ -f '" + db + "' ] && [ \"$(sqlite3 -readonly '" + db +
             "' 'SELECT COUNT(*) FROM cells' 2>/dev/null)\" -ge 1 ] 2>/dev/null && break; sleep 0.01; done; "
             "kill -9 $pid; wait $pid",
         scratch_);
  // Killed before its schema was committed, the file holds no tables yet; after, whole cells only.
  if (std::filesystem::exists(scratch_ / "results.sqlite") &&
      count("SELECT count(*) FROM sqlite_master WHERE name = 'cells'") == 1) {
    EXPECT_EQ(count("SELECT count(*) FROM cells c WHERE c.quantize = 1 AND "
                    "(SELECT count(*) FROM cell_tensors t WHERE t.cell_id = c.id) != 41"),
              0);
  }
  const auto rerun = run_qx("run e.toml", scratch_);
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  EXPECT_EQ(count("SELECT count(*) FROM results"), 9);
  EXPECT_EQ(count("SELECT count(DISTINCT key) FROM cells"), 9);
}

TEST_F(PtqTest, DatabaseOverrideAndCorruptedDatabase) {
  write("[[cells]]\nname = \"fp32\"\nquantize = false\n");
  ASSERT_EQ(run_qx("run e.toml --db other.sqlite", scratch_).exit_code, 0);
  EXPECT_TRUE(std::filesystem::exists(scratch_ / "other.sqlite"));
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "results.sqlite"));
  std::ofstream(scratch_ / "broken.sqlite") << std::string(4096, 'x');
  expect_clean_failure(run_qx("run e.toml --db broken.sqlite", scratch_), "broken.sqlite");
}

TEST_F(PtqTest, ExportDropsTrainingStateOnly) {
  auto checkpoint = train::load_checkpoint(*shared_ / "model.pt");
  checkpoint.optimizer["conv1.weight"] = torch::ones({16, 3, 3, 3});
  checkpoint.train_state = checkpoint.state_dict;  // as in an SWA phase: the iterate beside the average
  checkpoint.swa_count = 3;
  train::save_checkpoint(checkpoint, scratch_ / "full.pt");
  ASSERT_EQ(run_qx("export full.pt shipped.pt", scratch_).exit_code, 0);
  const auto shipped = train::load_checkpoint(scratch_ / "shipped.pt");
  EXPECT_TRUE(shipped.optimizer.empty());
  EXPECT_TRUE(shipped.train_state.empty());
  EXPECT_EQ(shipped.swa_count, 3);
  EXPECT_EQ(shipped.run_uid, checkpoint.run_uid);
  for (const auto& [name, tensor] : checkpoint.state_dict) EXPECT_TRUE(tensors_equal(shipped.state_dict.at(name), tensor));
  EXPECT_LT(std::filesystem::file_size(scratch_ / "shipped.pt"), std::filesystem::file_size(scratch_ / "full.pt"));
  expect_clean_failure(run_qx("export nope.pt x.pt", scratch_), "checkpoint nope.pt: no such file");
}

// The README's walk-through: a new observer is one folder, one .cpp and one CMake line, and runs
// in a grid beside the built-in ones.
TEST_F(PtqTest, AnObserverFromOutsideRunsInAGrid) {
  const auto plugins = scratch_ / "plugins";
  std::filesystem::create_directories(plugins);
  for (const auto& dir : {std::filesystem::path(QX_PLUGIN_DIR), std::filesystem::path(QX_EXAMPLE_PLUGIN_DIR)}) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().extension() == ".so") std::filesystem::copy(entry.path(), plugins / entry.path().filename());
    }
  }
  write("[grid]\nobservers = [\"shrunk_max\"]\nquantizers = [\"symmetric\"]\nbits = [8]\n"
        "[observers.shrunk_max]\nfraction = 0.8\n");
  const auto outcome = run_qx("--plugins plugins run e.toml", scratch_);
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_EQ(count("SELECT count(*) FROM results WHERE observer = 'shrunk_max' AND "
                  "options LIKE '%\"fraction\":0.8%'"),
            1);
}

}  // namespace
}  // namespace qx::test
