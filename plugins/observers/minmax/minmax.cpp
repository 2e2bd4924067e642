// Running minimum and maximum, as torch.ao's MinMaxObserver and PerChannelMinMaxObserver.
// Every outlier widens the range for good, which is right for weights (one pass, every value
// matters) and fragile for activations at low bit widths.
#include "qx/core/error.h"
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"
#include "qx/quant/observer.h"

namespace {

using namespace qx::quant;

class MinMaxObserver : public Observer {
 public:
  explicit MinMaxObserver(ObserverContext context) : context_(std::move(context)) {}

  void observe(const torch::Tensor& x) override {
    const Range batch = tensor_min_max(x, context_.axis);
    if (!seen_.min.defined()) {
      seen_ = batch;
      return;
    }
    seen_.min = torch::minimum(seen_.min, batch.min);
    seen_.max = torch::maximum(seen_.max, batch.max);
  }

  Range range(const Grid& grid) const override {
    check_target(context_, grid.spec(), "minmax");
    if (!seen_.min.defined()) qx::fail("observer 'minmax' at {}: nothing was observed", context_.point);
    return seen_;
  }

  void reset() override { seen_ = Range{}; }

 private:
  ObserverContext context_;
  Range seen_;
};

}  // namespace

QX_PLUGIN(observer, minmax, "1.0.0", registrar) {
  registrar.add_observer("minmax", [](const qx::Options&, const ObserverContext& context) {
    return std::make_unique<MinMaxObserver>(context);
  });
}
