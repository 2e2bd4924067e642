// ResNet20 as the paper defines it, and the names the quantization engine will address.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "qx/host/plugin_host.h"
#include "qx/nn/fold.h"
#include "qx/nn/model.h"
#include "support.h"

namespace qx::test {
namespace {

class ResNet20Test : public SeededTest {
 protected:
  std::shared_ptr<QuantizableModel> make(const std::string& name = "resnet20") {
    return host_.create_model(name, Options("model '" + name + "'"));
  }
  PluginHost host_{QX_PLUGIN_DIR};
};

int64_t parameter_count(const torch::nn::Module& model) {
  int64_t count = 0;
  for (const auto& p : model.parameters()) count += p.numel();
  return count;
}

TEST_F(ResNet20Test, HasThePapersParameterCount) { EXPECT_EQ(parameter_count(*make()), 269722); }

TEST_F(ResNet20Test, ResNet56IsTheDeeperSibling) { EXPECT_EQ(parameter_count(*make("resnet56")), 853018); }

TEST_F(ResNet20Test, OutputsTenLogitsPerImage) {
  auto model = make();
  model->eval();
  EXPECT_EQ(model->forward(torch::randn({4, 3, 32, 32})).sizes(), (std::vector<int64_t>{4, 10}));
}

TEST_F(ResNet20Test, WeightLayersAreNineteenConvsAndOneLinear) {
  auto model = make();
  const auto layers = weight_layers(*model);
  ASSERT_EQ(layers.size(), 20u);
  EXPECT_EQ(layers.front().name, "conv1");
  EXPECT_EQ(layers[1].name, "layer1.0.conv1");
  EXPECT_EQ(layers.back().name, "fc");
  EXPECT_FALSE(layers.back().is_conv);
  for (const auto& layer : layers) EXPECT_FALSE(layer.module->named_parameters().contains("bias") && layer.is_conv);
}

TEST_F(ResNet20Test, QuantPointsCoverEveryLayerInputAndResidualSum) {
  auto model = make();
  const auto points = quant_points(*model);
  // input, stem output, per block (in, mid, out) x 9, pooled features.
  ASSERT_EQ(points.size(), 30u);
  EXPECT_EQ(points[0].name, "input_q");
  EXPECT_EQ(points[1].name, "stem_q");
  EXPECT_EQ(points[2].name, "layer1.0.in_q");
  EXPECT_EQ(points[3].name, "layer1.0.mid_q");
  EXPECT_EQ(points[4].name, "layer1.0.out_q");
  EXPECT_EQ(points.back().name, "pool_q");
  // Every weight layer is fed by exactly one stored tensor; each block's conv1 may in addition
  // re-quantize the residual stream it reads, which the stem and every block's sum store.
  std::map<std::string, int> fed, requantized;
  for (const auto& point : points) {
    auto& count = point.point->options.requantizes() ? requantized : fed;
    for (const auto& layer : point.point->options.feeds()) ++count[layer];
    const bool stream = point.name == "stem_q" || point.name.find(".out_q") != std::string::npos;
    EXPECT_EQ(point.point->options.residual(), stream) << point.name;
  }
  for (const auto& layer : weight_layers(*model)) {
    EXPECT_EQ(fed[layer.name], 1) << layer.name;
    const bool block_conv1 = layer.name != "conv1" && layer.name.size() > 6 &&
                             layer.name.compare(layer.name.size() - 6, 6, ".conv1") == 0;
    EXPECT_EQ(requantized[layer.name], block_conv1 ? 1 : 0) << layer.name;
  }
}

TEST_F(ResNet20Test, ConvBnPairsNameEveryBatchNorm) {
  auto model = make();
  const auto pairs = model->conv_bn_pairs();
  ASSERT_EQ(pairs.size(), 19u);
  const auto modules = model->named_modules("", false);
  for (const auto& pair : pairs) {
    ASSERT_TRUE(modules.contains(pair.conv)) << pair.conv;
    ASSERT_TRUE(modules.contains(pair.batch_norm)) << pair.batch_norm;
    EXPECT_NE(modules[pair.batch_norm]->as<torch::nn::BatchNorm2d>(), nullptr);
  }
}

// Counts calls and records shapes, without changing the tensor.
struct RecordingHook : nn::ActivationHook {
  torch::Tensor operator()(const torch::Tensor& x) override {
    ++calls;
    return x;
  }
  int calls = 0;
};

TEST_F(ResNet20Test, HooksSeeActivationsWithoutChangingTheResult) {
  auto model = make();
  model->eval();
  auto input = torch::randn({2, 3, 32, 32});
  const auto reference = model->forward(input);
  auto hook = std::make_shared<RecordingHook>();
  for (auto& point : quant_points(*model)) point.point->set_hook(hook);
  EXPECT_TRUE(tensors_equal(model->forward(input), reference));
  EXPECT_EQ(hook->calls, 30);
}

// A hook can change what the rest of the network sees: zeroing the pooled features leaves only
// the linear layer's bias.
struct ZeroHook : nn::ActivationHook {
  torch::Tensor operator()(const torch::Tensor& x) override { return torch::zeros_like(x); }
};

TEST_F(ResNet20Test, HooksReachTheForwardPass) {
  auto model = make();
  model->eval();
  for (auto& point : quant_points(*model)) {
    if (point.name == "pool_q") point.point->set_hook(std::make_shared<ZeroHook>());
  }
  auto* fc = model->named_modules("", false)["fc"]->as<torch::nn::Linear>();
  const auto out = model->forward(torch::randn({3, 3, 32, 32}));
  EXPECT_TRUE(tensors_equal(out, fc->bias.detach().expand({3, 10})));
}

TEST_F(ResNet20Test, FoldingBatchNormKeepsTheFunction) {
  auto model = make();
  {
    // Non-trivial statistics, as after training.
    torch::NoGradGuard no_grad;
    for (auto& buffer : model->buffers()) {
      if (buffer.is_floating_point()) buffer.uniform_(0.5, 2.0);
    }
    for (auto& item : model->named_parameters()) {
      if (item.key().find("bn") != std::string::npos) item.value().uniform_(-1.0, 1.0);
    }
  }
  model->eval();
  auto input = torch::randn({4, 3, 32, 32});
  const auto reference = model->forward(input);
  fold_batch_norms(*model);
  auto* bn = model->named_modules("", false)["layer2.1.bn2"]->as<torch::nn::BatchNorm2d>();
  EXPECT_TRUE(torch::all(bn->weight == 1).item<bool>());
  EXPECT_TRUE(tensors_equal(model->forward(input), reference, 1e-4, 1e-4));
}

TEST_F(ResNet20Test, OptionAShortcutHasNoParameters) {
  auto model = make();
  for (const auto& item : model->named_parameters()) {
    EXPECT_THAT(item.key(), ::testing::Not(::testing::HasSubstr("shortcut")));
    EXPECT_THAT(item.key(), ::testing::Not(::testing::HasSubstr("downsample")));
  }
}

}  // namespace
}  // namespace qx::test
