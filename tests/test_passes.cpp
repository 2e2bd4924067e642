// Passes: what each one guarantees, on a randomly initialised ResNet20 and random images.
#include <regex>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "qx/core/error.h"
#include "qx/plugin/host.h"
#include "qx/sim/capture.h"
#include "qx/sim/quant_sim.h"
#include "support.h"

namespace qx::test {
namespace {

using ::testing::HasSubstr;

Options options_of(const std::string& owner, std::map<std::string, Options::Value> values = {}) {
  Options options(owner);
  for (auto& [key, value] : values) options.set(key, value);
  return options;
}

class PassTest : public SeededTest {
 protected:
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
    const auto runs = sim.run_passes(passes::PassStage::kQuantizedModel, calibration_, &train);
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
  std::map<std::string, torch::Tensor> start_;
  void SetUp() override {
    SeededTest::SetUp();
    model_ = host_.create_model("resnet20", Options("model 'resnet20'"));
    randomize_batchnorm_statistics(*model_);
    // Channels of very different scale, the situation equalization is for.
    for (auto& parameter : model_->named_parameters()) {
      if (parameter.key().find("bn") != std::string::npos && parameter.key().find("weight") != std::string::npos) {
        torch::NoGradGuard no_grad;
        parameter.value().copy_(torch::exp(torch::randn_like(parameter.value())));
      }
    }
    model_->eval();
    calibration_ = {torch::randn({16, 3, 32, 32}), torch::randn({16, 3, 32, 32})};
  }

  sim::CellSpec cell(int weight_bits, int activation_bits, std::vector<std::string> passes,
                     std::map<std::string, Options::Value> pass_options = {}) const {
    sim::CellSpec c;
    c.observer = {"minmax", Options("observer 'minmax'")};
    c.weight_observer = {"minmax", Options("observer 'minmax'")};
    c.quantizer = {"per_channel", Options("quantizer 'per_channel'")};
    c.weight_bits = weight_bits;
    c.activation_bits = activation_bits;
    for (const auto& name : passes) c.passes.push_back({name, options_of("pass '" + name + "'", pass_options)});
    return c;
  }

  torch::Tensor run() {
    torch::NoGradGuard no_grad;
    return model_->forward(calibration_[0]);
  }

  // Calibrates, quantizes and runs the quantized-model passes.
  void simulate(sim::QuantSim& sim) {
    sim.run_passes(passes::PassStage::kFloatModel, calibration_);
    sim.calibrate(calibration_);
    sim.quantize_weights();
    sim.quantize_activations();
    sim.run_passes(passes::PassStage::kQuantizedModel, calibration_);
  }

  static void expect_on_grid(const sim::WeightSite& site) {
    EXPECT_TRUE(tensors_equal(quant::fake_quantize(site.weight.detach(), site.qparams), site.weight.detach()))
        << site.name;
  }

  PluginHost host_{QX_PLUGIN_DIR};
  std::shared_ptr<QuantizableModel> model_;
  std::vector<torch::Tensor> calibration_;
};

// Sums error_nearest and error_learned over the units of a reconstruction report.
std::pair<double, double> summed_errors(const std::string& report) {
  const std::regex unit(R"("error_nearest":([-0-9.e+]+),"error_learned":([-0-9.e+]+))");
  double nearest = 0, learned = 0;
  for (std::sregex_iterator it(report.begin(), report.end(), unit), end; it != end; ++it) {
    nearest += std::stod((*it)[1]);
    learned += std::stod((*it)[2]);
  }
  return {nearest, learned};
}

TEST_F(PassTest, CrossLayerEqualizationKeepsTheFunctionAndEqualizesRanges) {
  sim::QuantSim sim(*model_, host_, cell(8, 8, {"cle"}));  // folds BatchNorm
  const auto folded = run();
  sim.run_passes(passes::PassStage::kFloatModel, calibration_);
  EXPECT_TRUE(tensors_equal(run(), folded, 1e-4, 1e-4));
  auto modules = model_->named_modules("", false);
  for (const auto& pair : model_->equalization_pairs()) {
    const auto first = modules[pair.first]->as<torch::nn::Conv2d>()->weight.abs().amax({1, 2, 3});
    const auto second = modules[pair.second]->as<torch::nn::Conv2d>()->weight.abs().amax({0, 2, 3});
    EXPECT_TRUE(tensors_equal(first, second, 1e-6, 1e-4)) << pair.first;
  }
}

TEST_F(PassTest, BiasCorrectionRestoresTheFloatChannelMeans) {
  sim::QuantSim sim(*model_, host_, cell(3, 8, {"bias_correction"}));
  simulate(sim);
  // After the first layer and its (folded) BatchNorm, per channel, over the calibration images.
  auto first_layer_means = [&] {
    auto& input = sim.input_site("conv1");
    const auto x = sim::capture_point(*model_, *input.point, calibration_);
    auto modules = model_->named_modules("", false);
    torch::NoGradGuard no_grad;
    return modules["bn1"]->as<torch::nn::BatchNorm2d>()->forward(
        modules["conv1"]->as<torch::nn::Conv2d>()->forward(x)).mean({0, 2, 3});
  };
  const auto simulated = first_layer_means();
  torch::Tensor reference;
  {
    sim::QuantSim::FloatScope float_model(sim);
    reference = first_layer_means();
  }
  EXPECT_TRUE(tensors_equal(simulated, reference, 1e-4, 1e-4));
}

TEST_F(PassTest, AdaRoundRoundsEachWeightDownOrUpOnTheQuantizerGrid) {
  sim::QuantSim sim(*model_, host_, cell(3, 8, {"adaround"}, {{"iterations", std::int64_t{60}}, {"batch_size", std::int64_t{8}}}));
  sim.calibrate(calibration_);
  sim.quantize_weights();
  sim.quantize_activations();
  const auto runs = sim.run_passes(passes::PassStage::kQuantizedModel, calibration_);
  ASSERT_EQ(runs.size(), 1u);
  const auto [nearest, learned] = summed_errors(runs[0].report);
  EXPECT_LT(learned, nearest);
  for (auto& site : sim.weight_sites()) {
    expect_on_grid(site);
    std::vector<std::int64_t> shape(static_cast<std::size_t>(site.weight.dim()), 1);
    shape[0] = -1;
    const auto scale = site.qparams.scale.reshape(shape);
    const auto distance = (site.weight.detach() / scale - sim.float_weight(site.name) / scale).abs();
    EXPECT_LE(distance.max().item<double>(), 1.0 + 1e-3) << site.name << ": moved more than one grid step";
  }
}

TEST_F(PassTest, AUnitThatLearnsWorseThanNearestRoundingKeepsNearestRounding) {
  // Two wild steps: the hardened rounding is close to random, worse than nearest for most layers.
  sim::QuantSim sim(*model_, host_, cell(3, 8, {"adaround"}, {{"iterations", std::int64_t{2}},
                                                              {"rounding_lr", 10.0}, {"warmup", 0.0}}));
  sim.calibrate(calibration_);
  sim.quantize_weights();
  sim.quantize_activations();
  std::map<std::string, torch::Tensor> nearest;
  for (auto& site : sim.weight_sites()) nearest[site.name] = site.weight.detach().clone();
  const auto runs = sim.run_passes(passes::PassStage::kQuantizedModel, calibration_);
  const std::regex unit(R"re("unit":"([^"]+)","error_nearest":[-0-9.e+]+,"error_learned":[-0-9.e+]+,"kept":"(\w+)")re");
  int kept_nearest = 0;
  for (std::sregex_iterator it(runs[0].report.begin(), runs[0].report.end(), unit), end; it != end; ++it) {
    if ((*it)[2] != "nearest") continue;
    ++kept_nearest;
    EXPECT_TRUE(tensors_equal(sim.weight_site((*it)[1]).weight.detach(), nearest[(*it)[1]])) << (*it)[1];
  }
  EXPECT_GT(kept_nearest, 0);
}

TEST_F(PassTest, BlockReconstructionLearnsActivationStepsAndLowersTheBlockError) {
  auto spec = cell(3, 4, {"brecq"}, {{"iterations", std::int64_t{60}}, {"batch_size", std::int64_t{8}}});
  sim::QuantSim sim(*model_, host_, spec);
  sim.run_passes(passes::PassStage::kFloatModel, calibration_);
  sim.calibrate(calibration_);
  sim.quantize_weights();
  sim.quantize_activations();
  std::map<std::string, float> before;
  for (auto& site : sim.activation_sites()) before[site->name] = site->qparams.scale.item<float>();
  const auto runs = sim.run_passes(passes::PassStage::kQuantizedModel, calibration_);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_THAT(runs[0].report, HasSubstr("\"unit\":\"layer1.0\""));
  int moved = 0;
  for (auto& site : sim.activation_sites()) {
    EXPECT_FALSE(site->learn_scale);
    EXPECT_EQ(site->qparams.scale.dim(), 0) << site->name;
    EXPECT_GT(site->qparams.scale.item<float>(), 0.0f);
    moved += site->qparams.scale.item<float>() != before[site->name];
  }
  EXPECT_GT(moved, 0);
  for (auto& site : sim.weight_sites()) expect_on_grid(site);
  const auto [nearest, learned] = summed_errors(runs[0].report);
  EXPECT_GT(nearest, 0.0);
  EXPECT_LT(learned, nearest);
}

TEST_F(PassTest, ADivergingReconstructionNamesThePassAndTheUnit) {
  sim::QuantSim sim(*model_, host_, cell(4, 8, {"adaround"}, {{"iterations", std::int64_t{5}}}));
  sim.calibrate(calibration_);
  sim.quantize_weights();
  sim.quantize_activations();
  {
    // Behind the last activation point, where no fake-quant turns it into a number again.
    torch::NoGradGuard no_grad;
    model_->named_parameters()["fc.bias"].fill_(std::numeric_limits<float>::quiet_NaN());
  }
  try {
    sim.run_passes(passes::PassStage::kQuantizedModel, calibration_);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("pass 'adaround'"));
    EXPECT_THAT(e.what(), HasSubstr("unit 'fc'"));
    EXPECT_THAT(e.what(), HasSubstr("nan"));
  }
}

void PassTest::lsq_check(double distill, double mixup) {
  if (distill > 0) {
    // The fixture's randomised BatchNorm statistics give logits in the millions, where softmax
    // saturates to one-hot for float and quantized model alike and the divergence has no
    // gradient; a smaller classifier brings the logits to where distillation has something to do.
    torch::NoGradGuard no_grad;
    for (auto& p : model_->named_parameters()) {
      if (p.key().rfind("fc.", 0) == 0) p.value().mul_(1e-8);
    }
  }
  data::Dataset train{torch::randint(0, 256, {64, 3, 32, 32}, torch::kUInt8), torch::randint(0, 10, {64}, torch::kInt64)};
  auto spec = cell(4, 4, {"lsq"},
                   {{"epochs", std::int64_t{1}}, {"batch_size", std::int64_t{16}}, {"curve_every", std::int64_t{2}},
                    {"distill", distill}, {"mixup", mixup}});
  sim::QuantSim sim(*model_, host_, spec);
  sim.calibrate(calibration_);
  sim.quantize_weights();
  sim.quantize_activations();
  const auto step_before = sim.weight_site("conv1").qparams.scale.clone();
  const auto runs = sim.run_passes(passes::PassStage::kQuantizedModel, calibration_, &train);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_THAT(runs[0].report, HasSubstr("\"curve\":[{\"step\":2"));
  EXPECT_FALSE(torch::equal(sim.weight_site("conv1").qparams.scale, step_before));
  for (auto& site : sim.weight_sites()) expect_on_grid(site);
  for (auto& site : sim.activation_sites()) EXPECT_FALSE(site->learn_scale);
  // Distillation's float forward passes leave the simulation as they found it: fake-quant at
  // every activation point again.
  for (auto& site : sim.activation_sites()) EXPECT_TRUE(site->point->has_hook()) << site->name;
}

TEST_F(PassTest, LsqTrainsStepsAndLeavesTheEvaluationArithmetic) { lsq_check(0.0); }

// Distillation's float forward passes (FloatScope, float weights substituted) inside training.
TEST_F(PassTest, LsqWithDistillationTrainsStepsAndLeavesTheEvaluationArithmetic) { lsq_check(1.0); }

// Mixup with both losses: the teacher's divergence and the two labels' cross-entropies.
TEST_F(PassTest, LsqWithMixupTrainsStepsAndLeavesTheEvaluationArithmetic) { lsq_check(0.5, 0.4); }

// The steps have their own learning rate: at zero they stay exactly where PTQ put them while
// the weights still train.
TEST_F(PassTest, LsqStepLearningRateScalesOnlyTheSteps) {
  data::Dataset train{torch::randint(0, 256, {64, 3, 32, 32}, torch::kUInt8), torch::randint(0, 10, {64}, torch::kInt64)};
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
  sim.run_passes(passes::PassStage::kQuantizedModel, calibration_, &train);
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
TEST_F(PassTest, LsqAdamMovesEveryWeightByAtMostOneOfItsOwnSteps) {
  data::Dataset train{torch::randint(0, 256, {64, 3, 32, 32}, torch::kUInt8), torch::randint(0, 10, {64}, torch::kInt64)};
  auto spec = cell(4, 4, {"lsq"},
                   {{"epochs", std::int64_t{1}}, {"batch_size", std::int64_t{16}}, {"step_lr_scale", 0.0},
                    {"weight_optimizer", std::string("adam")}, {"adam_lr", 0.01}});
  sim::QuantSim sim(*model_, host_, spec);
  sim.calibrate(calibration_);
  sim.quantize_weights();
  sim.quantize_activations();
  std::map<std::string, torch::Tensor> before;
  for (auto& site : sim.weight_sites()) before[site.name] = site.weight.clone();
  sim.run_passes(passes::PassStage::kQuantizedModel, calibration_, &train);
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
TEST_F(PassTest, LsqAveragingAtRateZeroGivesBackThePlainRunAndAtARateAveragesItsSnapshots) {
  data::Dataset train{torch::randint(0, 256, {64, 3, 32, 32}, torch::kUInt8), torch::randint(0, 10, {64}, torch::kInt64)};
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
TEST_F(PassTest, LsqWithAFlipAveragedTeacherLearnsFromOtherTargetsThanTheOneViewTeacher) {
  {
    // As in lsq_check, a smaller classifier, here to logits of order one: the two teachers then
    // differ by more than float rounding.
    torch::NoGradGuard no_grad;
    for (auto& p : model_->named_parameters()) {
      if (p.key().rfind("fc.", 0) == 0) p.value().mul_(1e-5);
    }
  }
  data::Dataset train{torch::randint(0, 256, {64, 3, 32, 32}, torch::kUInt8), torch::randint(0, 10, {64}, torch::kInt64)};
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

TEST_F(PassTest, LsqRefusesAnUnknownWeightOptimizerAtItsPlaceInTheFile) {
  Options options("pass 'lsq'");
  options.set("weight_optimizer", std::string("rmsprop"), "qat.toml:7:1");
  EXPECT_THAT([&] { host_.create_pass("lsq", options); },
              ::testing::ThrowsMessage<Error>(HasSubstr(
                  "qat.toml:7:1: option 'weight_optimizer' of pass 'lsq' must be one of sgd, adam, got 'rmsprop'")));
}

TEST_F(PassTest, LsqRefusesAFlipTeacherWithoutDistillationAtItsPlaceInTheFile) {
  Options options("pass 'lsq'");
  options.set("teacher_flip", true, "qat.toml:9:16");
  EXPECT_THAT([&] { host_.create_pass("lsq", options); },
              ::testing::ThrowsMessage<Error>(HasSubstr("qat.toml:9:16: option 'teacher_flip' of pass 'lsq' needs "
                                                        "distill > 0")));
  options.set("distill", 0.5);
  EXPECT_NO_THROW(host_.create_pass("lsq", options));
}

TEST_F(PassTest, MixedPrecisionSpendsTheAverageBudgetWhereTheOutputIsMostSensitive) {
  auto spec = cell(4, 8, {"mixed_precision"}, {{"candidates", std::string("2,4,8")}});
  sim::QuantSim sim(*model_, host_, spec);
  sim.calibrate(calibration_);
  sim.quantize_weights();
  sim.quantize_activations();
  const auto runs = sim.run_passes(passes::PassStage::kQuantizedModel, calibration_);
  double bits = 0, params = 0;
  std::set<int> widths;
  for (auto& site : sim.weight_sites()) {
    bits += site.bits * static_cast<double>(site.weight.numel());
    params += static_cast<double>(site.weight.numel());
    widths.insert(site.bits);
    expect_on_grid(site);
    EXPECT_EQ(site.qparams.qmax, site.bits == 8 ? 127 : site.bits == 4 ? 7 : 1) << site.name;
  }
  EXPECT_LE(bits / params, 4.0 + 1e-9);
  EXPECT_GT(bits / params, 3.5);  // the greedy stops as soon as the budget fits
  EXPECT_GT(widths.size(), 1u);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_THAT(runs[0].report, HasSubstr("\"layer\":\"conv1\""));
  EXPECT_THAT(runs[0].report, HasSubstr("\"sensitivity\":{\"2\":{\"kl\":"));
}

TEST_F(PassTest, PassesRefuseCellsTheyCannotServe) {
  auto float16 = host_.create_quantizer("float16", Options("quantizer 'float16'"));
  for (const std::string name : {"adaround", "brecq", "qdrop", "lsq"}) {
    auto pass = host_.create_pass(name, Options("pass '" + name + "'"));
    try {
      pass->check(cell(16, 16, {}), *float16, *model_);
      FAIL() << name << " accepted float16";
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr("integer grid"));
    }
  }
  auto unfolded = cell(8, 8, {});
  unfolded.fold_batch_norm = false;
  auto per_channel = host_.create_quantizer("per_channel", Options("quantizer 'per_channel'"));
  try {
    host_.create_pass("cle", Options("pass 'cle'"))->check(unfolded, *per_channel, *model_);
    FAIL() << "cle accepted an unfolded model";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("fold_batch_norm = true"));
  }
}

TEST_F(PassTest, PassOptionsAreCheckedWhenThePassIsCreated) {
  Options misspelled("pass 'adaround'");
  misspelled.set("iteratons", std::int64_t{10}, "grid.toml:12:1");
  try {
    host_.create_pass("adaround", misspelled);
    FAIL() << "accepted a misspelled option";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("grid.toml:12:1: unknown option 'iteratons'"));
  }
  Options out_of_range("pass 'qdrop'");
  out_of_range.set("drop_probability", 1.5, "grid.toml:14:1");
  try {
    host_.create_pass("qdrop", out_of_range);
    FAIL() << "accepted drop_probability 1.5";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("grid.toml:14:1: option 'drop_probability'"));
  }
  try {
    host_.create_pass("adaroun", Options("pass"));
    FAIL() << "accepted an unknown pass";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("unknown pass plugin 'adaroun'"));
    EXPECT_THAT(e.what(), HasSubstr("adaround, bias_correction, brecq, cle, lsq, mixed_precision, qdrop"));
  }
}

}  // namespace
}  // namespace qx::test
