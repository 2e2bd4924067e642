#pragma once
// A cell's model as an ONNX file: opset 13, QuantizeLinear/DequantizeLinear (QDQ) at every point
// the cell quantizes, written with ONNX's own protobuf schema (Debian's libonnx) and checked by
// onnx::checker before it is kept. docs/deployment.md, "ONNX export", is the full account.
//
// What the file computes is what the simulation computes:
//  * Input "pixels", float32 [N, 3, 32, 32] holding pixel / 255; the graph multiplies by 255 and
//    standardises exactly as data::normalize() does. Output "logits", [N, classes].
//  * Every quantized weight is stored as the cell's integer codes (per output channel where the
//    cell's quantizer is), in an int8 container for a signed grid and uint8 for an unsigned one,
//    with the cell's scales and zero points, and dequantized in the graph. The codes are checked
//    to reproduce the simulated weight: a weight that is not on its grid is refused.
//  * Every activation point the cell quantizes becomes QuantizeLinear -> DequantizeLinear with
//    its scale and zero point. A grid narrower than its 8-bit container (4 bits: [0, 15]) clips
//    the integer codes with Clip, which clamps them exactly as fake-quantization does.
//  * Biases feeding a quantized layer are int32 at scale s_in * s_w, as integer kernels need them.
//    This is the one place the file rounds where the simulation does not: by at most half of
//    s_in * s_w, a small fraction of an output step at 8 bits and a sizeable one at 4
//    (run/onnx_judge.h measures what it changes).
//  * Folded BatchNorm ("add b'", nn/fold.h) goes into the convolution's bias; an unfolded one
//    stays a BatchNormalization node.
// Refused in one line: a point or weight wider than 8 bits (opset 13's QuantizeLinear holds
// 8-bit integers only), a quantizer without an integer grid (float16), a model without graph().
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "qx/data/batches.h"
#include "qx/sim/quant_sim.h"

namespace qx::deploy {

struct OnnxExportOptions {
  data::Normalization normalization;
  std::string description;  // the model's doc_string: the cell, as spec::describe() names it
};

struct OnnxExportSummary {
  std::uintmax_t bytes = 0;
  int nodes = 0;
  int quantized_weights = 0;      // weight layers stored as integer codes
  int quantized_activations = 0;  // QuantizeLinear/DequantizeLinear pairs at activation points
  int clipped_activations = 0;    // of which narrower than their container
};

// Writes the model of `sim`, as its cell quantized it, to `out` (written to a temporary name and
// renamed, so that a failed export leaves nothing). Throws qx::Error naming the cause.
OnnxExportSummary export_onnx(sim::QuantSim& sim, const std::filesystem::path& out, const OnnxExportOptions& options);

}  // namespace qx::deploy
