#pragma once
// The fixture of the pass tests: a randomly initialised ResNet20 whose BatchNorm scales span
// orders of magnitude, random calibration images, and a cell builder.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "qx/core/options.h"
#include "qx/host/plugin_host.h"
#include "qx/sim/quant_sim.h"
#include "support.h"

namespace qx::test {

inline Options options_of(const std::string& owner, std::map<std::string, Options::Value> values = {}) {
  Options options(owner);
  for (auto& [key, value] : values) options.set(key, value);
  return options;
}

class PassTest : public SeededTest {
 protected:
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

  spec::CellSpec cell(int weight_bits, int activation_bits, std::vector<std::string> passes,
                     std::map<std::string, Options::Value> pass_options = {}) const {
    spec::CellSpec c;
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
    passes::run_passes(sim, host_, passes::PassStage::kFloatModel, calibration_);
    sim.calibrate(calibration_);
    sim.quantize_weights();
    sim.quantize_activations();
    passes::run_passes(sim, host_, passes::PassStage::kQuantizedModel, calibration_);
  }

  static void expect_on_grid(const sim::WeightSite& site) {
    EXPECT_TRUE(tensors_equal(quant::fake_quantize(site.weight.detach(), site.qparams), site.weight.detach()))
        << site.name;
  }

  PluginHost host_{QX_PLUGIN_DIR};
  std::shared_ptr<QuantizableModel> model_;
  std::vector<torch::Tensor> calibration_;
};

}  // namespace qx::test
