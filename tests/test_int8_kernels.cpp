// LibTorch's int8 kernels as the second integer judge (deploy/int8_kernels.h, run/int8_judge.h):
// which layers run on integer kernels, that they compute what the simulation computes, that each
// grid they cannot run is refused in one line, and that the judge's verdicts land in the database.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ptq_test.h"
#include "qx/config/ptq_config.h"
#include "qx/core/error.h"
#include "qx/data/batches.h"
#include "qx/deploy/int8_kernels.h"
#include "qx/eval/evaluate.h"
#include "qx/run/experiment_session.h"
#include "qx/run/int8_judge.h"
#include "qx/run/judge.h"
#include "qx/run/ptq_runner.h"
#include "qx/store/results_db.h"

namespace qx::test {
namespace {

using ::testing::HasSubstr;

const char* const kCells =
    "[[cells]]\nname = \"fp32\"\nquantize = false\n"
    "[[cells]]\nname = \"w8\"\nobserver = \"minmax\"\nquantizer = \"per_channel\"\nbits = 8\n"
    "[[cells]]\nname = \"w4\"\nobserver = \"minmax\"\nquantizer = \"per_channel\"\nbits = 4\n"
    "[[cells]]\nname = \"w8-affine\"\nobserver = \"minmax\"\nquantizer = \"asymmetric\"\nbits = 8\n"
    "[[cells]]\nname = \"w16\"\nobserver = \"minmax\"\nquantizer = \"per_channel\"\nbits = 16\n"
    "[[cells]]\nname = \"half\"\nobserver = \"minmax\"\nquantizer = \"float16\"\nbits = 16\n";

class Int8KernelsTest : public SessionTest {
 protected:
  void SetUp() override {
    SessionTest::SetUp();
    start_session(kCells);
  }

  struct Lowered {
    std::string error;  // the cell's error: the lowering's refusal
    std::vector<std::string> integer_layers, float_layers;
    double agreement = 0;  // with the simulation, on the evaluation images
  };

  Lowered lower(const std::string& label, deploy::Int8Engine engine) {
    Lowered out;
    const auto* planned = session_->select({label}).at(0);
    const auto result = session_->compute(planned->index, [&](sim::QuantSim& sim, const store::CellResult&) {
      const deploy::Int8Model model(sim, engine);
      out.integer_layers = model.integer_layers();
      out.float_layers = model.float_layers();
      const auto& test_set = session_->test_set();
      const auto simulated = eval::predict(sim.model(), test_set, 100, torch::kCPU);
      out.agreement = run::agreement(model.forward(data::normalize(test_set.images)), simulated);
    });
    out.error = result.error;
    return out;
  }
};

TEST_F(Int8KernelsTest, EveryConvolutionWhoseOutputIsQuantizedRunsOnIntegerKernels) {
  for (const auto engine : {deploy::Int8Engine::kQnnpack, deploy::Int8Engine::kOnednn}) {
    const auto lowered = lower("w8", engine);
    ASSERT_EQ(lowered.error, "") << deploy::int8_engine_name(engine);
    // The stem and each block's first convolution; each block's second meets the shortcut in
    // float, and the classifier's logits are not quantized.
    ASSERT_EQ(lowered.integer_layers.size(), 10u);
    EXPECT_EQ(lowered.integer_layers.front(), "conv1");
    EXPECT_EQ(lowered.integer_layers.back(), "layer3.2.conv1");
    ASSERT_EQ(lowered.float_layers.size(), 10u);
    EXPECT_EQ(lowered.float_layers.front(), "layer1.0.conv2");
    EXPECT_EQ(lowered.float_layers.back(), "fc");
    EXPECT_GE(lowered.agreement, 0.9) << deploy::int8_engine_name(engine);
  }
}

// A 4-bit grid in an 8-bit container: without clipping the codes to [0, 15] after each kernel,
// the next layer would read values the simulation clipped away.
TEST_F(Int8KernelsTest, NarrowGridsKeepTheirOwnRangeInTheirContainers) {
  const auto lowered = lower("w4", deploy::Int8Engine::kQnnpack);
  ASSERT_EQ(lowered.error, "");
  EXPECT_EQ(lowered.integer_layers.size(), 10u);
  EXPECT_GE(lowered.agreement, 0.8);
}

TEST_F(Int8KernelsTest, GridsTheKernelsCannotRunAreRefusedInOneLine) {
  EXPECT_THAT(lower("w8-affine", deploy::Int8Engine::kOnednn).error,
              HasSubstr("its weight grid has nonzero zero points, and onednn takes symmetric weights only"));
  EXPECT_EQ(lower("w8-affine", deploy::Int8Engine::kQnnpack).error, "");
  EXPECT_THAT(lower("w16", deploy::Int8Engine::kQnnpack).error, HasSubstr("wider than 8 bits"));
  EXPECT_THAT(lower("half", deploy::Int8Engine::kQnnpack).error,
              HasSubstr("cannot run quantizer 'float16': it has no integer grid"));
  EXPECT_THAT(lower("fp32", deploy::Int8Engine::kQnnpack).error, HasSubstr("the cell computes in float"));
  EXPECT_THAT([] { deploy::parse_int8_engine("fbgemm"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("unknown int8 engine 'fbgemm'")));
}

// Both engines judge from one recomputation of each cell; a refusal fails that verdict alone.
TEST_F(Int8KernelsTest, TheJudgesRecordOneVerdictPerCellAndEngine) {
  const auto db_path = (scratch_ / "results.sqlite").string();
  run::RunOverrides overrides;
  overrides.database = db_path;
  write("[[cells]]\nname = \"w8\"\nobserver = \"minmax\"\nquantizer = \"per_channel\"\nbits = 8\n"
        "[[cells]]\nname = \"w8-affine\"\nobserver = \"minmax\"\nquantizer = \"asymmetric\"\nbits = 8\n");
  const auto experiment = config::load_ptq_experiment((scratch_ / "e.toml").string());
  run::run_ptq_experiment(experiment, *host_, overrides);
  run::ExperimentSession session(experiment, *host_, overrides);
  store::ResultsDb results(db_path);
  const std::vector<run::Judge> judges{run::int8_kernels_judge(session, {deploy::Int8Engine::kQnnpack, 1, false}),
                                       run::int8_kernels_judge(session, {deploy::Int8Engine::kOnednn, 1, false})};
  const auto summary = run::judge_cells(session, session.select({}), results, judges);
  EXPECT_EQ(summary.finished, 3) << summary.first_error;
  EXPECT_EQ(summary.failed, 1);
  EXPECT_THAT(summary.first_error, HasSubstr("onednn takes symmetric weights only"));
  EXPECT_EQ(count("SELECT COUNT(*) FROM results WHERE experiment = 'int8-kernels' AND label = 'w8'"), 2);
  EXPECT_EQ(count("SELECT COUNT(DISTINCT value) FROM result_settings WHERE key = 'int8.engine'"), 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM result_settings WHERE key = 'int8.agreement' AND value >= 0.9"), 3);
  // The input is quantized by the same arithmetic in both; the kernels' requantisation moves codes after it.
  EXPECT_EQ(count("SELECT COUNT(*) FROM result_settings WHERE key = 'int8.codes_moved.input_q' AND value = 0"), 3);
  // input_q, stem_q, each block's mid_q and out_q and pool_q: each block's in_q reads a value on its
  // own grid already and has nothing to do.
  EXPECT_EQ(count("SELECT COUNT(*) FROM result_settings WHERE key LIKE 'int8.codes_moved.%'"), 3 * (3 + 2 * 9));
  EXPECT_EQ(count("SELECT COUNT(*) FROM result_settings s JOIN cells c ON c.id = s.value "
                  "WHERE s.key = 'int8.source_cell' AND c.label = 'w8'"),
            2);
  // A second judge finds its verdicts and computes nothing; the failed one is tried again.
  const auto again = run::judge_cells(session, session.select({}), results, judges);
  EXPECT_EQ(again.skipped, 3);
  EXPECT_EQ(again.failed, 1);
}

}  // namespace
}  // namespace qx::test
