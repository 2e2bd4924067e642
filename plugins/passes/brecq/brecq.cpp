// Block reconstruction. BRECQ (Li et al. 2021): AdaRound's layer-wise objective ignores how the
// errors of two layers in one residual block combine; reconstructing the block's output instead
// lets the rounding of conv1 compensate conv2, and BRECQ learns the block's activation step sizes
// (LSQ) at the same time. QDrop (Wei et al. 2022): during that optimisation, each activation
// element keeps its float value with probability p, which makes the result flatter and more robust
// to the activation noise of the units not yet reconstructed. Two names, one implementation:
//   brecq  - drop_probability = 0
//   qdrop  - drop_probability = 0.5 (the paper's value)
// Units are the model's blocks() (ResNet20: the stem, nine basic blocks, the classifier).
#include "qx/core/error.h"
#include "qx/passes/reconstruction.h"
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"

namespace {

using namespace qx::passes;

class BlockReconstructionPass : public Pass {
 public:
  BlockReconstructionPass(std::string name, ReconstructionOptions options)
      : name_(std::move(name)), options_(options) {}
  PassStage stage() const override { return PassStage::kQuantizedModel; }
  void check(const qx::spec::CellSpec&, const qx::quant::Quantizer& quantizer,
             qx::QuantizableModel& model) const override {
    check_integer_grid(quantizer, "pass '" + name_ + "'");
    if (model.blocks().empty()) qx::fail("pass '{}' needs a model that names its blocks (blocks())", name_);
  }
  void run(PassContext& context) override { reconstruct(context, context.model.blocks(), options_); }

 private:
  std::string name_;
  ReconstructionOptions options_;
};

PassFactory factory(std::string name, double drop_probability) {
  return [name, drop_probability](const qx::Options& options) {
    ReconstructionOptions defaults;
    defaults.learn_activation_steps = true;
    defaults.drop_probability = drop_probability;
    return std::make_unique<BlockReconstructionPass>(name,
                                                     read_reconstruction_options(options, defaults, /*blocks=*/true));
  };
}

}  // namespace

QX_PLUGIN(pass, brecq, "1.0.0", registrar) {
  registrar.add_pass("brecq", factory("brecq", 0.0));
  registrar.add_pass("qdrop", factory("qdrop", 0.5));
}
