// Optimizer, schedule, checkpoints and exact resume.
#include <cstdlib>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "qx/core/error.h"
#include "qx/host/plugin_host.h"
#include "qx/train/checkpoint.h"
#include "qx/train/schedule.h"
#include "qx/train/sgd.h"
#include "qx/train/trainer.h"
#include "support.h"

namespace qx::test {
namespace {

using ::testing::HasSubstr;

std::vector<std::pair<std::string, torch::Tensor>> named(torch::nn::Module& model) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (auto& item : model.named_parameters()) out.emplace_back(item.key(), item.value());
  return out;
}

TEST(Sgd, MatchesTheTorchOptimUpdate) {
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  auto w = torch::tensor({{1.0, -2.0}}, f64).requires_grad_();
  auto b = torch::tensor({0.5}, f64).requires_grad_();
  train::Sgd sgd({{"w", w}, {"b", b}}, train::SgdOptions().lr(0.1).momentum(0.9).nesterov(true).weight_decay(0.01));
  auto step = [&](double gw0, double gw1, double gb) {
    w.mutable_grad() = torch::tensor({{gw0, gw1}}, f64);
    b.mutable_grad() = torch::tensor({gb}, f64);
    sgd.step();
  };
  // Reference values from torch.optim.SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
  // with weight decay only on w; worked by hand: g = grad + wd*w, buf = g (first step),
  // update = g + 0.9*buf.
  step(1.0, 1.0, 1.0);
  EXPECT_NEAR(w[0][0].item<double>(), 1.0 - 0.1 * 1.9 * 1.01, 1e-12);
  EXPECT_NEAR(w[0][1].item<double>(), -2.0 - 0.1 * 1.9 * 0.98, 1e-12);
  EXPECT_NEAR(b[0].item<double>(), 0.5 - 0.1 * 1.9, 1e-12);  // no decay on rank-1 tensors
  // Second step: buf = 0.9*buf + g.
  step(0.0, 0.0, 1.0);
  const double buf_b = 0.9 * 1.0 + 1.0;
  EXPECT_NEAR(b[0].item<double>(), 0.5 - 0.1 * 1.9 - 0.1 * (1.0 + 0.9 * buf_b), 1e-12);
}

TEST(LrSchedule, WarmupThenCosineToZero) {
  config::ScheduleConfig config;
  config.warmup_epochs = 1.0;
  train::LrSchedule schedule(config, 0.1, 10, 100);
  EXPECT_NEAR(schedule.at(0), 0.001, 1e-12);
  EXPECT_NEAR(schedule.at(99), 0.1, 1e-12);
  EXPECT_NEAR(schedule.at(100), 0.1, 1e-12);
  EXPECT_NEAR(schedule.at(550), 0.05, 1e-12);
  EXPECT_NEAR(schedule.at(1000), 0.0, 1e-12);
}

TEST(LrSchedule, Multistep) {
  config::ScheduleConfig config;
  config.kind = "multistep";
  config.warmup_epochs = 0;
  config.milestones = {2, 4};
  train::LrSchedule schedule(config, 0.1, 6, 10);
  EXPECT_NEAR(schedule.at(19), 0.1, 1e-12);
  EXPECT_NEAR(schedule.at(20), 0.01, 1e-12);
  EXPECT_NEAR(schedule.at(45), 0.001, 1e-12);
}

class TrainingTest : public SeededTest {
 protected:
  std::shared_ptr<QuantizableModel> make_model() {
    torch::manual_seed(1);
    return host_.create_model("resnet20", Options());
  }
  PluginHost host_{QX_PLUGIN_DIR};
};

TEST_F(TrainingTest, OneStepLowersTheLossOnAFixedBatch) {
  auto model = make_model();
  model->train();
  auto images = torch::randn({32, 3, 32, 32});
  auto labels = torch::randint(0, 10, {32});
  train::Sgd sgd(named(*model), train::SgdOptions().lr(0.05));
  auto loss_before = torch::nn::functional::cross_entropy(model->forward(images), labels);
  loss_before.backward();
  sgd.step();
  auto loss_after = torch::nn::functional::cross_entropy(model->forward(images), labels);
  EXPECT_LT(loss_after.item<double>(), loss_before.item<double>());
}

TEST_F(TrainingTest, CheckpointRoundTrip) {
  ScratchDir dir;
  auto model = make_model();
  train::Checkpoint saved;
  saved.model = "resnet20";
  saved.model_options = {{"num_classes", std::int64_t{10}}};
  saved.state_dict = train::model_state(*model);
  saved.optimizer = {{"fc.weight", torch::randn({10, 64})}};
  saved.epoch = 7;
  saved.seed = 42;
  saved.run_uid = "abc";
  saved.config = "name = \"x\"\n";
  saved.history = torch::rand({7, 10}, torch::kFloat64);
  train::save_checkpoint(saved, dir / "c.pt");
  EXPECT_FALSE(std::filesystem::exists(dir / "c.pt.partial"));

  const auto loaded = train::load_checkpoint(dir / "c.pt");
  EXPECT_EQ(loaded.model, "resnet20");
  EXPECT_EQ(std::get<std::int64_t>(loaded.model_options.at("num_classes")), 10);
  EXPECT_EQ(loaded.epoch, 7);
  EXPECT_EQ(loaded.seed, 42);
  EXPECT_EQ(loaded.run_uid, "abc");
  EXPECT_EQ(loaded.config, saved.config);
  EXPECT_TRUE(tensors_equal(loaded.history, saved.history));
  EXPECT_TRUE(tensors_equal(loaded.optimizer.at("fc.weight"), saved.optimizer.at("fc.weight")));
  ASSERT_EQ(loaded.state_dict.size(), saved.state_dict.size());

  torch::manual_seed(99);
  auto other = host_.create_model("resnet20", Options());
  train::load_model_state(*other, loaded.state_dict, "test");
  for (const auto& [name, tensor] : train::model_state(*other)) {
    EXPECT_TRUE(tensors_equal(tensor, saved.state_dict.at(name))) << name;
  }
}

TEST_F(TrainingTest, BadCheckpointsAreOneLineErrors) {
  ScratchDir dir;
  try {
    train::load_checkpoint(dir / "missing.pt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("no such file"));
  }
  std::ofstream(dir / "garbage.pt") << "definitely not a pickle";
  try {
    train::load_checkpoint(dir / "garbage.pt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("not a readable checkpoint"));
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
}

TEST_F(TrainingTest, LoadingAWrongShapeNamesTheTensor) {
  auto model = make_model();
  auto state = train::model_state(*model);
  state["fc.weight"] = torch::zeros({5, 64});
  try {
    train::load_model_state(*model, state, "ckpt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("tensor 'fc.weight' has shape [5, 64], the model expects [10, 64]"));
  }
}

config::TrainConfig tiny_recipe(const std::filesystem::path& out) {
  config::TrainConfig config;
  config.source_text = "tiny recipe";
  config.model.plugin = "resnet20";
  config.epochs = 3;
  config.batch_size = 16;
  config.eval_batch_size = 32;
  config.seed = 5;
  config.schedule.warmup_epochs = 1.0;
  config.output_dir = out.string();
  return config;
}

// Runs the tiny recipe, optionally stopping after `stop_after` epochs and finishing in a fresh
// trainer and model resumed from the checkpoint, and returns the final weights.
std::map<std::string, torch::Tensor> run_tiny(PluginHost& host, const std::filesystem::path& out,
                                              std::int64_t stop_after) {
  const auto config = tiny_recipe(out);
  const auto train_set = random_dataset(40, 1), test_set = random_dataset(16, 2);
  auto fresh_trainer = [&](std::int64_t stop) {
    torch::manual_seed(static_cast<std::uint64_t>(config.seed));
    return std::make_unique<train::Trainer>(config, host.create_model("resnet20", Options()), train_set, test_set,
                                            train::TrainerOptions().output_dir(out).stop_after(stop));
  };
  auto first = fresh_trainer(stop_after);
  first->run();
  if (stop_after > 0) {
    EXPECT_EQ(first->completed_epochs(), stop_after);
    auto second = fresh_trainer(0);
    second->resume(train::load_checkpoint(second->checkpoint_path()));
    second->run();
    EXPECT_EQ(second->history().size(), 3u);
  }
  return train::load_checkpoint(out / "checkpoint.pt").state_dict;
}

TEST_F(TrainingTest, ResumeGivesTheSameWeightsAsAnUninterruptedRun) {
  ScratchDir straight, interrupted;
  const auto expected = run_tiny(host_, straight.path(), 0);
  const auto resumed = run_tiny(host_, interrupted.path(), 1);
  ASSERT_EQ(expected.size(), resumed.size());
  for (const auto& [name, tensor] : expected) EXPECT_TRUE(tensors_equal(tensor, resumed.at(name))) << name;
  EXPECT_TRUE(std::filesystem::exists(interrupted / "history.csv"));
}

TEST_F(TrainingTest, ResumeRefusesAChangedRecipe) {
  ScratchDir dir;
  const auto config = tiny_recipe(dir.path());
  const auto data = random_dataset(16, 1);
  train::Checkpoint checkpoint;
  checkpoint.model = "resnet20";
  checkpoint.config = "another recipe";
  train::Trainer trainer(config, make_model(), data, data, train::TrainerOptions().output_dir(dir.path()));
  try {
    trainer.resume(checkpoint);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("differs from the recipe"));
  }
}

// The checkpoint is readable by Python's plain torch.load, and the Python twin of the model
// (tools/qxref.py) computes the same logits from it.
TEST_F(TrainingTest, PythonReadsTheCheckpointAndAgreesOnLogits) {
  if (!python_torch_available()) {
    GTEST_SKIP() << "Python PyTorch (python3-torch) is not installed";
  }
  ScratchDir dir;
  auto model = make_model();
  // Move BatchNorm away from identity so the comparison covers the running statistics.
  {
    torch::NoGradGuard no_grad;
    for (auto& buffer : model->buffers()) {
      if (buffer.is_floating_point()) buffer.uniform_(0.5, 1.5);
    }
  }
  model->eval();
  train::Checkpoint checkpoint;
  checkpoint.model = "resnet20";
  checkpoint.state_dict = train::model_state(*model);
  train::save_checkpoint(checkpoint, dir / "c.pt");
  auto input = torch::randn({4, 3, 32, 32});
  auto logits = model->forward(input);
  save_for_python(dir / "io.pt", {{"input", input}, {"logits", logits}});
  EXPECT_EQ(run_python(fmt::format(
                "import sys, torch; sys.path.insert(0, '{}/tools'); from qxref import load_qx_checkpoint; "
                "m, _ = load_qx_checkpoint('{}'); io = torch.load('{}'); "
                "d = (m(io['input']) - io['logits']).abs().max().item(); print(d); sys.exit(0 if d < 1e-4 else 1)",
                QX_SOURCE_DIR, (dir / "c.pt").string(), (dir / "io.pt").string())),
            0);
}

}  // namespace
}  // namespace qx::test
