#pragma once
// Shared test helpers: a seeded fixture, a scratch directory, tensor comparison, and writers
// for small synthetic CIFAR-10 binary files.
#include <cstdint>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "qx/data/cifar10.h"

namespace qx::test {

class SeededTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::manual_seed(0); }
};

// A fresh directory under the system temp dir, removed with the object.
class ScratchDir {
 public:
  ScratchDir() {
    std::random_device device;
    path_ = std::filesystem::temp_directory_path() / ("qx-test-" + std::to_string(device()) + std::to_string(device()));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// `size` random uint8 images with random labels: enough to drive the training loop in tests.
inline data::Dataset random_dataset(std::int64_t size, std::uint64_t seed) {
  torch::manual_seed(seed);
  return {torch::randint(0, 256, {size, 3, 32, 32}, torch::kUInt8), torch::randint(0, 10, {size})};
}

// BatchNorm statistics away from the identity, so that folding and the passes have work to do.
inline void randomize_batchnorm_statistics(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (auto& buffer : model.named_buffers()) {
    if (buffer.key().find("running_var") != std::string::npos) buffer.value().uniform_(0.5, 2.0);
    if (buffer.key().find("running_mean") != std::string::npos) buffer.value().normal_(0.0, 0.2);
  }
}

// Writes `records` CIFAR records with labels i % 10 and pixel bytes derived from the index.
inline void write_cifar_file(const std::filesystem::path& file, std::int64_t records, int bad_label_at = -1) {
  std::ofstream out(file, std::ios::binary);
  std::string record(data::kCifarRecordBytes, '\0');
  for (std::int64_t r = 0; r < records; ++r) {
    record[0] = static_cast<char>(r == bad_label_at ? 10 : r % 10);
    for (std::int64_t b = 1; b < data::kCifarRecordBytes; ++b) record[b] = static_cast<char>((r * 7 + b) % 251);
    out.write(record.data(), static_cast<std::streamsize>(record.size()));
  }
}

inline void write_cifar_dir(const std::filesystem::path& dir, std::int64_t records_per_file) {
  std::filesystem::create_directories(dir);
  for (auto split : {data::Split::kTrain, data::Split::kTest}) {
    for (const auto& name : data::cifar10_files(split)) write_cifar_file(dir / name, records_per_file);
  }
}

// Reference checks against Python PyTorch (Debian's python3-torch; pyenv's python3 lacks it).
inline bool python_torch_available() {
  return std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
}

// Writes tensors as a pickled dict that Python's torch.load reads.
inline void save_for_python(const std::filesystem::path& file, const std::map<std::string, torch::Tensor>& tensors) {
  c10::impl::GenericDict dict(c10::StringType::get(), c10::TensorType::get());
  for (const auto& [name, tensor] : tensors) dict.insert(name, tensor.detach());
  const auto bytes = torch::pickle_save(dict);
  std::ofstream(file, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Runs one line of Python (no double quotes) and returns its exit status.
inline int run_python(const std::string& code) {
  const std::string command = "/usr/bin/python3 -c \"" + code + "\"";
  return std::system(command.c_str());
}

// Same shape, NaNs in the same places, and values within tolerance (exact by default).
inline ::testing::AssertionResult tensors_equal(const torch::Tensor& a, const torch::Tensor& b, double atol = 0.0,
                                                double rtol = 0.0) {
  if (!a.sizes().equals(b.sizes())) {
    return ::testing::AssertionFailure() << "shapes differ: " << a.sizes() << " vs " << b.sizes();
  }
  if (!torch::equal(a.isnan(), b.isnan())) return ::testing::AssertionFailure() << "NaN positions differ";
  if (atol == 0.0 && rtol == 0.0 ? !torch::equal(a, b) : !torch::allclose(a, b, rtol, atol, /*equal_nan=*/true)) {
    return ::testing::AssertionFailure() << "max |a-b| = " << (a - b).abs().max().item<double>();
  }
  return ::testing::AssertionSuccess();
}

}  // namespace qx::test
