// Observer plugins: the statistics they keep, checked against torch.ao's observers.
#include <cstdlib>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "qx/core/error.h"
#include "qx/host/plugin_host.h"
#include "qx/quant/observer.h"
#include "qx/quant/quantizer.h"
#include "support.h"

namespace qx::test {
namespace {

using ::testing::HasSubstr;
using quant::ObserverContext;
using quant::QuantSpec;

class ObserverTest : public SeededTest {
 protected:
  std::shared_ptr<quant::Observer> make(const std::string& name, std::int64_t axis = -1, Options options = {}) {
    return host_.create_observer(name, options, ObserverContext{axis, "layer1.0.mid_q"});
  }
  // Three batches with different ranges, the second holding an outlier.
  std::vector<torch::Tensor> batches() const {
    return {torch::randn({4, 3, 5, 5}), torch::randn({4, 3, 5, 5}) * 3.0 + 1.0, torch::rand({4, 3, 5, 5})};
  }
  PluginHost host_{QX_PLUGIN_DIR};
};

// A quantizer whose grid has half the step torch.ao's arithmetic gives a range, so it covers half
// the range: an observer searching on this grid must widen its choice to cover the data.
class HalfStepQuantizer : public quant::Quantizer {
 public:
  QuantSpec spec(quant::TensorRole, int bits) const override { return QuantSpec{bits, true, -1}; }
  quant::QParams qparams(const quant::Range& range, const QuantSpec& spec) const override {
    ++calls;
    auto q = quant::compute_qparams(range.min, range.max, spec);
    q.scale = q.scale * 0.5;
    return q;
  }
  mutable std::int64_t calls = 0;
};

TEST_F(ObserverTest, AClippingSearchScoresItsCandidatesWithTheQuantizersOwnQparams) {
  const auto x = torch::randn({20000});
  const QuantSpec spec{3, true};
  HalfStepQuantizer quantizer;
  for (const std::string name : {"mse", "lp_norm"}) {
    auto alone = make(name), with_quantizer = make(name);
    alone->observe(x);
    with_quantizer->observe(x);
    const auto plain = alone->range(quant::Grid(spec)).max.item<double>();
    const auto calls_before = quantizer.calls;
    const auto own = with_quantizer->range(quant::Grid(spec, &quantizer)).max.item<double>();
    EXPECT_GT(quantizer.calls, calls_before) << name;
    EXPECT_GT(own, 1.3 * plain) << name << ": " << own << " against " << plain;
  }
}

TEST_F(ObserverTest, MinMaxKeepsTheExtremes) {
  auto observer = make("minmax");
  const auto data = batches();
  for (const auto& batch : data) observer->observe(batch);
  const auto all = torch::cat({data[0].flatten(), data[1].flatten(), data[2].flatten()});
  const auto range = observer->range(quant::Grid(QuantSpec{8, false}));
  EXPECT_EQ(range.min.item<float>(), all.min().item<float>());
  EXPECT_EQ(range.max.item<float>(), all.max().item<float>());
}

TEST_F(ObserverTest, PerChannelMinMaxIsPerOutputChannel) {
  auto observer = make("minmax", 0);
  auto weight = torch::randn({6, 3, 3, 3});
  observer->observe(weight);
  const auto range = observer->range(quant::Grid(QuantSpec{4, true, 0}));
  ASSERT_EQ(range.min.sizes(), (std::vector<int64_t>{6}));
  for (int64_t c = 0; c < 6; ++c) EXPECT_EQ(range.max[c].item<float>(), weight[c].max().item<float>());
}

TEST_F(ObserverTest, MovingAverageMovesByTheConstant) {
  Options options("observer 'moving_average'");
  options.set("averaging_constant", 0.5);
  auto observer = make("moving_average", -1, options);
  observer->observe(torch::tensor({0.0f, 4.0f}));
  observer->observe(torch::tensor({-2.0f, 2.0f}));
  const auto range = observer->range(quant::Grid(QuantSpec{8, false}));
  EXPECT_FLOAT_EQ(range.min.item<float>(), -1.0f);
  EXPECT_FLOAT_EQ(range.max.item<float>(), 3.0f);
}

TEST_F(ObserverTest, NothingObservedIsAnError) {
  try {
    make("minmax")->range(quant::Grid(QuantSpec{8, false}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "observer 'minmax' at layer1.0.mid_q: nothing was observed");
  }
}

TEST_F(ObserverTest, AxisMismatchIsAnError) {
  auto observer = make("minmax");
  observer->observe(torch::randn({2, 2}));
  EXPECT_THROW(observer->range(quant::Grid(QuantSpec{8, true, 0})), Error);
}

TEST_F(ObserverTest, ResetForgets) {
  auto observer = make("moving_average");
  observer->observe(torch::randn({8}));
  observer->reset();
  EXPECT_THROW(observer->range(quant::Grid(QuantSpec{8, false})), Error);
}

TEST_F(ObserverTest, OptionsAreValidated) {
  Options bad("observer 'moving_average'");
  bad.set("averaging_constant", 2.0, "grid.toml:4:22");
  EXPECT_THAT([&] { make("moving_average", -1, bad); },
              ::testing::ThrowsMessage<Error>(HasSubstr("averaging_constant must be in (0, 1], got 2")));
  Options unknown("observer 'minmax'");
  unknown.set("percentile", 99.9, "grid.toml:5:1");
  EXPECT_THAT([&] { make("minmax", -1, unknown); },
              ::testing::ThrowsMessage<Error>(HasSubstr("grid.toml:5:1: unknown option 'percentile'")));
}

// The same batches through torch.ao's observers give the same range.
TEST_F(ObserverTest, MatchTorchAo) {
  if (!python_torch_available()) {
    GTEST_SKIP() << "Python PyTorch (python3-torch) is not installed";
  }
  ScratchDir dir;
  const auto data = batches();
  struct Case {
    const char* plugin;
    std::int64_t axis;
    const char* torch_ao;
  };
  const Case cases[] = {
      {"minmax", -1, "MinMaxObserver()"},
      {"minmax", 1, "PerChannelMinMaxObserver(ch_axis=1)"},
      {"moving_average", -1, "MovingAverageMinMaxObserver()"},
      {"moving_average", 1, "MovingAveragePerChannelMinMaxObserver(ch_axis=1)"},
  };
  for (const auto& c : cases) {
    auto observer = make(c.plugin, c.axis);
    for (const auto& batch : data) observer->observe(batch);
    const auto range = observer->range(quant::Grid(QuantSpec{8, false, c.axis}));
    save_for_python(dir / "io.pt",
                    {{"x0", data[0]}, {"x1", data[1]}, {"x2", data[2]}, {"min", range.min}, {"max", range.max}});
    EXPECT_EQ(run_python(fmt::format(
                  "import sys, torch; from torch.ao.quantization.observer import *; "
                  "io = torch.load('{}'); o = {}; [o(io['x%d' % i]) for i in range(3)]; "
                  "ok = torch.allclose(o.min_val, io['min'], rtol=1e-6, atol=1e-7) and "
                  "torch.allclose(o.max_val, io['max'], rtol=1e-6, atol=1e-7); sys.exit(0 if ok else 1)",
                  (dir / "io.pt").string(), c.torch_ao)),
              0)
        << c.plugin << " axis " << c.axis;
  }
}

}  // namespace
}  // namespace qx::test
