// The README's "Writing a plugin" walk-through, compiled: one folder, one .cpp, one CMake line,
// built out of tree against an installed qx (CMakeLists.txt beside it; CTest InstalledPackage).
// It keeps the largest |x| seen and answers with a symmetric range at a fraction of it.
#include "qx/core/error.h"
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"
#include "qx/quant/observer.h"

namespace {

using namespace qx::quant;

class ShrunkMaxObserver : public Observer {
 public:
  ShrunkMaxObserver(double fraction, ObserverContext context) : fraction_(fraction), context_(std::move(context)) {}

  void observe(const torch::Tensor& x) override {
    const auto batch = x.detach().abs().max();
    largest_ = largest_.defined() ? torch::maximum(largest_, batch) : batch;
  }

  Range range(const Grid& grid) const override {
    check_target(context_, grid.spec(), "shrunk_max");
    if (!largest_.defined()) qx::fail("observer 'shrunk_max' at {}: nothing was observed", context_.point);
    return {-largest_ * fraction_, largest_ * fraction_};
  }

  void reset() override { largest_ = torch::Tensor(); }

 private:
  double fraction_;
  ObserverContext context_;
  torch::Tensor largest_;
};

}  // namespace

QX_PLUGIN(observer, shrunk_max, "0.1.0", registrar) {
  registrar.add_observer("shrunk_max", [](const qx::Options& options, const ObserverContext& context) {
    if (context.axis >= 0) qx::fail("observer 'shrunk_max' at {}: per tensor only", context.point);
    return std::make_unique<ShrunkMaxObserver>(options.get_double("fraction", 0.9), context);
  });
}
