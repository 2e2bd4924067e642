// Exponential moving average of each batch's minimum and maximum, with the semantics of
// torch.ao's MovingAverageMinMaxObserver (and its per-channel sibling): the first batch sets the
// range, each later one moves it by `averaging_constant` (default 0.01) toward its own extremes.
// A rare outlier batch then shifts the range a little instead of owning it.
#include "qx/core/error.h"
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"
#include "qx/quant/observer.h"

namespace {

using namespace qx::quant;

class MovingAverageObserver : public Observer {
 public:
  MovingAverageObserver(double averaging_constant, ObserverContext context)
      : averaging_constant_(averaging_constant), context_(std::move(context)) {}

  void observe(const torch::Tensor& x) override {
    const Range batch = tensor_min_max(x, context_.axis);
    if (!average_.min.defined()) {
      average_ = batch;
      return;
    }
    average_.min = average_.min + averaging_constant_ * (batch.min - average_.min);
    average_.max = average_.max + averaging_constant_ * (batch.max - average_.max);
  }

  Range range(const Grid& grid) const override {
    check_target(context_, grid.spec(), "moving_average");
    if (!average_.min.defined()) qx::fail("observer 'moving_average' at {}: nothing was observed", context_.point);
    return average_;
  }

  void reset() override { average_ = Range{}; }

 private:
  double averaging_constant_;
  ObserverContext context_;
  Range average_;
};

}  // namespace

QX_PLUGIN(observer, moving_average, "1.0.0", registrar) {
  registrar.add_observer("moving_average", [](const qx::Options& options, const ObserverContext& context) {
    const double constant = options.get_double("averaging_constant", 0.01);
    if (!(constant > 0.0 && constant <= 1.0)) {
      qx::fail("{}: averaging_constant must be in (0, 1], got {}", options.owner(), constant);
    }
    return std::make_unique<MovingAverageObserver>(constant, context);
  });
}
