#pragma once
// Output reconstruction, shared by the AdaRound and BRECQ pass plugins.
//
// For each unit (one weight layer for AdaRound, one block for BRECQ), in execution order:
//   * capture the unit's input from the float model (x_fp) and from the simulated model (x_q,
//     which already carries the error of every unit before it), and the float output y_fp;
//   * learn, per weight element, whether to round down or up (AdaRound's rectified sigmoid h(V),
//     pushed to 0 or 1 by a regulariser whose temperature beta anneals from 20 to 2), and
//     optionally the step sizes of the activation points inside the unit (LSQ), minimising
//     |unit_q(x) - y_fp|^2 with x = x_q, or, with QDrop, x_q with each element replaced by x_fp
//     at probability p (and the same random dropping at the unit's own activation points);
//   * write the hard-rounded weights (still on the quantizer's grid) and the learned steps back,
//     unless (without QDrop) the unit's output error on the calibration images is then larger
//     than with nearest rounding and the PTQ steps; then those stay (the report says which).
// Weight scales and zero points stay the quantizer's; only the rounding and activation steps move.
#include <cstdint>
#include <vector>

#include "qx/core/options.h"
#include "qx/nn/model.h"
#include "qx/passes/pass.h"

namespace qx::passes {

struct ReconstructionOptions {
  std::int64_t iterations = 1000;  // per unit; the papers use 10k-20k on a GPU
  std::int64_t batch_size = 32;
  double rounding_lr = 1e-3;       // Adam, on the rounding variables V
  double rounding_weight = 0.01;   // lambda of the rounding regulariser
  double beta_start = 20.0, beta_end = 2.0;
  double warmup = 0.2;             // fraction of iterations before the regulariser starts
  bool learn_activation_steps = false;
  double activation_lr = 4e-5;     // Adam, cosine-annealed, on the activation steps
  double drop_probability = 0.0;   // QDrop; 0 switches it off
};

// Reads the rounding options (iterations .. warmup) from a pass's experiment-file table,
// starting from `defaults`; with `blocks`, also the activation-step and QDrop options.
ReconstructionOptions read_reconstruction_options(const Options& options, ReconstructionOptions defaults,
                                                  bool blocks);

// One unit per weight layer, the layer alone (AdaRound).
std::vector<ModelBlock> layer_units(sim::QuantSim& sim);

// Fails naming the pass when the cell's quantizer has no integer grid.
void check_integer_grid(const quant::Quantizer& quantizer, const std::string& pass);

// Reconstructs the units in order; a non-finite loss stops the cell, naming pass, unit and step.
void reconstruct(PassContext& context, const std::vector<ModelBlock>& units, const ReconstructionOptions& options);

}  // namespace qx::passes
