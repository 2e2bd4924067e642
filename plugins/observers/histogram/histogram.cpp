// torch.ao's HistogramObserver, ported operation for operation (PyTorch 1.13,
// torch/ao/quantization/observer.py), so that the `pytorch` quantizer's reference cell calibrates
// as torch.ao does. Same ATen ops in the same dtypes, so the chosen range matches bit for bit:
//   * a 2048-bin histogram whose range grows with the data; a new batch is binned over the
//     combined range and the old histogram is upsampled 128x and re-integrated onto it;
//   * torch.histc is called with int()-truncated bounds, as in 1.13;
//   * the range comes from the greedy search of caffe2's NormMinimization: shrink from whichever
//     side frees more mass per 1e-5 quantile step, while the L2 quantization error falls, with
//     2^8 destination bins whatever the target grid (torch.ao does not adapt it to quant_min/max).
// Per-tensor only, like torch.ao's.
//
// Options: bins (2048), upsample_rate (128), target_levels (false: 256 levels as torch.ao;
// true: the target grid's 2^b levels, a qx extension for sub-8-bit grids).
#include <cmath>
#include <limits>

#include "qx/core/error.h"
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"
#include "qx/quant/observer.h"

namespace {

using namespace qx::quant;
using torch::Tensor;

const auto kFloat = torch::TensorOptions().dtype(torch::kFloat32);

// density * (end^3 - begin^3) / 3: the L2 norm of values spread evenly between begin and end.
Tensor l2_norm(const Tensor& begin, const Tensor& end, const Tensor& density) {
  return density * ((end * end * end - begin * begin * begin) / 3);
}

class HistogramObserver : public Observer {
 public:
  HistogramObserver(std::int64_t bins, std::int64_t upsample_rate, bool target_levels, ObserverContext context)
      : bins_(bins), upsample_rate_(upsample_rate), target_levels_(target_levels), context_(std::move(context)) {
    reset();
  }

  void reset() override {
    histogram_ = torch::zeros({bins_}, kFloat);
    min_ = torch::tensor(std::numeric_limits<float>::infinity(), kFloat);
    max_ = torch::tensor(-std::numeric_limits<float>::infinity(), kFloat);
  }

  void observe(const Tensor& input) override {
    if (input.numel() == 0) return;
    const auto x = input.detach().to(torch::kFloat32);
    const bool same_values = min_.item<float>() == max_.item<float>();
    const bool uninitialized = std::isinf(min_.item<float>()) && min_.item<float>() > 0;
    if (uninitialized || same_values) {
      auto [lo, hi] = torch::aminmax(x);
      min_ = lo.clone();
      max_ = hi.clone();
      histogram_ = torch::histc(x, bins_, truncate(min_), truncate(max_));
      return;
    }
    auto [new_min, new_max] = torch::aminmax(x);
    auto combined_min = torch::min(new_min, min_);
    auto combined_max = torch::max(new_max, max_);
    // _adjust_min_max: a common grid of width (max - min) / (bins * upsample_rate).
    const auto hist_bin_width = (max_ - min_) / (bins_ * upsample_rate_);
    const auto downsample_rate =
        static_cast<std::int64_t>(torch::ceil((combined_max - combined_min) / (bins_ * hist_bin_width)).item<float>());
    const auto e = downsample_rate * (bins_ * hist_bin_width) - (combined_max - combined_min);
    combined_max = combined_max + e;  // relax only the max, so a one-sided range keeps its 0
    const auto start_idx = static_cast<std::int64_t>(torch::round((min_ - combined_min) / hist_bin_width).item<float>());

    auto combined = torch::histc(x, bins_, truncate(combined_min), truncate(combined_max));
    if (combined_min.item<float>() == min_.item<float>() && combined_max.item<float>() == max_.item<float>()) {
      combined += histogram_;
    } else {
      combined = combine(combined, histogram_, downsample_rate, start_idx);
    }
    histogram_ = combined;
    min_ = combined_min;
    max_ = combined_max;
  }

  Range range(const Grid& grid) const override {
    const auto& spec = grid.spec();
    check_target(context_, spec, "histogram");
    if (std::isinf(min_.item<float>())) qx::fail("observer 'histogram' at {}: nothing was observed", context_.point);
    const std::int64_t levels = target_levels_ ? (std::int64_t{1} << spec.bits) : 256;
    return non_linear_param_search(levels);
  }

 private:
  static double truncate(const Tensor& value) { return static_cast<double>(static_cast<std::int64_t>(value.item<float>())); }

  Tensor combine(const Tensor& orig, const Tensor& new_hist, std::int64_t downsample_rate, std::int64_t start_idx) const {
    const auto upsampled = new_hist.repeat_interleave(upsample_rate_);
    auto with_output_range = torch::zeros({bins_ * downsample_rate}, kFloat);
    with_output_range.slice(0, start_idx, bins_ * upsample_rate_ + start_idx).copy_(upsampled);
    const auto integral = torch::cumsum(with_output_range, 0, torch::kFloat64)
                              .slice(0, downsample_rate - 1, c10::nullopt, downsample_rate);
    auto shifted = torch::zeros({bins_}, kFloat);
    shifted.slice(0, 1, bins_).copy_(integral.slice(0, 0, -1));
    const auto interpolated = (integral - shifted) / upsample_rate_;
    return orig + interpolated.to(torch::kFloat32);
  }

  double quantization_error(std::int64_t start_bin, std::int64_t end_bin, std::int64_t levels) const {
    const double bin_width = (static_cast<double>(max_.item<float>()) - static_cast<double>(min_.item<float>())) /
                             static_cast<double>(bins_);
    const double dst_bin_width = bin_width * static_cast<double>(end_bin - start_bin + 1) / static_cast<double>(levels);
    if (dst_bin_width == 0.0) return 0.0;
    const auto src_bin = torch::arange(bins_, torch::kInt64);
    const auto src_bin_begin = (src_bin - start_bin) * bin_width;
    const auto src_bin_end = src_bin_begin + bin_width;
    const auto dst_of_begin = torch::clamp(torch::div(src_bin_begin, dst_bin_width, "floor"), 0, levels - 1);
    const auto dst_of_begin_center = (dst_of_begin + 0.5) * dst_bin_width;
    const auto dst_of_end = torch::clamp(torch::div(src_bin_end, dst_bin_width, "floor"), 0, levels - 1);
    const auto density = histogram_ / bin_width;
    auto norm = torch::zeros({bins_}, kFloat);
    norm += l2_norm(src_bin_begin - dst_of_begin_center, torch::ones({bins_}, kFloat) * (dst_bin_width / 2), density);
    norm += (dst_of_end - dst_of_begin - 1) *
            l2_norm(torch::tensor(-dst_bin_width / 2, kFloat), torch::tensor(dst_bin_width / 2, kFloat), density);
    const auto dst_of_end_center = dst_of_end * dst_bin_width + dst_bin_width / 2;
    norm += l2_norm(torch::tensor(-dst_bin_width / 2, kFloat), src_bin_end - dst_of_end_center, density);
    return norm.sum().item<float>();
  }

  Range non_linear_param_search(std::int64_t levels) const {
    const auto bin_width = (max_ - min_) / bins_;
    const double total = histogram_.sum().item<float>();
    const auto cumulative = torch::cumsum(histogram_, 0).contiguous();
    const float* c_sum = cumulative.data_ptr<float>();
    constexpr double kStep = 1e-5;
    double alpha = 0.0, beta = 1.0;
    std::int64_t start_bin = 0, end_bin = bins_ - 1;
    double norm_min = std::numeric_limits<double>::infinity();
    while (alpha < beta) {
      const double next_alpha = alpha + kStep, next_beta = beta - kStep;
      std::int64_t l = start_bin, r = end_bin;
      // Python compares a float32 tensor element with a Python float in float32.
      while (l < end_bin && c_sum[l] < static_cast<float>(next_alpha * total)) ++l;
      while (r > start_bin && c_sum[r] > static_cast<float>(next_beta * total)) --r;
      std::int64_t next_start = start_bin, next_end = end_bin;
      if (l - start_bin > end_bin - r) {
        next_start = l;
        alpha = next_alpha;
      } else {
        next_end = r;
        beta = next_beta;
      }
      if (next_start == start_bin && next_end == end_bin) continue;
      const double norm = quantization_error(next_start, next_end, levels);
      if (norm > norm_min) break;
      norm_min = norm;
      start_bin = next_start;
      end_bin = next_end;
    }
    return {min_ + bin_width * start_bin, min_ + bin_width * (end_bin + 1)};
  }

  std::int64_t bins_, upsample_rate_;
  bool target_levels_;
  ObserverContext context_;
  Tensor histogram_, min_, max_;
};

}  // namespace

QX_PLUGIN(observer, histogram, "1.0.0", registrar) {
  registrar.add_observer("histogram", [](const qx::Options& options, const ObserverContext& context) {
    if (context.axis >= 0) {
      qx::fail("observer 'histogram' at {}: per tensor only, as torch.ao's HistogramObserver (use it for activations)",
               context.point);
    }
    const auto bins = options.get_int("bins", 2048);
    const auto upsample_rate = options.get_int("upsample_rate", 128);
    if (bins < 1 || upsample_rate < 1) qx::fail("{}: bins and upsample_rate must be positive", options.owner());
    return std::make_unique<HistogramObserver>(bins, upsample_rate, options.get_bool("target_levels", false), context);
  });
}
