// The `pytorch` quantizer against golden values from torch.ao (tests/data/torch_ao_golden.pt,
// written by tools/torch_ao_golden.py with Debian's python3-torch): for each backend's default
// qconfig, the same scale and zero point, bit for bit, for activations (through the `histogram`
// observer) and for a convolution weight (through `minmax`).
#include <fstream>

#include <gtest/gtest.h>

#include "qx/host/plugin_host.h"
#include "support.h"

namespace qx::test {
namespace {

using quant::TensorRole;

std::map<std::string, torch::Tensor> load_golden() {
  std::ifstream in(std::string(QX_SOURCE_DIR) + "/tests/data/torch_ao_golden.pt", std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : torch::pickle_load(bytes).toGenericDict()) {
    out[item.key().toStringRef()] = item.value().toTensor();
  }
  return out;
}

TEST(Golden, PytorchQuantizerMatchesTorchAo) {
  const auto golden = load_golden();
  PluginHost host(QX_PLUGIN_DIR);
  for (const std::string backend : {"onednn", "x86", "qnnpack"}) {
    Options options("quantizer 'pytorch'");
    options.set("backend", backend);
    const auto quantizer = host.create_quantizer("pytorch", options);

    const auto activation_spec = quantizer->spec(TensorRole::kActivation, 8);
    auto histogram = host.create_observer("histogram", Options("observer 'histogram'"), {activation_spec.axis, "x"});
    for (const auto* name : {"x0", "x1", "x2"}) histogram->observe(golden.at(name));
    const auto activation = quantizer->qparams(histogram->range(quant::Grid(activation_spec, quantizer.get())), activation_spec);
    EXPECT_TRUE(tensors_equal(activation.scale.reshape(-1), golden.at(backend + ".activation.scale"))) << backend;
    EXPECT_TRUE(tensors_equal(activation.zero_point.reshape(-1), golden.at(backend + ".activation.zero_point")))
        << backend;

    const auto weight_spec = quantizer->spec(TensorRole::kWeight, 8);
    auto minmax = host.create_observer("minmax", Options("observer 'minmax'"), {weight_spec.axis, "weight"});
    minmax->observe(golden.at("weight"));
    const auto weight = quantizer->qparams(minmax->range(quant::Grid(weight_spec, quantizer.get())), weight_spec);
    EXPECT_TRUE(tensors_equal(weight.scale.reshape(-1), golden.at(backend + ".weight.scale"))) << backend;
    EXPECT_TRUE(tensors_equal(weight.zero_point.reshape(-1), golden.at(backend + ".weight.zero_point"))) << backend;
  }
}

}  // namespace
}  // namespace qx::test
