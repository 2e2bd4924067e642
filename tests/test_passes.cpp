// Passes: what each one guarantees, on a randomly initialised ResNet20 and random images. LSQ,
// the one that trains, has its own file (test_lsq.cpp).
#include <regex>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "qx/core/error.h"
#include "qx/sim/capture.h"
#include "pass_test.h"

namespace qx::test {
namespace {

using ::testing::HasSubstr;

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
  passes::run_passes(sim, host_, passes::PassStage::kFloatModel, calibration_);
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
  const auto runs = passes::run_passes(sim, host_, passes::PassStage::kQuantizedModel, calibration_);
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
  const auto runs = passes::run_passes(sim, host_, passes::PassStage::kQuantizedModel, calibration_);
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
  passes::run_passes(sim, host_, passes::PassStage::kFloatModel, calibration_);
  sim.calibrate(calibration_);
  sim.quantize_weights();
  sim.quantize_activations();
  std::map<std::string, float> before;
  for (auto& site : sim.activation_sites()) before[site->name] = site->qparams.scale.item<float>();
  const auto runs = passes::run_passes(sim, host_, passes::PassStage::kQuantizedModel, calibration_);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_THAT(runs[0].report, HasSubstr("\"unit\":\"layer1.0\""));
  int moved = 0;
  for (auto& site : sim.activation_sites()) {
    EXPECT_FALSE(site->qparams.scale.requires_grad()) << site->name;
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
    passes::run_passes(sim, host_, passes::PassStage::kQuantizedModel, calibration_);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("pass 'adaround'"));
    EXPECT_THAT(e.what(), HasSubstr("unit 'fc'"));
    EXPECT_THAT(e.what(), HasSubstr("nan"));
  }
}

TEST_F(PassTest, MixedPrecisionSpendsTheAverageBudgetWhereTheOutputIsMostSensitive) {
  auto spec = cell(4, 8, {"mixed_precision"}, {{"candidates", std::string("2,4,8")}});
  sim::QuantSim sim(*model_, host_, spec);
  sim.calibrate(calibration_);
  sim.quantize_weights();
  sim.quantize_activations();
  const auto runs = passes::run_passes(sim, host_, passes::PassStage::kQuantizedModel, calibration_);
  double bits = 0, params = 0;
  std::set<int> widths;
  for (auto& site : sim.weight_sites()) {
    bits += site.spec.bits * static_cast<double>(site.weight.numel());
    params += static_cast<double>(site.weight.numel());
    widths.insert(site.spec.bits);
    expect_on_grid(site);
    EXPECT_EQ(site.qparams.qmax, site.spec.bits == 8 ? 127 : site.spec.bits == 4 ? 7 : 1) << site.name;
  }
  EXPECT_LE(bits / params, 4.0 + 1e-9);
  EXPECT_GT(bits / params, 3.5);  // the greedy stops as soon as the budget fits
  EXPECT_GT(widths.size(), 1u);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_THAT(runs[0].report, HasSubstr("\"layer\":\"conv1\""));
  EXPECT_THAT(runs[0].report, HasSubstr("\"sensitivity\":{\"2\":{\"kl\":"));
}

TEST_F(PassTest, IntegerBiasPutsEveryBiasOnTheAccumulatorGridWithinHalfAStep) {
  // bias_correction first: it corrects bias-free convolutions through their BatchNorm's mean,
  // which the pass must fold into the bias it rounds.
  sim::QuantSim sim(*model_, host_, cell(4, 4, {"bias_correction"}));
  simulate(sim);
  auto modules = model_->named_modules("", false);
  std::map<std::string, torch::nn::BatchNorm2dImpl*> batch_norm_of;
  for (const auto& pair : model_->conv_bn_pairs()) {
    batch_norm_of[pair.conv] = modules[pair.batch_norm]->as<torch::nn::BatchNorm2d>();
  }
  auto effective_bias = [&](const sim::WeightSite& site) -> torch::Tensor {
    if (auto* bn = batch_norm_of.count(site.name) ? batch_norm_of[site.name] : nullptr) return bn->bias - bn->running_mean;
    return site.module->as<torch::nn::Linear>()->bias;
  };
  std::map<std::string, torch::Tensor> before;
  for (auto& site : sim.weight_sites()) before[site.name] = effective_bias(site).detach().clone();
  EXPECT_GT(batch_norm_of.at("conv1")->running_mean.abs().max().item<double>(), 0) << "bias_correction moved no mean";

  auto pass = host_.create_pass("integer_bias", Options("pass 'integer_bias'"));
  pass->check(sim.cell(), sim.quantizer(), *model_);
  passes::PassContext context{*model_, sim, calibration_, nullptr, 0, "pass 'integer_bias'"};
  pass->run(context);
  for (auto& site : sim.weight_sites()) {
    const auto bias = effective_bias(site).detach();
    const auto step = site.qparams.scale.reshape({-1}) * sim.input_site(site.name).qparams.scale.reshape({});
    const auto codes = (bias.to(torch::kFloat64) / step.to(torch::kFloat64));
    EXPECT_LE((codes - codes.round()).abs().max().item<double>(), 1e-3) << site.name << ": off the accumulator grid";
    EXPECT_LE(((bias - before[site.name]) / step).abs().max().item<double>(), 0.5 + 1e-3) << site.name;
    if (batch_norm_of.count(site.name)) {
      EXPECT_TRUE(batch_norm_of[site.name]->running_mean.eq(0).all().item<bool>()) << site.name;
    }
  }
  auto unfolded = cell(8, 8, {});
  unfolded.fold_batch_norm = false;
  EXPECT_THAT([&] { pass->check(unfolded, sim.quantizer(), *model_); },
              ::testing::ThrowsMessage<Error>(HasSubstr("needs folded BatchNorms")));
}

TEST_F(PassTest, PassesRefuseCellsTheyCannotServe) {
  auto float16 = host_.create_quantizer("float16", Options("quantizer 'float16'"));
  for (const std::string name : {"adaround", "brecq", "qdrop", "lsq", "integer_bias"}) {
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
    EXPECT_THAT(e.what(), HasSubstr("adaround, bias_correction, brecq, cle, integer_bias, lsq, mixed_precision, qdrop"));
  }
}

}  // namespace
}  // namespace qx::test
