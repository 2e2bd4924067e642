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

// The folders looked in, in order, when no folder is given: the checkout's own data/ (where
// `qx data fetch` unpacks, ignored by git), then a data/ folder of a `shared` sibling of the
// checkout, as a cluster or a CI machine lays one beside every clone. Relative to the working
// directory, which for qx's scripts is the repository root.
std::vector<std::filesystem::path> default_data_dirs();

// Where the data is: --data, else $QX_DATA_DIR, else the experiment file's [data] dir, each taken
// as given (a missing folder is load_cifar10's error); else the first of default_data_dirs() that
// exists. When none does, qx::Error says where it looked and the ways to give the data.
std::filesystem::path resolve_data_dir(const std::string& from_cli, const std::string& from_experiment);

// The one-line remedy every "no data" error ends with.
inline constexpr const char* kDataRemedy =
    "give the folder with --data DIR or QX_DATA_DIR, or download it with `qx data fetch` "
    "(QX_DATA_URL and QX_DATA_MD5 name a mirror)";

}  // namespace qx::data
