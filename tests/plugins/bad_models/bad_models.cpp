// Model plugins that break the engine's model contract (qx/nn/model_contract.h), each in one way.
// The host must refuse each model when it is created, with a line that names the plugin.
#include "qx/nn/model.h"
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"

namespace {

using qx::nn::QuantPoint;
using qx::nn::QuantPointOptions;

// input_q -> conv -> global pool -> pool_q -> fc, with the feeds and the output as given.
class SmallNet : public qx::QuantizableModel {
 public:
  SmallNet(std::vector<std::string> input_feeds, bool flatten_logits) : flatten_logits_(flatten_logits) {
    input_q = register_module("input_q", QuantPoint(QuantPointOptions().feeds(std::move(input_feeds))));
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3)));
    pool_q = register_module("pool_q", QuantPoint(QuantPointOptions().feeds({"fc"})));
    fc = register_module("fc", torch::nn::Linear(4, 10));
  }
  torch::Tensor forward(torch::Tensor images) override {
    auto x = conv(input_q(images)).mean({2, 3});
    auto logits = fc(pool_q(x));
    return flatten_logits_ ? logits.flatten() : logits;
  }
  std::vector<qx::ConvBnPair> conv_bn_pairs() const override { return {}; }

  QuantPoint input_q{nullptr}, pool_q{nullptr};
  torch::nn::Conv2d conv{nullptr};
  torch::nn::Linear fc{nullptr};

 private:
  bool flatten_logits_;
};

}  // namespace

QX_PLUGIN(model, bad_models, "0.0.1", registrar) {
  registrar.add_model("good_small", [](const qx::Options&) { return std::make_shared<SmallNet>(std::vector<std::string>{"conv"}, false); });
  registrar.add_model("feeds_unknown_layer", [](const qx::Options&) { return std::make_shared<SmallNet>(std::vector<std::string>{"conv9"}, false); });
  registrar.add_model("unfed_layer", [](const qx::Options&) { return std::make_shared<SmallNet>(std::vector<std::string>{}, false); });
  registrar.add_model("flat_logits", [](const qx::Options&) { return std::make_shared<SmallNet>(std::vector<std::string>{"conv"}, true); });
}
