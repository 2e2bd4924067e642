// Quantization parameters and fake-quant, checked by hand and against torch.ao itself.
#include <cstdlib>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "qx/core/error.h"
#include "qx/quant/qparams.h"
#include "support.h"

namespace qx::test {
namespace {

using quant::QuantSpec;

TEST(QuantSpec, GridBounds) {
  EXPECT_EQ((QuantSpec{8, false}.qmin()), 0);
  EXPECT_EQ((QuantSpec{8, false}.qmax()), 255);
  EXPECT_EQ((QuantSpec{8, true}.qmin()), -128);
  EXPECT_EQ((QuantSpec{8, true}.qmax()), 127);
  EXPECT_EQ((QuantSpec{2, true}.qmin()), -2);
  EXPECT_EQ((QuantSpec{2, true}.qmax()), 1);
  EXPECT_EQ((QuantSpec{16, false}.qmax()), 65535);
}

TEST(QuantSpec, OutOfRangeBitWidthIsAnError) {
  try {
    QuantSpec{1, false}.validate("grid.bits");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "grid.bits: bit width 1 is out of range [2, 16]");
  }
  EXPECT_THROW((QuantSpec{17, true}.validate("x")), Error);
  EXPECT_NO_THROW((QuantSpec{2, true}.validate("x")));
}

TEST(QParams, AffineRangeIncludesZero) {
  // [0.5, 2.55] is widened to [0, 2.55]: scale 0.01, zero point 0.
  const auto q = quant::compute_qparams(torch::tensor(0.5), torch::tensor(2.55), QuantSpec{8, false});
  EXPECT_NEAR(q.scale.item<float>(), 0.01f, 1e-7);
  EXPECT_EQ(q.zero_point.item<int>(), 0);
  // [-1, 3]: scale 4/255, zero point round(1 / (4/255)) = round(63.75) = 64.
  const auto r = quant::compute_qparams(torch::tensor(-1.0), torch::tensor(3.0), QuantSpec{8, false});
  EXPECT_NEAR(r.scale.item<float>(), 4.0f / 255.0f, 1e-7);
  EXPECT_EQ(r.zero_point.item<int>(), 64);
}

TEST(QParams, SymmetricUsesTheLargerMagnitude) {
  const auto q = quant::compute_qparams(torch::tensor(-3.0), torch::tensor(1.0), QuantSpec{4, true});
  EXPECT_NEAR(q.scale.item<float>(), 3.0f / 7.5f, 1e-7);
  EXPECT_EQ(q.zero_point.item<int>(), 0);
}

TEST(QParams, AllZeroTensorKeepsAPositiveScale) {
  const auto q = quant::compute_qparams(torch::tensor(0.0), torch::tensor(0.0), QuantSpec{8, false});
  EXPECT_GT(q.scale.item<float>(), 0.0f);
  EXPECT_TRUE(tensors_equal(quant::fake_quantize(torch::zeros({3}), q), torch::zeros({3})));
}

TEST(FakeQuantize, LandsOnTheGridAndClamps) {
  const auto q = quant::compute_qparams(torch::tensor(-1.0), torch::tensor(1.0), QuantSpec{2, true});
  // 2-bit symmetric, torch.ao's formula: scale = 1 / ((1 - (-2)) / 2) = 2/3, levels
  // {-4/3, -2/3, 0, 2/3}. The largest magnitude maps to 1.5 steps, so +1 clamps to 2/3: at two
  // bits the signed grid cannot hold both ends of a symmetric range.
  const auto out = quant::fake_quantize(torch::tensor({-2.0f, -0.7f, 0.2f, 0.3f, 1.0f}), q);
  const float step = 2.0f / 3.0f;
  EXPECT_TRUE(tensors_equal(out, torch::tensor({-2 * step, -step, 0.0f, 0.0f, step}), 1e-6));
}

// qx's AVX2 per-tensor kernel must be ATen's fake quantization, bit for bit, in every layout and
// on every kind of value (ties, out of range, NaN, infinities).
TEST(FakeQuantize, FastKernelEqualsAten) {
  torch::manual_seed(0);
  auto x = torch::randn({7, 16, 9, 11}) * 4.0;
  x.view(-1).slice(0, 0, 64).copy_(torch::arange(-32, 32, torch::kFloat32) * 0.25);  // exact ties at 8 bits
  x.view(-1)[100] = std::numeric_limits<float>::quiet_NaN();
  x.view(-1)[101] = std::numeric_limits<float>::infinity();
  x.view(-1)[102] = -std::numeric_limits<float>::infinity();
  x.view(-1)[103] = 1e30f;
  for (const auto& layout : {x, x.contiguous(torch::MemoryFormat::ChannelsLast)}) {
    for (int bits : {2, 4, 8, 16}) {
      for (bool symmetric : {false, true}) {
        const auto q = quant::compute_qparams(torch::tensor(-3.0), torch::tensor(5.0), QuantSpec{bits, symmetric});
        const auto aten = torch::fake_quantize_per_tensor_affine(layout, q.scale, q.zero_point, q.qmin, q.qmax);
        EXPECT_TRUE(tensors_equal(quant::fake_quantize(layout, q), aten)) << bits << " bits, symmetric " << symmetric;
      }
    }
  }
}

TEST(FakeQuantize, PerChannelUsesEachChannelsScale) {
  QuantSpec spec{8, true, 0};
  auto weight = torch::stack({torch::full({4}, 1.0f), torch::full({4}, 100.0f)});
  const auto q = quant::compute_qparams(std::get<0>(weight.min(1)), std::get<0>(weight.max(1)), spec);
  ASSERT_EQ(q.scale.size(0), 2);
  EXPECT_NEAR(q.scale[0].item<float>(), 1.0f / 127.5f, 1e-7);
  EXPECT_NEAR(q.scale[1].item<float>(), 100.0f / 127.5f, 1e-5);
  EXPECT_TRUE(tensors_equal(quant::fake_quantize(weight, q), weight, 1e-5, 1e-2));
}

// The same statistics through torch.ao's MinMaxObserver / PerChannelMinMaxObserver must give the
// same scale and zero point, bit for bit.
TEST(QParams, MatchTorchAoObservers) {
  if (!python_torch_available()) {
    GTEST_SKIP() << "Python PyTorch (python3-torch) is not installed";
  }
  ScratchDir dir;
  torch::manual_seed(3);
  auto x = torch::randn({8, 5, 3, 3}) * torch::linspace(0.1, 4.0, 8).view({8, 1, 1, 1}) + 0.3;
  struct Case {
    QuantSpec spec;
    const char* observer;
  };
  const Case cases[] = {
      {{8, false}, "MinMaxObserver(dtype=torch.quint8, qscheme=torch.per_tensor_affine)"},
      {{8, true}, "MinMaxObserver(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)"},
      {{4, false}, "MinMaxObserver(dtype=torch.quint8, qscheme=torch.per_tensor_affine, quant_min=0, quant_max=15)"},
      {{8, true, 0}, "PerChannelMinMaxObserver(ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric)"},
      {{4, true, 0},
       "PerChannelMinMaxObserver(ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric, quant_min=-8, "
       "quant_max=7)"},
  };
  for (const auto& c : cases) {
    const auto flat = c.spec.per_channel() ? x.flatten(1) : x.flatten();
    const auto q = c.spec.per_channel()
                       ? quant::compute_qparams(std::get<0>(flat.min(1)), std::get<0>(flat.max(1)), c.spec)
                       : quant::compute_qparams(flat.min(), flat.max(), c.spec);
    save_for_python(dir / "io.pt", {{"x", x}, {"scale", q.scale}, {"zero_point", q.zero_point}});
    EXPECT_EQ(run_python(fmt::format(
                  "import sys, torch; from torch.ao.quantization.observer import *; "
                  "io = torch.load('{}'); o = {}; o(io['x']); s, z = o.calculate_qparams(); "
                  "ok = torch.equal(s.float().reshape(io['scale'].shape), io['scale']) and "
                  "torch.equal(z.int().reshape(io['zero_point'].shape), io['zero_point']); "
                  "sys.exit(0 if ok else 1)",
                  (dir / "io.pt").string(), c.observer)),
              0)
        << c.observer;
  }
}

}  // namespace
}  // namespace qx::test
