// LSQ quantization-aware training: what the pass guarantees whatever its options, on the pass
// tests' randomly initialised ResNet20 and a small random training set.
#include <map>
#include <regex>
#include <string>
#include <utility>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "qx/core/error.h"
#include "pass_test.h"

namespace qx::test {
namespace {

using ::testing::HasSubstr;

class LsqTest : public PassTest {
 protected:
  // 64 random images in four batches of 16: enough steps for every option to act.
  static data::Dataset random_training_set() {
    return {torch::randint(0, 256, {64, 3, 32, 32}, torch::kUInt8), torch::randint(0, 10, {64}, torch::kInt64)};
  }

  // LSQ on a small training set: steps learned, weights back on their grid, hooks restored.
  void lsq_check(double distill, double mixup = 0.0);

  // What one LSQ run trains, by name: every weight and its steps, every activation step; and the
  // pass's report. Each run starts from the model as it was at the first call (folding and
  // training change it in place), so runs that differ only in options can be compared.
  struct LsqRun {
    std::map<std::string, torch::Tensor> trained;
    std::string report;
  };
  LsqRun run_lsq_from_start(const std::map<std::string, Options::Value>& options, const data::Dataset& train) {
    if (start_.empty()) {
      for (const auto& item : model_->named_parameters()) start_[item.key()] = item.value().detach().clone();
      for (const auto& item : model_->named_buffers()) start_[item.key()] = item.value().clone();
    }
    {
      torch::NoGradGuard no_grad;
      for (auto& item : model_->named_parameters()) item.value().copy_(start_.at(item.key()));
      for (auto& item : model_->named_buffers()) item.value().copy_(start_.at(item.key()));
    }
    sim::QuantSim sim(*model_, host_, cell(4, 4, {"lsq"}, options));
    sim.calibrate(calibration_);
    sim.quantize_weights();
    sim.quantize_activations();
    const auto runs = passes::run_passes(sim, host_, passes::PassStage::kQuantizedModel, calibration_, &train);
    LsqRun run{{}, runs.at(0).report};
    for (auto& site : sim.weight_sites()) {
      expect_on_grid(site);
      run.trained[site.name + ".weight"] = site.weight.clone();
      run.trained[site.name + ".step"] = site.qparams.scale.clone();
    }
    for (auto& site : sim.activation_sites()) {
      EXPECT_TRUE(site->point->has_hook()) << site->name;
      run.trained[site->name + ".step"] = site->qparams.scale.clone();
    }
    return run;
  }

 private:
  std::map<std::string, torch::Tensor> start_;
};

void LsqTest::lsq_check(double distill, double mixup) {
  if (distill > 0) {
    // The fixture's randomised BatchNorm statistics give logits in the millions, where softmax
    // saturates to one-hot for float and quantized model alike and the divergence has no
    // gradient; a smaller classifier brings the logits to where distillation has something to do.
    torch::NoGradGuard no_grad;
    for (auto& p : model_->named_parameters()) {
      if (p.key().rfind("fc.", 0) == 0) p.value().mul_(1e-8);
    }
  }
  const auto train = random_training_set();
  auto spec = cell(4, 4, {"lsq"},
                   {{"epochs", std::int64_t{1}}, {"batch_size", std::int64_t{16}}, {"curve_every", std::int64_t{2}},
                    {"distill", distill}, {"mixup", mixup}});
  sim::QuantSim sim(*model_, host_, spec);
  sim.calibrate(calibration_);
  sim.quantize_weights();
  sim.quantize_activations();
  const auto step_before = sim.weight_site("conv1").qparams.scale.clone();
  std::map<std::string, nn::ActivationHook*> hooks_before;
  for (auto& site : sim.activation_sites()) hooks_before[site->name] = site->point->hook().get();
  const auto runs = passes::run_passes(sim, host_, passes::PassStage::kQuantizedModel, calibration_, &train);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_THAT(runs[0].report, HasSubstr("\"curve\":[{\"step\":2"));
  EXPECT_FALSE(torch::equal(sim.weight_site("conv1").qparams.scale, step_before));
  for (auto& site : sim.weight_sites()) expect_on_grid(site);
  // Training and distillation's float forward passes leave the simulation as they found it: its
  // own fake-quant hook at every activation point again, and each learned step a plain scalar.
  for (auto& site : sim.activation_sites()) {
    EXPECT_EQ(site->point->hook().get(), hooks_before[site->name]) << site->name;
    EXPECT_FALSE(site->qparams.scale.requires_grad()) << site->name;
    EXPECT_EQ(site->qparams.scale.dim(), 0) << site->name;
  }
}

TEST_F(LsqTest, TrainsStepsAndLeavesTheEvaluationArithmetic) { lsq_check(0.0); }

// Distillation's float forward passes (FloatScope, float weights substituted) inside training.
TEST_F(LsqTest, WithDistillationTrainsStepsAndLeavesTheEvaluationArithmetic) { lsq_check(1.0); }

// Mixup with both losses: the teacher's divergence and the two labels' cross-entropies.
TEST_F(LsqTest, WithMixupTrainsStepsAndLeavesTheEvaluationArithmetic) { lsq_check(0.5, 0.4); }

// The steps have their own learning rate: at zero they stay exactly where PTQ put them while
// the weights still train.
TEST_F(LsqTest, StepLearningRateScalesOnlyTheSteps) {
  const auto train = random_training_set();
  auto spec = cell(4, 4, {"lsq"}, {{"epochs", std::int64_t{1}}, {"batch_size", std::int64_t{16}}, {"step_lr_scale", 0.0}});
  sim::QuantSim sim(*model_, host_, spec);
  sim.calibrate(calibration_);
  sim.quantize_weights();
  sim.quantize_activations();
  std::map<std::string, torch::Tensor> steps_before, weights_before;
  for (auto& site : sim.weight_sites()) {
    steps_before[site.name] = site.qparams.scale.clone();
    weights_before[site.name] = site.weight.clone();
  }
  for (auto& site : sim.activation_sites()) steps_before[site->name] = site->qparams.scale.clone();
  passes::run_passes(sim, host_, passes::PassStage::kQuantizedModel, calibration_, &train);
  bool weights_moved = false;
  for (auto& site : sim.weight_sites()) {
    EXPECT_TRUE(torch::equal(site.qparams.scale, steps_before[site.name])) << site.name;
    weights_moved = weights_moved || !torch::equal(site.weight, weights_before[site.name]);
  }
  for (auto& site : sim.activation_sites()) {
    EXPECT_TRUE(torch::equal(site->qparams.scale.reshape({-1}), steps_before[site->name].reshape({-1}))) << site->name;
  }
  EXPECT_TRUE(weights_moved);
}

// With weight_optimizer "adam" each latent weight lives in units of its channel's step, so a few
// small Adam updates move every weight by a fraction of its own step, at most one grid level after
// re-rounding, even in channels whose folded weights are orders of magnitude smaller than their
// neighbours' (the fixture's BatchNorm scales are exp(normal)). The same Adam in float units
// would move those channels by many of their steps.
TEST_F(LsqTest, AdamMovesEveryWeightByAtMostOneOfItsOwnSteps) {
  const auto train = random_training_set();
  auto spec = cell(4, 4, {"lsq"},
                   {{"epochs", std::int64_t{1}}, {"batch_size", std::int64_t{16}}, {"step_lr_scale", 0.0},
                    {"weight_optimizer", std::string("adam")}, {"adam_lr", 0.01}});
  sim::QuantSim sim(*model_, host_, spec);
  sim.calibrate(calibration_);
  sim.quantize_weights();
  sim.quantize_activations();
  std::map<std::string, torch::Tensor> before;
  for (auto& site : sim.weight_sites()) before[site.name] = site.weight.clone();
  passes::run_passes(sim, host_, passes::PassStage::kQuantizedModel, calibration_, &train);
  double moved = 0;
  for (auto& site : sim.weight_sites()) {
    expect_on_grid(site);
    std::vector<std::int64_t> shape(site.weight.dim(), 1);
    shape[site.qparams.axis] = -1;
    const auto levels = ((site.weight - before[site.name]) / site.qparams.scale.reshape(shape)).abs();
    EXPECT_LE(levels.max().item<double>(), 1.0 + 1e-3) << site.name;
    moved += levels.gt(0.5).sum().item<double>();
  }
  EXPECT_GT(moved, 0);
}

// Weight averaging: each step of the averaging epochs adds one snapshot. At a rate of zero the
// extra epochs move nothing and the cosine schedule is the plain one, so the average of the
// identical snapshots must give back exactly the model the plain run trains; at a positive rate
// it differs.
TEST_F(LsqTest, AveragingAtRateZeroGivesBackThePlainRunAndAtARateAveragesItsSnapshots) {
  const auto train = random_training_set();
  auto run_lsq = [&](std::map<std::string, Options::Value> extra) {
    extra.insert({{"epochs", std::int64_t{1}}, {"batch_size", std::int64_t{16}}, {"step_lr_scale", 10.0},
                  {"weight_optimizer", std::string("adam")}, {"adam_lr", 0.01}});
    const auto run = run_lsq_from_start(extra, train);
    std::smatch snapshots;
    EXPECT_TRUE(std::regex_search(run.report, snapshots, std::regex("\"averaged_snapshots\":(\\d+)")));
    return std::make_pair(run.trained, std::stoll(snapshots[1]));
  };
  const auto [plain, plain_snapshots] = run_lsq({});
  const auto [frozen, frozen_snapshots] = run_lsq({{"average_epochs", std::int64_t{2}}, {"average_rate", 0.0}});
  const auto [averaged, averaged_snapshots] = run_lsq({{"average_epochs", std::int64_t{2}}, {"average_rate", 0.5}});
  EXPECT_EQ(plain_snapshots, 0);
  EXPECT_EQ(frozen_snapshots, 8);  // 2 epochs x 64 images / 16 per batch
  EXPECT_EQ(averaged_snapshots, 8);
  bool differs = false;
  for (const auto& [name, value] : plain) {
    EXPECT_TRUE(torch::equal(frozen.at(name), value)) << name;
    differs = differs || !torch::equal(averaged.at(name), value);
  }
  EXPECT_TRUE(differs);
}

// The flip-averaged teacher: training from the same start, order and seed ends elsewhere than
// with the one-view teacher (the fixture's random images are not mirror-symmetric, so the two
// teachers' targets differ), and it still leaves the evaluation arithmetic as lsq_check demands.
TEST_F(LsqTest, WithAFlipAveragedTeacherLearnsFromOtherTargetsThanTheOneViewTeacher) {
  {
    // As in lsq_check, a smaller classifier, here to logits of order one: the two teachers then
    // differ by more than float rounding.
    torch::NoGradGuard no_grad;
    for (auto& p : model_->named_parameters()) {
      if (p.key().rfind("fc.", 0) == 0) p.value().mul_(1e-5);
    }
  }
  const auto train = random_training_set();
  auto trained = [&](bool teacher_flip) {
    return run_lsq_from_start({{"epochs", std::int64_t{1}}, {"batch_size", std::int64_t{16}}, {"distill", 1.0},
                               {"teacher_flip", teacher_flip}, {"weight_optimizer", std::string("adam")},
                               {"adam_lr", 0.01}},
                              train)
        .trained;
  };
  const auto one_view = trained(false);
  const auto again = trained(false);  // the run is repeatable, so a difference is the teacher's
  for (const auto& [name, value] : one_view) EXPECT_TRUE(torch::equal(again.at(name), value)) << name;
  const auto flip = trained(true);
  bool differs = false;
  for (const auto& [name, weight] : one_view) differs = differs || !torch::equal(flip.at(name), weight);
  EXPECT_TRUE(differs);
}

TEST_F(LsqTest, RefusesAnUnknownWeightOptimizerAtItsPlaceInTheFile) {
  Options options("pass 'lsq'");
  options.set("weight_optimizer", std::string("rmsprop"), "qat.toml:7:1");
  EXPECT_THAT([&] { host_.create_pass("lsq", options); },
              ::testing::ThrowsMessage<Error>(HasSubstr(
                  "qat.toml:7:1: option 'weight_optimizer' of pass 'lsq' must be one of sgd, adam, got 'rmsprop'")));
}

TEST_F(LsqTest, RefusesAFlipTeacherWithoutDistillationAtItsPlaceInTheFile) {
  Options options("pass 'lsq'");
  options.set("teacher_flip", true, "qat.toml:9:16");
  EXPECT_THAT([&] { host_.create_pass("lsq", options); },
              ::testing::ThrowsMessage<Error>(HasSubstr("qat.toml:9:16: option 'teacher_flip' of pass 'lsq' needs "
                                                        "distill > 0")));
  options.set("distill", 0.5);
  EXPECT_NO_THROW(host_.create_pass("lsq", options));
}

}  // namespace
}  // namespace qx::test
