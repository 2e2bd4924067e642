// QuantSim: where quantization happens in a model, and what stays exactly as it was.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "qx/core/error.h"
#include "qx/host/plugin_host.h"
#include "qx/sim/quant_sim.h"
#include "qx/train/checkpoint.h"
#include "support.h"

namespace qx::test {
namespace {

using ::testing::HasSubstr;

spec::CellSpec cell(const std::string& observer, const std::string& quantizer, int weight_bits, int activation_bits) {
  spec::CellSpec c;
  c.observer = {observer, Options("observer '" + observer + "'")};
  c.weight_observer = {"minmax", Options("observer 'minmax'")};
  c.quantizer = {quantizer, Options("quantizer '" + quantizer + "'")};
  c.weight_bits = weight_bits;
  c.activation_bits = activation_bits;
  return c;
}

class SimTest : public SeededTest {
 protected:
  void SetUp() override {
    SeededTest::SetUp();
    model_ = host_.create_model("resnet20", Options("model 'resnet20'"));
    randomize_batchnorm_statistics(*model_);
    model_->eval();
    images_ = torch::randn({16, 3, 32, 32});
  }
  torch::Tensor run() {
    torch::NoGradGuard no_grad;
    return model_->forward(images_);
  }
  PluginHost host_{QX_PLUGIN_DIR};
  std::shared_ptr<QuantizableModel> model_;
  torch::Tensor images_;
};

TEST_F(SimTest, DisabledQuantizationIsPlainEvaluation) {
  const auto plain = run();
  spec::CellSpec fp32;
  fp32.quantize = false;
  sim::QuantSim sim(*model_, host_, fp32);
  sim.calibrate({images_});
  sim.quantize_weights();
  sim.quantize_activations();
  EXPECT_TRUE(tensors_equal(run(), plain));
  EXPECT_TRUE(sim.records().empty());
}

TEST_F(SimTest, CalibrationObservesWithoutChangingOutputs) {
  auto unfolded = cell("minmax", "per_channel", 8, 8);
  unfolded.fold_batch_norm = false;
  const auto plain = run();
  sim::QuantSim sim(*model_, host_, unfolded);
  sim.calibrate({images_});
  EXPECT_TRUE(tensors_equal(run(), plain));
}

TEST_F(SimTest, SixteenBitsIsCloseToFloat) {
  const auto plain = run();
  sim::QuantSim sim(*model_, host_, cell("minmax", "per_channel", 16, 16));
  sim.calibrate({images_});
  sim.quantize_weights();
  sim.quantize_activations();
  EXPECT_TRUE(tensors_equal(run(), plain, 2e-3, 2e-3));
}

TEST_F(SimTest, WeightsAreQuantizedOnceOntoTheirGrid) {
  sim::QuantSim sim(*model_, host_, cell("minmax", "per_channel", 4, 8));
  sim.calibrate({images_});
  sim.quantize_weights();
  const auto records = sim.records();
  const auto layers = weight_layers(*model_);
  ASSERT_EQ(records.size(), layers.size() + sim.activation_sites().size());
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto& q = records[i].qparams;
    ASSERT_EQ(records[i].name, layers[i].name);
    // Every weight value is an integer multiple of its channel's scale, within [-8, 7].
    std::vector<int64_t> shape(layers[i].weight.dim(), 1);
    shape[0] = -1;
    const auto steps = layers[i].weight / q.scale.view(shape);
    EXPECT_TRUE(tensors_equal(steps, steps.round(), 1e-3)) << layers[i].name;
    EXPECT_LE(steps.max().item<float>(), 7.001f);
    EXPECT_GE(steps.min().item<float>(), -8.001f);
  }
}

TEST_F(SimTest, OverridesReachWeightsAndTheActivationsFeedingThem) {
  auto c = cell("minmax", "per_channel", 4, 4);
  c.overrides["conv1"] = spec::LayerBits{8, 8};
  c.overrides["fc"] = spec::LayerBits{8, 6};
  sim::QuantSim sim(*model_, host_, c);
  sim.calibrate({images_});
  sim.quantize_weights();
  sim.quantize_activations();
  std::map<std::string, int> bits;
  for (const auto& record : sim.records()) bits[record.name] = record.bits;
  EXPECT_EQ(bits.at("conv1"), 8);
  EXPECT_EQ(bits.at("input_q"), 8);  // feeds conv1
  EXPECT_EQ(bits.at("fc"), 8);
  EXPECT_EQ(bits.at("pool_q"), 6);  // feeds fc
  EXPECT_EQ(bits.at("layer1.0.conv1"), 4);
  EXPECT_EQ(bits.at("layer1.0.mid_q"), 4);
}

// A site has one width, its grid's: torch.ao's x86 activations at "8 bits" are a 7-bit grid
// (reduce_range), and that is what the records (and so the store and qx pack) say.
TEST_F(SimTest, ASiteRecordsTheWidthOfTheGridItIsQuantizedTo) {
  auto c = cell("minmax", "pytorch", 8, 8);
  c.quantizer.options.set("backend", std::string("x86"));
  sim::QuantSim sim(*model_, host_, c);
  sim.calibrate({images_});
  sim.quantize_weights();
  sim.quantize_activations();
  for (const auto& record : sim.records()) {
    EXPECT_EQ(record.bits, record.role == quant::TensorRole::kWeight ? 8 : 7) << record.name;
    EXPECT_EQ(record.qparams.qmax - record.qparams.qmin + 1, std::int64_t{1} << record.bits) << record.name;
  }
}

TEST_F(SimTest, NonFiniteCalibrationDataNamesThePoint) {
  auto bad = images_.clone();
  bad[0][0][0][0] = std::numeric_limits<float>::quiet_NaN();
  sim::QuantSim sim(*model_, host_, cell("minmax", "asymmetric", 8, 8));
  EXPECT_THAT([&] { sim.calibrate({bad}); },
              ::testing::ThrowsMessage<Error>(HasSubstr("NaN or Inf values at activation point 'input_q'")));
}

TEST_F(SimTest, ValidationNamesUnknownLayersAndBadWidths) {
  auto c = cell("minmax", "asymmetric", 8, 8);
  c.overrides["conv9"] = spec::LayerBits{8, 8};
  EXPECT_THAT([&] { sim::validate_cell(c, *model_, "grid.toml"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("override for unknown layer 'conv9'")));
  EXPECT_THAT([&] { sim::validate_cell(cell("minmax", "asymmetric", 1, 8), *model_, "grid.toml"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("bit width 1 is out of range [2, 16]")));
}

// The residual stream stored at 8 bits: the stem and every block's sum keep 8 bits, each block's
// conv1 reads it re-quantized at the activations' width, and nothing else changes.
TEST_F(SimTest, AWiderResidualStreamIsRequantizedWhereEachBlockReadsIt) {
  auto plain = cell("minmax", "per_channel", 4, 4);
  sim::QuantSim plain_sim(*model_, host_, plain);
  EXPECT_EQ(plain_sim.activation_sites().size(), 21u);  // no re-quantizing point has work to do
  EXPECT_EQ(plain_sim.find_activation_site("layer1.1.in_q"), nullptr);
  EXPECT_EQ(plain_sim.input_site("layer1.1.conv1").name, "layer1.0.out_q");

  auto wide = plain;
  wide.residual_bits = 8;
  sim::QuantSim sim(*model_, host_, wide);
  ASSERT_EQ(sim.activation_sites().size(), 30u);
  for (const auto& site : sim.activation_sites()) {
    const bool stream = site->name == "stem_q" || site->name.find(".out_q") != std::string::npos;
    EXPECT_EQ(site->spec.bits, stream ? 8 : 4) << site->name;
  }
  EXPECT_EQ(sim.input_site("layer1.1.conv1").name, "layer1.1.in_q");
  EXPECT_EQ(sim.input_site("layer1.1.conv2").name, "layer1.1.mid_q");
}

// A stream stored at the width its layers read has nothing to re-quantize: the same function.
TEST_F(SimTest, AResidualStreamAtTheActivationWidthChangesNothing) {
  auto quantized_output = [&](int residual_bits) {
    auto spec = cell("minmax", "per_channel", 4, 4);
    spec.residual_bits = residual_bits;
    torch::manual_seed(0);
    auto model = host_.create_model("resnet20", Options("model 'resnet20'"));
    randomize_batchnorm_statistics(*model);
    model->eval();
    sim::QuantSim sim(*model, host_, spec);
    sim.calibrate({images_});
    sim.quantize_weights();
    sim.quantize_activations();
    torch::NoGradGuard no_grad;
    return model->forward(images_);
  };
  const auto at_activation_width = quantized_output(0);
  EXPECT_TRUE(tensors_equal(quantized_output(4), at_activation_width));
  EXPECT_FALSE(tensors_equal(quantized_output(8), at_activation_width, 1e-3, 1e-3));
}

// Cell keys are JSON: every character a name or an option can hold is escaped as RFC 8259 asks,
// and plain names read exactly as they always did (a rerun over a committed database skips).
TEST(CellKey, IsJsonForAnyTextAndUnchangedForPlainNames) {
  spec::PluginChoice choice{"minmax", Options("observer 'minmax'")};
  choice.options.set("note", std::string("a \"b\"\\c\nd\te\x01"));
  choice.options.set("bins", std::int64_t{256});
  EXPECT_EQ(spec::plugin_json(choice),
            R"({"name":"minmax","options":{"bins":256,"note":"a \"b\"\\c\nd\te\u0001"}})");
  const auto plain = cell("mse", "per_channel", 4, 4);
  EXPECT_EQ(spec::cell_key(plain, "{}").find('\\'), std::string::npos);
}

}  // namespace
}  // namespace qx::test
