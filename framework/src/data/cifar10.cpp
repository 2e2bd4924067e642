#include "qx/data/cifar10.h"

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "qx/core/error.h"

namespace qx::data {
namespace fs = std::filesystem;

std::vector<std::string> cifar10_files(Split split) {
  if (split == Split::kTest) return {"test_batch.bin"};
  return {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"};
}

namespace {

// Reads one batch file of exactly `records` records into `images` [records, 3, 32, 32] and
// `labels` [records]: views into the split's tensors, so a split is read without a copy.
void read_into(const fs::path& path, std::int64_t records, torch::Tensor images, torch::Tensor labels) {
  std::error_code error;
  if (!fs::exists(path, error)) fail("CIFAR-10 file {} is missing", path.string());
  const auto bytes = static_cast<std::int64_t>(fs::file_size(path, error));
  const std::int64_t expected = records * kCifarRecordBytes;
  if (error || bytes != expected) {
    fail("CIFAR-10 file {} has {} bytes, expected {} ({} records of {} bytes){}", path.string(), bytes, expected,
         records, kCifarRecordBytes, bytes < expected ? ": truncated" : "");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("CIFAR-10 file {} cannot be opened", path.string());
  auto* image_data = images.data_ptr<std::uint8_t>();
  auto* label_data = labels.data_ptr<std::int64_t>();
  std::vector<char> record(kCifarRecordBytes);
  for (std::int64_t r = 0; r < records; ++r) {
    // The size was checked, but the file may shrink under us (a copy still running).
    if (!in.read(record.data(), kCifarRecordBytes)) fail("CIFAR-10 file {}: read failed at record {}", path.string(), r);
    const auto label = static_cast<unsigned char>(record[0]);
    if (label >= kCifarClasses) {
      fail("CIFAR-10 file {}: record {} has label {}, expected 0-9", path.string(), r, static_cast<int>(label));
    }
    label_data[r] = label;
    std::memcpy(image_data + r * kCifarImageBytes, record.data() + 1, kCifarImageBytes);
  }
}

}  // namespace

Dataset read_cifar10_file(const fs::path& path, std::int64_t records) {
  Dataset batch{torch::empty({records, 3, 32, 32}, torch::kUInt8), torch::empty({records}, torch::kInt64)};
  read_into(path, records, batch.images, batch.labels);
  return batch;
}

Dataset load_cifar10(const fs::path& dir, Split split, std::int64_t records_per_file) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    fail("CIFAR-10 data directory '{}' does not exist: {}", dir.string(), kDataRemedy);
  }
  const auto files = cifar10_files(split);
  const auto total = records_per_file * static_cast<std::int64_t>(files.size());
  Dataset dataset{torch::empty({total, 3, 32, 32}, torch::kUInt8), torch::empty({total}, torch::kInt64)};
  for (std::size_t f = 0; f < files.size(); ++f) {
    const auto first = static_cast<std::int64_t>(f) * records_per_file;
    read_into(dir / files[f], records_per_file, dataset.images.narrow(0, first, records_per_file),
              dataset.labels.narrow(0, first, records_per_file));
  }
  return dataset;
}

std::vector<fs::path> default_data_dirs() {
  return {fs::path("data") / "cifar-10-batches-bin", fs::path("..") / "shared" / "data" / "cifar-10-batches-bin"};
}

fs::path resolve_data_dir(const std::string& from_cli, const std::string& from_experiment) {
  if (!from_cli.empty()) return from_cli;
  if (const char* env = std::getenv("QX_DATA_DIR"); env && *env) return env;
  if (!from_experiment.empty()) return from_experiment;
  const auto candidates = default_data_dirs();
  std::string looked;
  for (const auto& dir : candidates) {
    std::error_code error;
    if (fs::is_directory(dir, error)) return dir;
    looked += (looked.empty() ? "" : ", ") + dir.string();
  }
  fail("no CIFAR-10 data found (looked in {} under {}): {}", looked, fs::current_path().string(), kDataRemedy);
}

}  // namespace qx::data
