// Quantizer plugins: the grid each one chooses per tensor role, and what applying it does.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "qx/core/error.h"
#include "qx/host/plugin_host.h"
#include "support.h"

namespace qx::test {
namespace {

using ::testing::HasSubstr;
using quant::QuantSpec;
using quant::TensorRole;

class QuantizerTest : public SeededTest {
 protected:
  std::shared_ptr<quant::Quantizer> make(const std::string& name, Options options = {}) {
    return host_.create_quantizer(name, options);
  }
  PluginHost host_{QX_PLUGIN_DIR};
};

void expect_grid(const QuantSpec& spec, int bits, bool symmetric, std::int64_t axis, const std::string& what) {
  EXPECT_EQ(spec.bits, bits) << what;
  EXPECT_EQ(spec.symmetric, symmetric) << what;
  EXPECT_EQ(spec.axis, axis) << what;
}

// A quantizer that asks for grids the simulation cannot apply.
class AxisQuantizer : public quant::Quantizer {
 public:
  explicit AxisQuantizer(std::int64_t axis) : axis_(axis) {}
  QuantSpec spec(TensorRole, int bits) const override { return QuantSpec{bits, true, axis_}; }

 private:
  std::int64_t axis_;
};

TEST(ResolveSpec, ChecksTheQuantizersGridForTheRole) {
  const AxisQuantizer per_tensor(-1), channels(0), second_axis(1);
  expect_grid(quant::resolve_spec(per_tensor, TensorRole::kActivation, 4, "x"), 4, true, -1, "per tensor");
  expect_grid(quant::resolve_spec(channels, TensorRole::kWeight, 4, "w"), 4, true, 0, "per channel");
  const auto message = [](const auto& call) {
    try {
      call();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_THAT(message([&] { quant::resolve_spec(channels, TensorRole::kActivation, 4, "activation point 'x'"); }),
              HasSubstr("activation point 'x': the quantizer asks for a per-channel activation grid"));
  EXPECT_THAT(message([&] { quant::resolve_spec(second_axis, TensorRole::kWeight, 4, "weight of 'fc'"); }),
              HasSubstr("weight of 'fc': the quantizer asks for weight channels along axis 1"));
  EXPECT_THAT(message([&] { quant::resolve_spec(per_tensor, TensorRole::kWeight, 1, "weight of 'fc'"); }),
              HasSubstr("weight of 'fc': bit width 1 is out of range [2, 16]"));
}

TEST_F(QuantizerTest, GridsPerRole) {
  for (int bits : {2, 4, 8, 16}) {
    expect_grid(make("asymmetric")->spec(TensorRole::kWeight, bits), bits, false, -1, "asymmetric weight");
    expect_grid(make("asymmetric")->spec(TensorRole::kActivation, bits), bits, false, -1, "asymmetric act");
    expect_grid(make("symmetric")->spec(TensorRole::kWeight, bits), bits, true, -1, "symmetric weight");
    expect_grid(make("symmetric")->spec(TensorRole::kActivation, bits), bits, true, -1, "symmetric act");
    expect_grid(make("per_channel")->spec(TensorRole::kWeight, bits), bits, true, 0, "per_channel weight");
    expect_grid(make("per_channel")->spec(TensorRole::kActivation, bits), bits, false, -1, "per_channel act");
    expect_grid(make("per_channel_affine")->spec(TensorRole::kWeight, bits), bits, false, 0, "affine weight");
    expect_grid(make("per_channel_affine")->spec(TensorRole::kActivation, bits), bits, false, -1, "affine act");
  }
}

// torch.ao's default qconfigs: onednn and qnnpack quint8 [0, 255]; x86 reduce_range [0, 127];
// weights qint8 [-128, 127], per channel except qnnpack.
TEST_F(QuantizerTest, PytorchBackendsReproduceTorchAoGrids) {
  Options x86("quantizer 'pytorch'");
  x86.set("backend", std::string("x86"));
  Options qnnpack("quantizer 'pytorch'");
  qnnpack.set("backend", std::string("qnnpack"));
  const auto onednn = make("pytorch")->spec(TensorRole::kActivation, 8);
  EXPECT_EQ(onednn.qmin(), 0);
  EXPECT_EQ(onednn.qmax(), 255);
  const auto reduced = make("pytorch", x86)->spec(TensorRole::kActivation, 8);
  EXPECT_EQ(reduced.qmax(), 127);
  const auto weight = make("pytorch")->spec(TensorRole::kWeight, 8);
  EXPECT_EQ(weight.qmin(), -128);
  EXPECT_EQ(weight.qmax(), 127);
  EXPECT_EQ(weight.axis, 0);
  EXPECT_EQ(make("pytorch", qnnpack)->spec(TensorRole::kWeight, 8).axis, -1);
  EXPECT_THAT([&] { make("pytorch", x86)->spec(TensorRole::kActivation, 2); },
              ::testing::ThrowsMessage<Error>(HasSubstr("reduce_range needs at least 3 bits")));
  Options bad("quantizer 'pytorch'");
  bad.set("backend", std::string("fbgemm"), "grid.toml:9:11");
  EXPECT_THAT([&] { make("pytorch", bad); },
              ::testing::ThrowsMessage<Error>(HasSubstr(
                  "grid.toml:9:11: option 'backend' of quantizer 'pytorch' must be one of onednn, x86, qnnpack, got 'fbgemm'")));
}

// Inside the range, quantize-dequantize moves no value by more than half a step (up to float32
// rounding).
TEST_F(QuantizerTest, RoundTripErrorIsAtMostHalfAStep) {
  const auto weight = torch::randn({8, 4, 3, 3});
  const auto activation = torch::relu(torch::randn({4, 8, 6, 6})) * 3.0;
  for (const std::string name : {"asymmetric", "symmetric", "per_channel", "per_channel_affine", "pytorch"}) {
    const auto quantizer = make(name);
    for (int bits = 2; bits <= 16; ++bits) {
      for (const auto role : {TensorRole::kWeight, TensorRole::kActivation}) {
        const auto& x = role == TensorRole::kWeight ? weight : activation;
        const auto spec = quantizer->spec(role, bits);
        const auto range = quant::tensor_min_max(x, spec.axis);
        const auto q = quantizer->qparams(range, spec);
        const auto error = (quantizer->apply(x, q) - x).abs();
        // Values the grid can represent: inside [(qmin - zp) * s, (qmax - zp) * s].
        auto shape = std::vector<int64_t>(x.dim(), 1);
        if (spec.axis >= 0) shape[spec.axis] = -1;
        const auto scale = q.scale.view(shape), zero = q.zero_point.to(torch::kFloat32).view(shape);
        const auto inside = (x >= (q.qmin - zero) * scale) & (x <= (q.qmax - zero) * scale);
        // Plus float32 rounding of x / scale near a tie: ATen multiplies by a rounded 1 / scale.
        const auto bound = scale / 2 * (1 + 1e-5) + 4 * std::numeric_limits<float>::epsilon() * x.abs();
        EXPECT_TRUE(torch::all(error.masked_select(inside) <= bound.masked_select(inside)).item<bool>())
            << name << " " << bits << " bits " << quant::role_name(role);
      }
    }
  }
}

// A lopsided channel, [-0.2, 1], at 2 bits: the symmetric grid's levels are -4/3, -2/3, 0, 2/3,
// so the channel is served by 0 and 2/3 alone; the affine grid's are 0, 0.4, 0.8, 1.2.
TEST_F(QuantizerTest, AffinePerChannelFitsALopsidedChannelAt2Bits) {
  const auto weight = torch::linspace(-0.2, 1.0, 121).view({1, 121});
  const auto squared_error = [&](const std::string& name) {
    const auto quantizer = make(name);
    const auto spec = quantizer->spec(TensorRole::kWeight, 2);
    const auto q = quantizer->qparams(quant::tensor_min_max(weight, spec.axis), spec);
    return (quantizer->apply(weight, q) - weight).square().mean().item<double>();
  };
  EXPECT_LT(squared_error("per_channel_affine"), 0.5 * squared_error("per_channel"));
}

TEST_F(QuantizerTest, Float16RoundsToHalfPrecision) {
  const auto quantizer = make("float16");
  const auto x = torch::randn({1000}) * 100.0;
  const auto spec = quantizer->spec(TensorRole::kActivation, 16);
  const auto out = quantizer->apply(x, quantizer->qparams(quant::tensor_min_max(x, -1), spec));
  EXPECT_TRUE(tensors_equal(out, x.to(torch::kHalf).to(torch::kFloat32)));
  EXPECT_THAT([&] { quantizer->spec(TensorRole::kWeight, 8); }, ::testing::ThrowsMessage<Error>(HasSubstr("not 8")));
}

TEST_F(QuantizerTest, UnknownQuantizerListsTheKnownOnes) {
  EXPECT_THAT([&] { make("asymetric"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("unknown quantizer plugin 'asymetric'")));
}

}  // namespace
}  // namespace qx::test
