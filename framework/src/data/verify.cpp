#include "qx/data/verify.h"

#include <fstream>
#include <algorithm>
#include <cctype>
#include <map>

#include "qx/core/error.h"
#include "qx/data/digest.h"

namespace qx::data {
namespace fs = std::filesystem;

namespace {

SplitSummary summarize(const Dataset& split, Split which, const fs::path& dir) {
  SplitSummary summary;
  summary.images = split.size();
  const auto counts = torch::bincount(split.labels, {}, kCifarClasses);
  for (std::int64_t c = 0; c < kCifarClasses; ++c) summary.per_class[c] = counts[c].item<std::int64_t>();
  // CIFAR-10's splits are exactly balanced; an unbalanced one is a wrong or mixed-up file.
  const std::int64_t expected = summary.images / kCifarClasses;
  for (std::int64_t c = 0; c < kCifarClasses; ++c) {
    if (summary.per_class[c] != expected) {
      const auto files = cifar10_files(which);
      fail("{}: class {} has {} images in {}{}, expected {} (CIFAR-10's classes are balanced)", dir.string(), c,
           summary.per_class[c], files.front(), files.size() > 1 ? " to " + files.back() : std::string(), expected);
    }
  }
  return summary;
}

// SHA256SUMS in sha256sum's format: "<64 hex>  <name>" ('*' before the name marks binary mode).
std::map<std::string, std::string> read_checksums(const fs::path& file) {
  std::ifstream in(file);
  if (!in) fail("{}: cannot be read", file.string());
  std::map<std::string, std::string> sums;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    constexpr std::size_t kHexDigits = 64;
    const bool well_formed = line.size() > kHexDigits + 2 && line[kHexDigits] == ' ' &&
                             (line[kHexDigits + 1] == ' ' || line[kHexDigits + 1] == '*') &&
                             std::all_of(line.begin(), line.begin() + kHexDigits,
                                         [](unsigned char ch) { return std::isxdigit(ch) != 0; });
    if (!well_formed) {
      fail("{}:{}: not a sha256sum line (expected '<64 hex digits>  <file name>')", file.string(), number);
    }
    std::string hex = line.substr(0, kHexDigits);
    for (auto& ch : hex) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    sums[line.substr(kHexDigits + 2)] = hex;
  }
  return sums;
}

std::vector<std::string> check_sums(const fs::path& dir) {
  const fs::path sums_file = dir / kChecksumFile;
  const auto sums = read_checksums(sums_file);
  for (const auto split : {Split::kTrain, Split::kTest}) {
    for (const auto& name : cifar10_files(split)) {
      if (!sums.count(name)) fail("{}: no entry for {}", sums_file.string(), name);
    }
  }
  std::vector<std::string> checked;
  for (const auto& [name, expected] : sums) {
    const fs::path file = dir / name;
    if (!fs::exists(file)) fail("{}: listed in {} but missing", file.string(), kChecksumFile);
    const auto actual = file_digest(file, DigestKind::kSha256);
    if (actual != expected) {
      fail("{}: SHA-256 {} does not match {}'s {}", file.string(), actual, kChecksumFile, expected);
    }
    checked.push_back(name);
  }
  return checked;
}

}  // namespace

VerifyReport verify_cifar10(const fs::path& dir, std::int64_t records_per_file) {
  VerifyReport report;
  report.dir = dir;
  // Sizes and labels first: they name the broken file more precisely than a checksum can.
  report.train = summarize(load_cifar10(dir, Split::kTrain, records_per_file), Split::kTrain, dir);
  report.test = summarize(load_cifar10(dir, Split::kTest, records_per_file), Split::kTest, dir);
  if (fs::exists(dir / kChecksumFile)) report.checksummed = check_sums(dir);
  return report;
}

}  // namespace qx::data
