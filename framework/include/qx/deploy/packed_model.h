#pragma once
// A deployable low-bit model file, so that model sizes are measured, not computed from parameter
// counts. BatchNorm is folded; every weight layer is stored as integer codes packed at its width
// (b bits per weight, little-endian bit order, no padding between weights, each layer starting on
// a byte), with its per-channel (or per-tensor) scales and zero points; everything else (the
// folded biases) stays float32. Width 32 stores the folded weights as float32: the fp32 baseline.
//
// File: "QXPK", u32 format version, u64 header length, a JSON header (model, layers with name,
// shape, bits, axis, offsets), then the payload the header points into.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include <torch/torch.h>

#include "qx/host/plugin_host.h"
#include "qx/train/checkpoint.h"

namespace qx::deploy {

struct PackResult {
  std::uintmax_t bytes = 0;       // the file's size
  std::int64_t weight_bytes = 0;  // of which: packed weight codes
  std::int64_t parameters = 0;    // weights packed
};

// Folds, quantizes the weights with `quantizer` (minmax weight statistics) at `bits` (2-16, or 32
// for float) and writes the file.
PackResult pack_model(const train::Checkpoint& checkpoint, const PluginHost& host, const std::string& quantizer,
                      int bits, const std::filesystem::path& out);

// Reads a packed file back: every tensor of the folded model, weights dequantized.
std::map<std::string, torch::Tensor> unpack_model(const std::filesystem::path& file);

}  // namespace qx::deploy
