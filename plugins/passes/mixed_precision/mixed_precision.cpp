// Mixed precision from measured sensitivity. Layers do not suffer equally from few levels: the
// first convolution sees raw pixels through 3 input channels, the classifier decides directly,
// and a block's conv2 feeds a residual sum. This pass measures, for every weight layer and every
// candidate width, how far the network's output moves when only that layer's weights are
// quantized (everything else float), on calibration images, never the test set:
//   KL(softmax(float logits) || softmax(quantized logits)), plus top-1 agreement and logit SQNR
//   for the report.
// It then spends an average weight-bit budget (weighted by parameter count, i.e. model size; by
// default the cell's own weight width) greedily: all layers start at the widest candidate, and
// the layer whose next narrower width costs the least KL per bit saved steps down until the
// average fits. Activations keep the cell's width. Listed first among quantized-model passes,
// so that rounding passes after it see the final widths.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "qx/core/error.h"
#include "qx/passes/pass.h"
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"
#include "qx/quant/qparams.h"
#include "qx/sim/quant_sim.h"

namespace {

using namespace qx::passes;

struct Sensitivity {
  double kl = 0, agreement = 0, sqnr_db = 0;
};

class MixedPrecision : public Pass {
 public:
  MixedPrecision(std::vector<int> candidates, double budget) : candidates_(std::move(candidates)), budget_(budget) {}
  PassStage stage() const override { return PassStage::kQuantizedModel; }
  void check(const qx::spec::CellSpec& cell, const qx::quant::Quantizer& quantizer, qx::QuantizableModel&) const override {
    if (!quantizer.integer_grid()) qx::fail("pass 'mixed_precision' chooses integer widths; this quantizer has none");
    const double budget = budget_ > 0 ? budget_ : cell.weight_bits;
    if (budget < candidates_.front()) {
      qx::fail("pass 'mixed_precision': budget {} bits is below the narrowest candidate {}", budget, candidates_.front());
    }
  }

  void run(PassContext& context) override {
    auto& sim = context.sim;
    const double budget = budget_ > 0 ? budget_ : sim.cell().weight_bits;
    std::map<std::string, std::map<int, Sensitivity>> sensitivity;
    {
      qx::sim::QuantSim::FloatScope float_model(sim);
      torch::NoGradGuard no_grad;
      const auto reference = logits(context);
      for (auto& site : sim.weight_sites()) {
        const auto original = site.weight.detach().clone();
        for (int bits : candidates_) {
          sim.set_weight_bits(site.name, bits);
          sensitivity[site.name][bits] = compare(reference, logits(context));
          site.weight.copy_(original);
        }
      }
    }
    // Greedy descent from the widest candidate.
    std::map<std::string, std::size_t> choice;
    double total_params = 0, used = 0;
    for (auto& site : sim.weight_sites()) {
      choice[site.name] = candidates_.size() - 1;
      total_params += static_cast<double>(site.weight.numel());
      used += static_cast<double>(site.weight.numel()) * candidates_.back();
    }
    while (used / total_params > budget + 1e-9) {
      const qx::sim::WeightSite* best = nullptr;
      double best_cost = std::numeric_limits<double>::infinity();
      for (auto& site : sim.weight_sites()) {
        const auto i = choice[site.name];
        if (i == 0) continue;
        const int saved = candidates_[i] - candidates_[i - 1];
        const double cost = (sensitivity[site.name][candidates_[i - 1]].kl - sensitivity[site.name][candidates_[i]].kl) /
                            (saved * static_cast<double>(site.weight.numel()));
        if (cost < best_cost) best_cost = cost, best = &site;
      }
      if (!best) break;
      const auto i = choice[best->name]--;
      used -= static_cast<double>(best->weight.numel()) * (candidates_[i] - candidates_[i - 1]);
    }
    std::vector<std::string> layers;
    for (auto& site : sim.weight_sites()) {
      const int bits = candidates_[choice[site.name]];
      sim.set_weight_bits(site.name, bits);
      std::vector<std::string> measured;
      for (int b : candidates_) {
        const auto& s = sensitivity[site.name][b];
        measured.push_back(fmt::format("\"{}\":{{\"kl\":{:.6g},\"agreement\":{:.4f},\"sqnr_db\":{:.3f}}}", b, s.kl,
                                       s.agreement, s.sqnr_db));
      }
      layers.push_back(fmt::format("{{\"layer\":\"{}\",\"params\":{},\"bits\":{},\"sensitivity\":{{{}}}}}", site.name,
                                   site.weight.numel(), bits, fmt::join(measured, ",")));
    }
    context.report = fmt::format("{{\"budget\":{:.4g},\"average_weight_bits\":{:.4f},\"layers\":[{}]}}", budget,
                                 used / total_params, fmt::join(layers, ","));
  }

 private:
  static torch::Tensor logits(PassContext& context) {
    std::vector<torch::Tensor> out;
    for (const auto& batch : context.calibration) out.push_back(context.model.forward(batch).to(torch::kFloat64));
    return torch::cat(out);
  }

  static Sensitivity compare(const torch::Tensor& reference, const torch::Tensor& quantized) {
    Sensitivity s;
    const auto log_p = torch::log_softmax(reference, 1), log_q = torch::log_softmax(quantized, 1);
    s.kl = (log_p.exp() * (log_p - log_q)).sum(1).mean().item<double>();
    s.agreement = 100.0 * reference.argmax(1).eq(quantized.argmax(1)).to(torch::kFloat64).mean().item<double>();
    const double noise = (reference - quantized).square().sum().item<double>();
    s.sqnr_db = noise > 0 ? 10.0 * std::log10(reference.square().sum().item<double>() / noise)
                          : std::numeric_limits<double>::infinity();
    return s;
  }

  std::vector<int> candidates_;
  double budget_;
};

}  // namespace

QX_PLUGIN(pass, mixed_precision, "1.0.0", registrar) {
  registrar.add_pass("mixed_precision", [](const qx::Options& options) {
    // Options carry scalars only: the candidate widths come as a string, "2,3,4,6,8".
    const auto text = options.get_string("candidates", "2,3,4,6,8");
    std::vector<int> candidates;
    std::size_t start = 0;
    while (start <= text.size()) {
      const auto end = std::min(text.find(',', start), text.size());
      try {
        candidates.push_back(std::stoi(text.substr(start, end - start)));
      } catch (const std::exception&) {
        qx::fail("{}: candidates must be comma-separated bit widths, got '{}'", options.owner(), text);
      }
      start = end + 1;
    }
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
    for (int bits : candidates) qx::quant::QuantSpec{bits}.validate(options.owner() + ": candidates");
    const double budget = options.get_double("budget", 0.0, 0.0, 16.0);
    return std::make_unique<MixedPrecision>(candidates, budget);
  });
}
