#pragma once
// A training pass's progress between runs of its cell (PassContext::resume_file): what it has
// trained at an epoch's end, so that a run stopped part way goes on from there. A pass whose
// epochs draw their batches from generators seeded by (seed, epoch) and whose earlier passes
// repeat exactly then ends as the uninterrupted run would, bit for bit (passes/lsq).
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "qx/train/sgd.h"
#include "qx/train/swa.h"

namespace qx::passes {

// Where the state lives; every member may be null (nothing of that kind is kept).
struct TrainingState {
  std::vector<torch::Tensor>* tensors;     // restored in place, shapes checked
  std::vector<train::Sgd*> sgd;            // momentum buffers, by parameter name
  torch::optim::Optimizer* adam;           // torch's own serialization
  train::TensorAverage* average;
  std::vector<std::string>* lines;         // whatever else the pass keeps (a curve so far)
  torch::Tensor* numbers;
};

class ProgressFile {
 public:
  // `file` empty: disabled. `pass` names the pass in errors ("pass 'lsq'").
  ProgressFile(std::string file, std::string pass) : file_(std::move(file)), pass_(std::move(pass)) {}

  bool enabled() const { return !file_.empty(); }
  bool exists() const;
  // Written to a temporary beside the file and renamed over it, so a kill leaves the last whole one.
  void save(std::int64_t epochs_done, const TrainingState& state) const;
  // Fills `state` from the file and returns the epochs it had done. Fails in one line naming the
  // file (unreadable, another training's, not a progress file): delete it to start over.
  std::int64_t load(const TrainingState& state) const;
  // Once the pass has finished: a later run of the cell starts from its beginning.
  void remove() const;

 private:
  std::string file_, pass_;
};

}  // namespace qx::passes
