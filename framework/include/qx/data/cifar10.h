#pragma once
// CIFAR-10 in the official "binary version" layout: each record is 1 label byte followed by
// 3,072 pixel bytes (1,024 red, 1,024 green, 1,024 blue; 32x32 row-major). The whole split is
// held as one uint8 tensor, so augmentation and batching are tensor ops, not per-image objects.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace qx::data {

inline constexpr std::int64_t kCifarImageBytes = 3 * 32 * 32;
inline constexpr std::int64_t kCifarRecordBytes = 1 + kCifarImageBytes;
inline constexpr std::int64_t kCifarRecordsPerFile = 10000;
inline constexpr std::int64_t kCifarFileBytes = kCifarRecordBytes * kCifarRecordsPerFile;  // 30,730,000
inline constexpr std::int64_t kCifarClasses = 10;

enum class Split { kTrain, kTest };

struct Dataset {
  torch::Tensor images;  // uint8 [N, 3, 32, 32]
  torch::Tensor labels;  // int64 [N]
  std::int64_t size() const { return labels.size(0); }
};

std::vector<std::string> cifar10_files(Split split);

// Reads and validates one batch file of exactly `records` records; qx::Error names the file and
// the problem (missing, wrong size, a label outside 0-9).
Dataset read_cifar10_file(const std::filesystem::path& path, std::int64_t records = kCifarRecordsPerFile);

// Reads and validates one split from `dir`: every file must exist, be exactly
// `records_per_file` records long, and carry labels 0-9; otherwise qx::Error names the file and
// the problem. Tests pass a smaller `records_per_file` for synthetic files.
Dataset load_cifar10(const std::filesystem::path& dir, Split split,
                     std::int64_t records_per_file = kCifarRecordsPerFile);

// Where the data is: --data, else $QX_DATA_DIR, else the experiment file's [data] dir.
std::filesystem::path resolve_data_dir(const std::string& from_cli, const std::string& from_experiment);

}  // namespace qx::data
