// The ONNX export and the onnxruntime judge (docs/deployment.md): the model's graph is its
// forward(), every exported file passes onnx.checker, widths ONNX cannot hold are refused in one
// line with nothing left behind, and onnxruntime runs the file with integer kernels on the images
// qx evaluates.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ptq_test.h"
#include "qx/config/ptq_config.h"
#include "qx/core/error.h"
#include "qx/deploy/onnx_census.h"
#include "qx/deploy/onnx_export.h"
#include "qx/nn/graph.h"
#include "qx/run/experiment_session.h"
#include "qx/run/onnx_judge.h"
#include "qx/run/ptq_runner.h"
#include "qx/store/results_db.h"

namespace qx::test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

const char* const kCells =
    "[[cells]]\nname = \"fp32\"\nquantize = false\n"
    "[[cells]]\nname = \"w8\"\nobserver = \"minmax\"\nquantizer = \"per_channel\"\nbits = 8\n"
    "[[cells]]\nname = \"w4\"\nobserver = \"minmax\"\nquantizer = \"per_channel\"\nbits = 4\n"
    "[[cells]]\nname = \"w4-affine\"\nobserver = \"minmax\"\nquantizer = \"asymmetric\"\nbits = 4\n"
    "[[cells]]\nname = \"w16\"\nobserver = \"minmax\"\nquantizer = \"per_channel\"\nbits = 16\n"
    "[[cells]]\nname = \"half\"\nobserver = \"minmax\"\nquantizer = \"float16\"\nbits = 16\n";

class OnnxTest : public SessionTest {
 protected:
  void SetUp() override {
    SessionTest::SetUp();
    start_session(kCells);
  }
  // Exports cell `label`; the cell's error (the exporter's refusal) comes back as the message.
  std::string export_cell(const std::string& label, const std::filesystem::path& file) {
    const auto* planned = session_->select({label}).at(0);
    const auto result = session_->compute(planned->index, [&](sim::QuantSim& sim, const store::CellResult&) {
      deploy::export_onnx(sim, file, {data::Normalization{}, planned->description});
    });
    return result.error;
  }
};

TEST(OnnxGraph, ResNet20sGraphComputesItsForward) {
  PluginHost host(QX_PLUGIN_DIR);
  auto model = host.create_model("resnet20", Options("model 'resnet20'"));
  randomize_batchnorm_statistics(*model);
  model->eval();
  torch::NoGradGuard no_grad;
  const auto images = torch::randn({3, 3, 32, 32});
  const auto graph = model->graph();
  ASSERT_FALSE(graph.empty());
  EXPECT_TRUE(torch::allclose(nn::run_graph(*model, graph, images), model->forward(images), 1e-5, 1e-5));
  auto broken = graph;
  broken.back().inputs = {"nothing"};
  EXPECT_THAT([&] { nn::run_graph(*model, broken, images); },
              ::testing::ThrowsMessage<Error>(HasSubstr("linear 'fc' reads 'nothing', which no earlier operation writes")));
  broken = graph;
  broken.front().module = "conv1";  // a QuantPoint op naming a Conv2d
  EXPECT_THAT([&] { nn::run_graph(*model, broken, images); },
              ::testing::ThrowsMessage<Error>(HasSubstr("names module 'conv1', which the model lacks or is of another type")));
}

TEST_F(OnnxTest, EveryExportedCellPassesOnnxChecker) {
  for (const std::string label : {"fp32", "w8", "w4", "w4-affine"}) {
    const auto file = scratch_ / (label + ".onnx");
    ASSERT_EQ(export_cell(label, file), "") << label;
    const auto command = "/usr/bin/python3 -c 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), "
                         "full_check=True)' " + file.string();
    EXPECT_EQ(std::system(command.c_str()), 0) << label;
    const auto census = deploy::census_onnx(file);
    if (label == "fp32") {
      EXPECT_EQ(census.ops.count("QuantizeLinear"), 0u);
    } else {
      EXPECT_EQ(census.ops.at("QuantizeLinear"), 21 + 4) << label;  // 21 points, slicing and padding kept on the grid
      EXPECT_EQ(census.ops.at("Conv"), 19);
      EXPECT_EQ(census.ops.at("Gemm"), 1);
      // A 4-bit grid is narrower than its 8-bit container: each point clips its codes.
      EXPECT_EQ(census.ops.count("Clip") ? census.ops.at("Clip") : 0, label == "w8" ? 0 : 25) << label;
    }
  }
}

TEST_F(OnnxTest, WidthsOnnxCannotHoldAreRefusedAndLeaveNothing) {
  EXPECT_THAT(export_cell("w16", scratch_ / "w16.onnx"),
              AllOf(HasSubstr("at 16 bits ("), HasSubstr("opset 13's QuantizeLinear holds 8-bit integers only")));
  EXPECT_THAT(export_cell("half", scratch_ / "half.onnx"), HasSubstr("quantizer 'float16' has no integer grid"));
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "w16.onnx"));
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "w16.onnx.partial"));
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "half.onnx"));
}

// onnxruntime-node, which scripts/install-deps.sh installs beside the tool.
TEST_F(OnnxTest, OnnxruntimeRunsTheExportWithIntegerKernels) {
  ASSERT_TRUE(std::filesystem::exists(std::filesystem::path(QX_SOURCE_DIR) /
                                      "tools/onnxruntime/node_modules/onnxruntime-node/package.json"))
      << "run scripts/install-deps.sh";
  const auto db_path = (scratch_ / "results.sqlite").string();
  run::RunOverrides overrides;
  overrides.database = db_path;
  write("[[cells]]\nname = \"w8\"\nobserver = \"minmax\"\nquantizer = \"per_channel\"\nbits = 8\n");
  const auto experiment = config::load_ptq_experiment((scratch_ / "e.toml").string());
  run::run_ptq_experiment(experiment, *host_, overrides);
  run::ExperimentSession session(experiment, *host_, overrides);
  store::ResultsDb results(db_path);
  run::OnnxJudgeOptions options;
  options.tool = run::default_judge_tool();
  options.files = scratch_ / "onnx";
  const auto summary = run::judge_with_onnxruntime(session, session.select({}), options, results);
  EXPECT_EQ(summary.finished, 1) << summary.first_error;
  EXPECT_EQ(count("SELECT COUNT(*) FROM results WHERE experiment = 'onnxruntime' AND label = 'w8'"), 1);
  // Every convolution but the nine whose output meets the residual sum in float runs on integers.
  EXPECT_EQ(count("SELECT COUNT(*) FROM result_settings WHERE key = 'onnx.integer_layers' "
                  "AND value LIKE 'conv1 layer1.0.conv1 %' AND value LIKE '% fc'"),
            1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM result_settings WHERE key = 'onnx.agreement' AND value >= 0.9"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM result_settings s JOIN cells c ON c.id = s.value "
                  "WHERE s.key = 'onnx.source_cell' AND c.label = 'w8'"),
            1);
  EXPECT_TRUE(std::filesystem::exists(options.files / (spec::key_digest(session.plan()[0].key) + ".onnx")));
  // A second judge finds its verdict and computes nothing.
  EXPECT_EQ(run::judge_with_onnxruntime(session, session.select({}), options, results).skipped, 1);
}

}  // namespace
}  // namespace qx::test
