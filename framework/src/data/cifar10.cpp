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

Dataset load_cifar10(const fs::path& dir, Split split, std::int64_t records_per_file) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    fail("CIFAR-10 data directory '{}' does not exist (give it with --data DIR, QX_DATA_DIR or [data] dir; "
         "`qx data fetch` downloads it)",
         dir.string());
  }
  const auto files = cifar10_files(split);
  const std::int64_t total = records_per_file * static_cast<std::int64_t>(files.size());
  auto images = torch::empty({total, 3, 32, 32}, torch::kUInt8);
  auto labels = torch::empty({total}, torch::kInt64);
  auto* image_data = images.data_ptr<std::uint8_t>();
  auto* label_data = labels.data_ptr<std::int64_t>();

  std::vector<char> record(kCifarRecordBytes);
  std::int64_t index = 0;
  for (const auto& name : files) {
    const fs::path path = dir / name;
    if (!fs::exists(path, error)) fail("CIFAR-10 file {} is missing", path.string());
    const auto bytes = static_cast<std::int64_t>(fs::file_size(path, error));
    const std::int64_t expected = records_per_file * kCifarRecordBytes;
    if (error || bytes != expected) {
      fail("CIFAR-10 file {} has {} bytes, expected {} ({} records of {} bytes){}", path.string(), bytes, expected,
           records_per_file, kCifarRecordBytes, bytes < expected ? ": truncated" : "");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("CIFAR-10 file {} cannot be opened", path.string());
    for (std::int64_t r = 0; r < records_per_file; ++r, ++index) {
      if (!in.read(record.data(), kCifarRecordBytes)) fail("CIFAR-10 file {}: read failed at record {}", path.string(), r);
      const auto label = static_cast<unsigned char>(record[0]);
      if (label >= kCifarClasses) {
        fail("CIFAR-10 file {}: record {} has label {}, expected 0-9", path.string(), r, static_cast<int>(label));
      }
      label_data[index] = label;
      std::memcpy(image_data + index * kCifarImageBytes, record.data() + 1, kCifarImageBytes);
    }
  }
  return Dataset{images, labels};
}

fs::path resolve_data_dir(const std::string& from_cli, const std::string& from_experiment) {
  if (!from_cli.empty()) return from_cli;
  if (const char* env = std::getenv("QX_DATA_DIR"); env && *env) return env;
  if (!from_experiment.empty()) return from_experiment;
  fail("no CIFAR-10 directory given: use --data DIR, QX_DATA_DIR or [data] dir in the experiment file");
}

}  // namespace qx::data
