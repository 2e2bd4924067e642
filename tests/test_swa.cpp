// Stochastic weight averaging: the average, its BatchNorm statistics, and the [swa] phase of a
// recipe, resumed exactly and appended to a finished schedule.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "qx/config/train_config.h"
#include "qx/core/error.h"
#include "qx/host/plugin_host.h"
#include "qx/train/checkpoint.h"
#include "qx/train/swa.h"
#include "qx/train/trainer.h"
#include "support.h"

namespace qx::test {
namespace {

using ::testing::HasSubstr;

class SwaTest : public SeededTest {
 protected:
  std::shared_ptr<QuantizableModel> make_model(std::uint64_t seed) {
    torch::manual_seed(seed);
    return host_.create_model("resnet20", Options());
  }
  PluginHost host_{QX_PLUGIN_DIR};
};

TEST_F(SwaTest, TheAverageIsTheMeanOfTheSnapshotsAndContinuesFromACheckpoint) {
  auto a = make_model(1), b = make_model(2), c = make_model(3);
  train::WeightAverage average;
  for (auto* model : {a.get(), b.get(), c.get()}) average.add(*model);
  EXPECT_EQ(average.count(), 3);

  train::WeightAverage first_two;
  first_two.add(*a);
  first_two.add(*b);
  train::WeightAverage continued(first_two.average(), first_two.count());
  const auto before = first_two.average().at("fc.weight").clone();
  continued.add(*c);
  EXPECT_TRUE(tensors_equal(first_two.average().at("fc.weight"), before));  // continuing copies

  const auto pa = a->named_parameters(), pb = b->named_parameters(), pc = c->named_parameters();
  for (const auto& item : pa) {
    const auto expected = (item.value().to(torch::kFloat64) + pb[item.key()].to(torch::kFloat64) +
                           pc[item.key()].to(torch::kFloat64)) / 3.0;
    EXPECT_TRUE(tensors_equal(average.average().at(item.key()), expected, 1e-12, 1e-12)) << item.key();
    EXPECT_TRUE(tensors_equal(continued.average().at(item.key()), expected, 1e-12, 1e-12)) << item.key();
  }
  average.copy_to(*a);
  EXPECT_TRUE(tensors_equal(a->named_parameters()["fc.weight"], average.average().at("fc.weight").to(torch::kFloat32)));
}

// The tensors of quantization-aware training: the average is written back in place, in each
// tensor's own dtype, and a snapshot of a different list is refused rather than misaligned.
TEST_F(SwaTest, TheTensorAverageIsTheMeanOfTheSnapshotsWrittenInPlace) {
  std::vector<torch::Tensor> tensors{torch::zeros({2, 3}), torch::zeros({4}, torch::kFloat64)};
  train::TensorAverage average;
  for (double value : {1.0, 2.0, 6.0}) {
    tensors[0].fill_(value);
    tensors[1].fill_(-value);
    average.add(tensors);
  }
  EXPECT_EQ(average.count(), 3);
  const auto storage = tensors[0].data_ptr();
  average.copy_to(tensors);
  EXPECT_EQ(tensors[0].data_ptr(), storage);
  EXPECT_TRUE(tensors_equal(tensors[0], torch::full({2, 3}, 3.0)));
  EXPECT_TRUE(tensors_equal(tensors[1], torch::full({4}, -3.0, torch::kFloat64)));
  EXPECT_THAT([&] { average.add({tensors[0]}); },
              ::testing::ThrowsMessage<Error>(HasSubstr("snapshot of 1 tensors, the average holds 2")));
}

// A convolution and its BatchNorm: the statistics the pass must find are computable by hand.
struct ConvBnModel : QuantizableModel {
  ConvBnModel() {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3).bias(false)));
    bn = register_module("bn", torch::nn::BatchNorm2d(4));
  }
  torch::Tensor forward(torch::Tensor images) override { return bn->forward(conv->forward(images)); }
  std::vector<ConvBnPair> conv_bn_pairs() const override { return {}; }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
};

TEST(RecomputeBatchNormStatistics, IsThePlainMeanOfTheBatchStatistics) {
  torch::manual_seed(0);
  ConvBnModel model;
  model.eval();
  const auto images = torch::randn({32, 3, 8, 8}) * 2 + 1;
  train::recompute_batchnorm_statistics(model, images, 8, [](const torch::Tensor& batch) { return batch; });

  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> means, variances;
  for (std::int64_t start = 0; start < 32; start += 8) {
    const auto features = model.conv->forward(images.slice(0, start, start + 8));
    means.push_back(features.mean({0, 2, 3}));
    variances.push_back(features.var({0, 2, 3}, /*unbiased=*/true));
  }
  EXPECT_TRUE(tensors_equal(model.bn->running_mean, torch::stack(means).mean(0), 1e-5, 1e-5));
  EXPECT_TRUE(tensors_equal(model.bn->running_var, torch::stack(variances).mean(0), 1e-5, 1e-5));
  EXPECT_EQ(model.bn->options.momentum(), c10::optional<double>(0.1));  // restored for training
  EXPECT_FALSE(model.is_training());                                   // and the mode too
}

// A tiny recipe as an experiment file would write it, with the [swa] phase appended as text.
std::string recipe_text(double lr, const std::string& swa_table) {
  return fmt::format(
             "name = \"swa-test\"\n[model]\nplugin = \"resnet20\"\n[train]\nepochs = 1\nbatch_size = 16\n"
             "eval_batch_size = 32\nseed = 5\n[optimizer]\nlr = {}\n[schedule]\nwarmup_epochs = 0.5\n"
             "[output]\ndir = \"unused\"\n",
             lr) +
         swa_table;
}
const std::string kSwaTable = "[swa]\nepochs = 2\nlr = 0.01\n";

class SwaPhaseTest : public SwaTest {
 protected:
  // Trains `text` from `dir`'s checkpoint (or from scratch) until `stop_after` epochs are done.
  train::Checkpoint train(const std::string& text, const std::filesystem::path& dir, std::int64_t stop_after,
                          bool resume) {
    const auto config = config::load_train_config_text(text, "recipe.toml");
    train::Trainer trainer(config, make_model(5), train_set_, test_set_,
                           train::TrainerOptions().output_dir(dir).stop_after(stop_after));
    if (resume) trainer.resume(train::load_checkpoint(trainer.checkpoint_path()));
    trainer.run();
    return train::load_checkpoint(trainer.checkpoint_path());
  }
  data::Dataset train_set_ = random_dataset(40, 1), test_set_ = random_dataset(16, 2);
};

TEST_F(SwaPhaseTest, AppendedToAFinishedScheduleItAveragesTheIteratesAndResumesExactly) {
  ScratchDir stepwise, straight;
  const auto finished = train(recipe_text(0.05, ""), stepwise.path(), 0, false);
  EXPECT_EQ(finished.epoch, 1);
  EXPECT_TRUE(finished.train_state.empty());

  const auto one = train(recipe_text(0.05, kSwaTable), stepwise.path(), 2, true);
  EXPECT_EQ(one.swa_count, 1);
  const auto two = train(recipe_text(0.05, kSwaTable), stepwise.path(), 0, true);
  EXPECT_EQ(two.epoch, 3);
  EXPECT_EQ(two.swa_count, 2);
  for (const auto& [name, iterate] : two.train_state) {
    if (name.find("running_") != std::string::npos || name.find("num_batches") != std::string::npos) continue;
    const auto mean = (one.train_state.at(name).to(torch::kFloat64) + iterate.to(torch::kFloat64)) / 2.0;
    EXPECT_TRUE(tensors_equal(two.state_dict.at(name).to(torch::kFloat64), mean, 1e-7, 1e-6)) << name;
  }
  // The average's BatchNorm statistics are its own, not the iterate's.
  EXPECT_FALSE(tensors_equal(two.state_dict.at("bn1.running_mean"), two.train_state.at("bn1.running_mean")));
  const auto history = two.history.accessor<double, 2>();
  ASSERT_EQ(two.history.size(0), 3);
  EXPECT_DOUBLE_EQ(history[1][6], 0.01);  // lr column
  EXPECT_DOUBLE_EQ(history[2][6], 0.01);

  const auto uninterrupted = train(recipe_text(0.05, kSwaTable), straight.path(), 0, false);
  for (const auto& [name, tensor] : uninterrupted.state_dict) {
    EXPECT_TRUE(tensors_equal(tensor, two.state_dict.at(name))) << name;
  }
  EXPECT_TRUE(tensors_equal(uninterrupted.history.narrow(1, 0, 7), two.history.narrow(1, 0, 7)));
}

TEST_F(SwaPhaseTest, ResumeRefusesAChangedScheduleOrAChangedPhaseItIsIn) {
  ScratchDir dir;
  train(recipe_text(0.05, kSwaTable), dir.path(), 2, false);
  const auto refusal = [&](const std::string& text) {
    try {
      train(text, dir.path(), 0, true);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("resumed");
  };
  EXPECT_THAT(refusal(recipe_text(0.2, kSwaTable)), HasSubstr("model, data, optimizer, schedule or seed"));
  EXPECT_THAT(refusal(recipe_text(0.05, "[swa]\nepochs = 2\nlr = 0.02\n")), HasSubstr("[swa] phase"));
}

}  // namespace
}  // namespace qx::test
