#pragma once
// `qx data verify DIR`: checks a CIFAR-10 folder before anything trains or evaluates on it.
// The layout and sizes of the six batch files, labels 0-9, the class balance of each split, and,
// when the folder ships a SHA256SUMS file (as ../shared/data does), the SHA-256 of every file it
// lists, which must include all six batch files. The first problem found is a qx::Error of one
// line that names the file.
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "qx/data/cifar10.h"

namespace qx::data {

struct SplitSummary {
  std::int64_t images = 0;
  std::array<std::int64_t, kCifarClasses> per_class{};
};

struct VerifyReport {
  std::filesystem::path dir;
  SplitSummary train, test;
  std::vector<std::string> checksummed;  // files whose SHA-256 matched SHA256SUMS; empty without one
};

inline constexpr const char* kChecksumFile = "SHA256SUMS";

// `records_per_file` as in load_cifar10: tests use small synthetic folders.
VerifyReport verify_cifar10(const std::filesystem::path& dir, std::int64_t records_per_file = kCifarRecordsPerFile);

}  // namespace qx::data
