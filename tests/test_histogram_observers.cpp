// The histogram-based observers (percentile, mse, lp_norm, kl, histogram) and the histogram behind them,
// against values worked out by hand and, for `histogram`, against torch.ao itself.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "qx/core/error.h"
#include "qx/host/plugin_host.h"
#include "qx/quant/histogram.h"
#include "qx/quant/qparams.h"
#include "support.h"

namespace qx::test {
namespace {

using ::testing::HasSubstr;
using quant::ObserverContext;
using quant::QuantSpec;

class HistogramObserverTest : public SeededTest {
 protected:
  std::shared_ptr<quant::Observer> make(const std::string& name, std::int64_t axis = -1, Options options = {}) {
    return host_.create_observer(name, options, ObserverContext{axis, "layer2.0.mid_q"});
  }
  quant::Range observe(const std::string& name, const torch::Tensor& x, const QuantSpec& spec, Options options = {}) {
    auto observer = make(name, spec.axis, options);
    observer->observe(x);
    return observer->range(quant::Grid(spec));
  }
  PluginHost host_{QX_PLUGIN_DIR};
};

const std::vector<std::string> kHistogramObservers = {"percentile", "mse", "lp_norm", "kl"};

TEST(StreamHistogram, GrowingMergesBinsExactly) {
  quant::StreamHistogram histogram(8, -1);
  histogram.add(torch::tensor({-0.5f, 0.1f, 0.5f}));
  EXPECT_DOUBLE_EQ(histogram.radius().item<double>(), 0.5);
  histogram.add(torch::tensor({1.9f}));  // needs R >= 1.9: doubles twice, to 2
  EXPECT_DOUBLE_EQ(histogram.radius().item<double>(), 2.0);
  // Bins of width 0.5 over [-2, 2]: -0.5 -> bin 3, 0.1 and 0.5 -> bin 4 (0.5 sat on the old top
  // edge, clamped into the last old bin, which merges into bin 4), 1.9 -> bin 7.
  EXPECT_TRUE(tensors_equal(histogram.counts()[0], torch::tensor({0., 0., 0., 1., 2., 0., 0., 1.}, torch::kFloat64)));
  EXPECT_EQ(histogram.extremes().min.item<float>(), -0.5f);
  EXPECT_EQ(histogram.extremes().max.item<float>(), 1.9f);
}

TEST(StreamHistogram, RejectsBinCountsThatCannotMergeExactly) {
  EXPECT_THROW(quant::StreamHistogram(30, -1), Error);
}

// The search scores candidates in blocks of bounded memory. The block size changes no range, bit
// for bit: two-sided rows (1024 pairs, here 342 blocks of 3) and a one-sided row (100 candidates)
// alike, against one block of every candidate.
TEST(ClippingSearch, GivesTheSameRangesWhateverTheBlockSize) {
  torch::manual_seed(0);
  auto weights = torch::randn({6, 300});
  weights[2] = weights[2].abs();
  quant::StreamHistogram histogram(4096, 0);
  histogram.add(weights);
  int calls = 0;
  const quant::ClippingError rounded_error = [&calls, error = quant::rounded_clipping_error(2.0)](const auto&... args) {
    ++calls;
    return error(args...);
  };
  const QuantSpec spec{3, false, 0};
  const auto whole = quant::minimise_clipping_error(histogram, quant::Grid(spec), 100, rounded_error, std::int64_t{1} << 40);
  EXPECT_EQ(calls, 6);
  calls = 0;
  const auto blocked = quant::minimise_clipping_error(histogram, quant::Grid(spec), 100, rounded_error, 3 * 4096 * 8);
  EXPECT_EQ(calls, 5 * 342 + 34);
  EXPECT_TRUE(torch::equal(whole.min, blocked.min));
  EXPECT_TRUE(torch::equal(whole.max, blocked.max));
  EXPECT_GT(whole.min[0].item<float>(), weights[0].min().item<float>());  // the search clipped something
}

TEST_F(HistogramObserverTest, AllZerosGiveAZeroRange) {
  for (const auto& name : kHistogramObservers) {
    const auto range = observe(name, torch::zeros({64}), QuantSpec{8, false});
    EXPECT_EQ(range.min.item<float>(), 0.0f) << name;
    EXPECT_EQ(range.max.item<float>(), 0.0f) << name;
  }
}

// mse may stop one candidate short (1.98): its error model charges every unclipped value the
// average rounding error, which a constant sitting exactly on the grid does not pay.
TEST_F(HistogramObserverTest, AConstantKeepsItsValue) {
  for (const auto& name : kHistogramObservers) {
    const auto range = observe(name, torch::full({100}, 2.0f), QuantSpec{4, false});
    EXPECT_NEAR(range.max.item<float>(), 2.0f, 0.021) << name;
  }
}

TEST_F(HistogramObserverTest, OneNegativeElement) {
  for (const auto& name : kHistogramObservers) {
    const auto range = observe(name, torch::tensor({-3.0f}), QuantSpec{8, false});
    EXPECT_FLOAT_EQ(range.min.item<float>(), -3.0f) << name;
    EXPECT_LE(range.max.item<float>(), 0.0f) << name;
  }
}

TEST_F(HistogramObserverTest, PercentileCutsEachTail) {
  const auto x = torch::arange(1, 10001, torch::kFloat32) / 10000.0;  // 0.0001 ... 1
  Options options("observer 'percentile'");
  options.set("percentile", 99.0);
  const auto range = observe("percentile", x, QuantSpec{8, false}, options);
  EXPECT_NEAR(range.min.item<float>(), 0.01, 1e-3);
  EXPECT_NEAR(range.max.item<float>(), 0.99, 1e-3);
}

TEST_F(HistogramObserverTest, PercentileKeepsTheFullRangeAboveClipUpToBits) {
  const auto x = torch::arange(1, 10001, torch::kFloat32) / 10000.0;
  Options options("observer 'percentile'");
  options.set("percentile", 99.0);
  EXPECT_FLOAT_EQ(observe("percentile", x, QuantSpec{16, false}, options).max.item<float>(), 1.0f);
  options.set("clip_up_to_bits", std::int64_t{16});
  EXPECT_NEAR(observe("percentile", x, QuantSpec{16, false}, options).max.item<float>(), 0.99, 1e-3);
}

TEST_F(HistogramObserverTest, PercentileOfMagnitudeForSymmetricGrids) {
  const auto x = torch::cat({-torch::arange(1, 10001, torch::kFloat32), torch::arange(1, 10001, torch::kFloat32)}) / 1e4;
  Options options("observer 'percentile'");
  options.set("percentile", 90.0);
  const auto range = observe("percentile", x, QuantSpec{8, true}, options);
  EXPECT_NEAR(range.max.item<float>(), 0.9, 1e-3);
  EXPECT_FLOAT_EQ(range.min.item<float>(), -range.max.item<float>());
}

// Uniform data on [0, 1], 2 bits, affine: clipping at a costs (1 - a)^3 / 3, rounding costs
// a * (a / 3)^2 / 12; the sum is smallest at a = 6/7.
TEST_F(HistogramObserverTest, MseFindsTheAnalyticOptimumForUniformData) {
  const auto x = (torch::arange(0, 100000, torch::kFloat64) + 0.5) / 100000.0;
  const auto range = observe("mse", x.to(torch::kFloat32), QuantSpec{2, false});
  EXPECT_NEAR(range.max.item<float>(), 6.0 / 7.0, 0.011);
  EXPECT_EQ(range.min.item<float>(), 0.0f);
}

// An outlier 1000 sigma out: the histogram still resolves the bulk (2048 bins of |x|, 0.5 wide).
TEST_F(HistogramObserverTest, HugeOutlierIsClippedAtLowBitWidths) {
  auto x = torch::randn({20000});
  x[0] = 1000.0;
  for (const auto& name : {"percentile", "mse", "kl"}) {
    const auto range = observe(name, x, QuantSpec{4, true});
    // mse keeps more than the others (30): the one outlier's clipping error, (1000 - a)^2, still
    // weighs as much as the rounding error of all 20,000 other values.
    EXPECT_LT(range.max.item<float>(), 100.0f) << name;
  }
  // lp_norm keeps it, rightly by its measure: rounding the whole bulk to zero costs sum x^2, about
  // 20,000, and clipping the outlier about 10^6. The tensor's error, not the network's.
  EXPECT_GT(observe("lp_norm", x, QuantSpec{4, true}).max.item<float>(), 900.0f);
}

TEST_F(HistogramObserverTest, HugeRangeStaysFinite) {
  const auto x = torch::tensor({-1e30f, 0.0f, 1.0f, 1e30f});
  for (const auto& name : kHistogramObservers) {
    const auto range = observe(name, x, QuantSpec{8, false});
    EXPECT_TRUE(std::isfinite(range.min.item<float>()) && std::isfinite(range.max.item<float>())) << name;
    EXPECT_LE(range.min.item<float>(), 0.0f) << name;
  }
}

// The real squared error of quantizing x to `range` on `spec`'s grid.
double quantization_error(const torch::Tensor& x, const quant::Range& range, const QuantSpec& spec) {
  return (x - quant::fake_quantize(x, quant::compute_qparams(range.min, range.max, spec))).square().sum().item<double>();
}

// Laplace-distributed weights at 2 bits: most values sit within a step of zero, where mse's
// Delta^2/12 overcharges them, so mse clips harder than the real error warrants; lp_norm, rounding
// each value, lands on a range with less real error than both mse's and the full range.
TEST_F(HistogramObserverTest, LpNormMinimisesTheRealErrorWhereMseMisjudgesIt) {
  const auto u = torch::rand({20000}) - 0.5;
  const auto x = -torch::sign(u) * torch::log1p(-2.0 * u.abs());  // Laplace(0, 1)
  const QuantSpec spec{2, true};
  const auto lp = observe("lp_norm", x, spec), mse = observe("mse", x, spec);
  const quant::Range full{x.min(), x.max()};
  EXPECT_LT(quantization_error(x, lp, spec), quantization_error(x, mse, spec));
  EXPECT_LT(quantization_error(x, lp, spec), quantization_error(x, full, spec));
  EXPECT_GT(lp.max.item<float>(), mse.max.item<float>());
}

// A larger p weighs the clamped tail's large errors more, so it keeps a wider range.
TEST_F(HistogramObserverTest, LpNormWithLargerPClipsLess) {
  const auto x = torch::randn({20000});
  Options p4("observer 'lp_norm'");
  p4.set("p", 4.0);
  const QuantSpec spec{3, true};
  EXPECT_GT(observe("lp_norm", x, spec, p4).max.item<float>(), observe("lp_norm", x, spec).max.item<float>());
}

TEST_F(HistogramObserverTest, KlClipsAGaussianAt8BitsButNotAt16) {
  const auto x = torch::randn({200000});
  const auto eight = observe("kl", x, QuantSpec{8, true});
  const auto sixteen = observe("kl", x, QuantSpec{16, true});
  EXPECT_LT(eight.max.item<float>(), 0.95f * x.abs().max().item<float>());
  EXPECT_GT(eight.max.item<float>(), 2.0f);  // a sane threshold keeps +-2 sigma
  EXPECT_FLOAT_EQ(sixteen.max.item<float>(), x.max().item<float>());
}

// Most values of a deep ReLU output are exactly 0; they must not drag the threshold down. Here 80%
// zeros and an exponential tail (mean 1): at 4 bits (16 levels) a sane threshold keeps most of
// the tail (mse keeps 4.7 here; with the zeros left in, kl kept 0.14).
TEST_F(HistogramObserverTest, KlIgnoresTheReluSpikeAtZero) {
  auto x = torch::empty({200000}).exponential_(1.0);
  x.slice(0, 0, 160000).zero_();
  const auto range = observe("kl", x, QuantSpec{4, false});
  EXPECT_GT(range.max.item<float>(), 2.0f);
}

TEST_F(HistogramObserverTest, PerChannelRangesFollowEachChannel) {
  const auto weight = torch::randn({4, 8, 3, 3}) * torch::tensor({1.0f, 2.0f, 4.0f, 8.0f}).view({4, 1, 1, 1});
  for (const auto& name : kHistogramObservers) {
    const auto range = observe(name, weight, QuantSpec{4, true, 0});
    ASSERT_EQ(range.max.sizes(), (std::vector<int64_t>{4})) << name;
    for (int c = 1; c < 4; ++c) EXPECT_GT(range.max[c].item<float>(), range.max[c - 1].item<float>()) << name;
  }
}

TEST_F(HistogramObserverTest, OptionsAreValidated) {
  Options percentile("observer 'percentile'");
  percentile.set("percentile", 40.0);
  EXPECT_THAT([&] { make("percentile", -1, percentile); }, ::testing::ThrowsMessage<Error>(HasSubstr("(50, 100]")));
  Options bins("observer 'mse'");
  bins.set("bins", std::int64_t{30});
  EXPECT_THAT([&] { make("mse", -1, bins)->observe(torch::ones({3})); },
              ::testing::ThrowsMessage<Error>(HasSubstr("multiple of 4")));
  EXPECT_THAT([&] { make("histogram", 0); }, ::testing::ThrowsMessage<Error>(HasSubstr("per tensor only")));
  Options p("observer 'lp_norm'");
  p.set("p", 0.5);
  EXPECT_THAT([&] { make("lp_norm", -1, p); }, ::testing::ThrowsMessage<Error>(HasSubstr("'p'")));
}

// The port of torch.ao's HistogramObserver chooses the same range, batch after batch.
TEST_F(HistogramObserverTest, HistogramMatchesTorchAo) {
  if (!python_torch_available()) GTEST_SKIP() << "Python PyTorch (python3-torch) is not installed";
  ScratchDir dir;
  const std::vector<torch::Tensor> data = {torch::relu(torch::randn({8, 16, 8, 8})) * 3.0,
                                           torch::relu(torch::randn({8, 16, 8, 8})) * 5.0 + 0.2,
                                           torch::randn({8, 16, 8, 8}) * 0.5};
  auto observer = make("histogram");
  for (const auto& batch : data) observer->observe(batch);
  const auto range = observer->range(quant::Grid(QuantSpec{8, false}));
  save_for_python(dir / "io.pt", {{"x0", data[0]}, {"x1", data[1]}, {"x2", data[2]}, {"min", range.min},
                                   {"max", range.max}});
  EXPECT_EQ(run_python(fmt::format(
                "import sys, torch; from torch.ao.quantization.observer import HistogramObserver; "
                "io = torch.load('{}'); o = HistogramObserver(); [o(io['x%d' % i]) for i in range(3)]; "
                "lo, hi = o._non_linear_param_search(); "
                "ok = torch.equal(lo, io['min']) and torch.equal(hi, io['max']); "
                "print(lo.item(), hi.item(), io['min'].item(), io['max'].item()); sys.exit(0 if ok else 1)",
                (dir / "io.pt").string())),
            0);
}

}  // namespace
}  // namespace qx::test
