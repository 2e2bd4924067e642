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

Dataset read_cifar10_file(const fs::path& path, std::int64_t records) {
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
  auto images = torch::empty({records, 3, 32, 32}, torch::kUInt8);
  auto labels = torch::empty({records}, torch::kInt64);
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
  return Dataset{images, labels};
}

Dataset load_cifar10(const fs::path& dir, Split split, std::int64_t records_per_file) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    fail("CIFAR-10 data directory '{}' does not exist (give it with --data DIR, QX_DATA_DIR or [data] dir; "
         "`qx data fetch` downloads it)",
         dir.string());
  }
  std::vector<torch::Tensor> images;
  std::vector<torch::Tensor> labels;
  for (const auto& name : cifar10_files(split)) {
    auto part = read_cifar10_file(dir / name, records_per_file);
    images.push_back(std::move(part.images));
    labels.push_back(std::move(part.labels));
  }
  if (images.size() == 1) return Dataset{images.front(), labels.front()};
  return Dataset{torch::cat(images), torch::cat(labels)};
}

fs::path resolve_data_dir(const std::string& from_cli, const std::string& from_experiment) {
  if (!from_cli.empty()) return from_cli;
  if (const char* env = std::getenv("QX_DATA_DIR"); env && *env) return env;
  if (!from_experiment.empty()) return from_experiment;
  fail("no CIFAR-10 directory given: use --data DIR, QX_DATA_DIR or [data] dir in the experiment file");
}

}  // namespace qx::data
