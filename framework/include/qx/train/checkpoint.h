#pragma once
// Checkpoints are one pickled dictionary, written with torch::pickle_save, so Python reads them
// with a plain `torch.load(path)` (see docs/checkpoints.md):
//   format "qx.checkpoint", format_version, model, model_options, state_dict, optimizer,
//   epoch (completed), seed, run_uid, config (the TOML recipe text), history,
//   train_state, swa_count (version 2)
// `state_dict` is always the model to use. During an SWA phase that is the weight average with
// its recomputed BatchNorm statistics, and `train_state` holds the SGD iterate training resumes from.
// The random state is not stored: every epoch's generator is seeded from (seed, epoch), so
// (seed, epoch) *is* the RNG and data-order state and a resumed run draws the same numbers.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "qx/core/options.h"

namespace qx::train {

inline constexpr std::int64_t kCheckpointFormatVersion = 2;

struct Checkpoint {
  std::string model;
  std::map<std::string, Options::Value> model_options;
  std::map<std::string, torch::Tensor> state_dict;
  std::map<std::string, torch::Tensor> optimizer;
  std::int64_t epoch = 0;
  std::int64_t seed = 0;
  std::string run_uid;
  std::string config;
  torch::Tensor history;  // float64 [epochs, 10], the columns of history.csv
  std::map<std::string, torch::Tensor> train_state;  // empty outside an SWA phase
  std::int64_t swa_count = 0;                         // snapshots in the average
};

// Written to a temporary file and renamed, so a crash never leaves a torn checkpoint.
void save_checkpoint(const Checkpoint& checkpoint, const std::filesystem::path& path);
// Fails with a one-line qx::Error when the file is missing, unreadable or not a qx checkpoint.
Checkpoint load_checkpoint(const std::filesystem::path& path);
// The same from the file's bytes, already read; `file` names it in errors.
Checkpoint checkpoint_from_bytes(const std::vector<char>& bytes, const std::string& file);

// A copy of the parameters and buffers by name, on the CPU (never aliasing the model's tensors).
std::map<std::string, torch::Tensor> model_state(const torch::nn::Module& model);
// Strict: every name must exist on both sides with the same shape.
void load_model_state(torch::nn::Module& model, const std::map<std::string, torch::Tensor>& state,
                      const std::string& source);

Options options_from_checkpoint(const Checkpoint& checkpoint);

}  // namespace qx::train
