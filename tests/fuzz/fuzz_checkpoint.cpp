// The checkpoint loader, and what `qx eval`, `qx run` and `qx train --resume` do next with an
// accepted checkpoint: read its model options and load its state into a model, strictly by name
// and shape. Seeds: small checkpoints written by save_checkpoint, formats 1 and 2.
#include <cstddef>
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "fuzz_support.h"
#include "qx/train/checkpoint.h"

namespace {

torch::nn::Sequential small_model() {
  return torch::nn::Sequential(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 2, 3).bias(false)),
                               torch::nn::BatchNorm2d(2), torch::nn::Flatten(), torch::nn::Linear(2, 2));
}

void write_seeds(const std::filesystem::path& dir) {
  torch::manual_seed(0);
  auto model = small_model();
  qx::train::Checkpoint checkpoint;
  checkpoint.model = "small";
  checkpoint.model_options = {{"width", std::int64_t{2}}, {"dropout", 0.5}, {"bias", false}, {"name", std::string("x")}};
  checkpoint.state_dict = qx::train::model_state(*model);
  checkpoint.optimizer = {{"momentum.0", torch::zeros({2})}};
  checkpoint.epoch = 3;
  checkpoint.seed = 1;
  checkpoint.run_uid = "fuzz-seed";
  checkpoint.config = "name = \"small\"\n";
  checkpoint.history = torch::zeros({3, 10}, torch::kFloat64);
  qx::train::save_checkpoint(checkpoint, dir / "plain.pt");
  checkpoint.train_state = qx::train::model_state(*model);
  checkpoint.swa_count = 2;
  qx::train::save_checkpoint(checkpoint, dir / "swa.pt");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  qx::fuzz::write_seeds_if_asked(write_seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static auto model = small_model();
  const std::vector<char> bytes(reinterpret_cast<const char*>(data), reinterpret_cast<const char*>(data) + size);
  try {
    const auto checkpoint = qx::train::checkpoint_from_bytes(bytes, "fuzz.pt");
    qx::train::options_from_checkpoint(checkpoint);
    qx::train::load_model_state(*model, checkpoint.state_dict, "checkpoint fuzz.pt");
    if (!checkpoint.train_state.empty()) qx::train::load_model_state(*model, checkpoint.train_state, "checkpoint fuzz.pt");
  } catch (const qx::Error& error) {
    qx::fuzz::expect_one_line(error);
  }
  return 0;
}
