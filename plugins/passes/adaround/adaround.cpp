// AdaRound (Nagel et al. 2020, "Up or Down? Adaptive Rounding for Post-Training Quantization"):
// rounding to nearest minimises each weight's own error, not the layer's output error. AdaRound
// learns, layer by layer from calibration data, whether each weight rounds down or up so that
// |W_q x_q - W x|^2 is smallest, where x_q is the input the simulated model really delivers.
// The grid (scale, zero point) stays the quantizer's. Shared machinery: passes/reconstruction.h.
#include "qx/passes/reconstruction.h"
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"
#include "qx/sim/quant_sim.h"

namespace {

using namespace qx::passes;

class AdaRoundPass : public Pass {
 public:
  explicit AdaRoundPass(ReconstructionOptions options) : options_(options) {}
  PassStage stage() const override { return PassStage::kQuantizedModel; }
  void check(const qx::spec::CellSpec&, const qx::quant::Quantizer& quantizer, qx::QuantizableModel&) const override {
    check_integer_grid(quantizer, "pass 'adaround'");
  }
  void run(PassContext& context) override { reconstruct(context, layer_units(context.sim), options_); }

 private:
  ReconstructionOptions options_;
};

}  // namespace

QX_PLUGIN(pass, adaround, "1.0.0", registrar) {
  registrar.add_pass("adaround", [](const qx::Options& options) {
    return std::make_unique<AdaRoundPass>(read_reconstruction_options(options, {}, /*blocks=*/false));
  });
}
