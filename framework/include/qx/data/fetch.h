#pragma once
// Downloads the official CIFAR-10 binary archive, verifies its MD5 and unpacks it.
// All work happens in a temporary sibling of the destination, renamed into place only after
// every check passed, so a failure (no network, wrong checksum, bad archive) leaves nothing.
#include <filesystem>
#include <string>

namespace qx::data {

inline constexpr const char* kCifarUrl = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
inline constexpr const char* kCifarMd5 = "c32a1d4ab5d03f1284b67883e8d87530";
inline constexpr const char* kCifarFolder = "cifar-10-batches-bin";

struct FetchRequest {
  std::filesystem::path dir = "data";  // the archive unpacks to dir/cifar-10-batches-bin
  std::string url = kCifarUrl;
  std::string md5 = kCifarMd5;
};

// Returns the path of the unpacked, validated folder.
std::filesystem::path fetch_cifar10(const FetchRequest& request);

}  // namespace qx::data
