#include "qx/passes/progress.h"

#include <filesystem>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "qx/core/error.h"

namespace qx::passes {
namespace {

constexpr const char* kFormat = "qx.training-progress.1";

// Archive keys may not hold dots, and parameter names do: momenta are numbered, their names
// kept as one list.
void save_momentum(torch::serialize::OutputArchive& archive, const std::string& prefix, const train::Sgd& sgd) {
  std::vector<std::string> names;
  for (const auto& [name, momentum] : sgd.state()) {
    archive.write(fmt::format("{}_{}", prefix, names.size()), momentum);
    names.push_back(name);
  }
  archive.write(prefix + "_names", c10::IValue(names));
}

void load_momentum(torch::serialize::InputArchive& archive, const std::string& prefix, train::Sgd& sgd) {
  c10::IValue value;
  archive.read(prefix + "_names", value);
  const auto names = value.to<std::vector<std::string>>();
  std::map<std::string, torch::Tensor> state;
  for (std::size_t i = 0; i < names.size(); ++i) archive.read(fmt::format("{}_{}", prefix, i), state[names[i]]);
  sgd.load_state(state);
}

}  // namespace

bool ProgressFile::exists() const { return enabled() && std::filesystem::exists(file_); }

void ProgressFile::save(std::int64_t epochs_done, const TrainingState& state) const {
  torch::NoGradGuard no_grad;
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string(kFormat)));
  archive.write("epochs_done", c10::IValue(epochs_done));
  if (state.tensors) {
    archive.write("tensors", c10::IValue(static_cast<std::int64_t>(state.tensors->size())));
    for (std::size_t i = 0; i < state.tensors->size(); ++i) {
      archive.write(fmt::format("tensor_{}", i), (*state.tensors)[i].detach());
    }
  }
  for (std::size_t i = 0; i < state.sgd.size(); ++i) save_momentum(archive, fmt::format("sgd{}", i), *state.sgd[i]);
  if (state.adam) {
    torch::serialize::OutputArchive adam;
    state.adam->save(adam);
    archive.write("adam", adam);
  }
  if (state.average) {
    archive.write("average_count", c10::IValue(state.average->count()));
    const auto& mean = state.average->mean();
    for (std::size_t i = 0; i < mean.size(); ++i) archive.write(fmt::format("average_{}", i), mean[i]);
  }
  if (state.lines) archive.write("lines", c10::IValue(*state.lines));
  if (state.numbers) archive.write("numbers", *state.numbers);
  std::filesystem::create_directories(std::filesystem::path(file_).parent_path());
  const auto temporary = file_ + ".part";
  archive.save_to(temporary);
  std::filesystem::rename(temporary, file_);
}

std::int64_t ProgressFile::load(const TrainingState& state) const {
  try {
    torch::NoGradGuard no_grad;
    torch::serialize::InputArchive archive;
    archive.load_from(file_);
    c10::IValue value;
    archive.read("format", value);
    if (!value.isString() || value.toStringRef() != kFormat) fail("{}: {} is not a qx training progress file", pass_, file_);
    archive.read("epochs_done", value);
    const auto epochs_done = value.toInt();
    if (state.tensors) {
      archive.read("tensors", value);
      if (value.toInt() != static_cast<std::int64_t>(state.tensors->size())) {
        fail("{}: {} holds another training ({} tensors, this one trains {}); delete it to start over", pass_, file_,
             value.toInt(), state.tensors->size());
      }
      for (std::size_t i = 0; i < state.tensors->size(); ++i) {
        torch::Tensor saved;
        archive.read(fmt::format("tensor_{}", i), saved);
        auto& target = (*state.tensors)[i];
        if (!saved.sizes().equals(target.sizes())) {
          fail("{}: {} holds another training (tensor {} is [{}], here [{}]); delete it to start over", pass_, file_, i,
               fmt::join(saved.sizes(), ", "), fmt::join(target.sizes(), ", "));
        }
        target.copy_(saved);
      }
    }
    for (std::size_t i = 0; i < state.sgd.size(); ++i) load_momentum(archive, fmt::format("sgd{}", i), *state.sgd[i]);
    if (state.adam) {
      torch::serialize::InputArchive adam;
      archive.read("adam", adam);
      state.adam->load(adam);
    }
    if (state.average) {
      archive.read("average_count", value);
      const auto count = value.toInt();
      std::vector<torch::Tensor> mean(count > 0 && state.tensors ? state.tensors->size() : 0);
      for (std::size_t i = 0; i < mean.size(); ++i) archive.read(fmt::format("average_{}", i), mean[i]);
      state.average->restore(std::move(mean), count);
    }
    if (state.lines) {
      archive.read("lines", value);
      *state.lines = value.to<std::vector<std::string>>();
    }
    if (state.numbers) archive.read("numbers", *state.numbers);
    return epochs_done;
  } catch (const c10::Error& e) {
    fail("{}: cannot read its progress file {} ({}); delete it to start over", pass_, file_, e.what_without_backtrace());
  }
}

void ProgressFile::remove() const {
  if (enabled()) std::filesystem::remove(file_);
}

}  // namespace qx::passes
