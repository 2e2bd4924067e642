#pragma once
// Downloads the official CIFAR-10 binary archive (or a mirror's copy), verifies its MD5 and
// unpacks it. All work happens in a temporary sibling of the destination, renamed into place
// only after every check passed, so a failure (an unreachable source, a truncated transfer, a
// wrong checksum, a corrupt archive, files of the wrong size) leaves nothing where the data is
// looked for; the error is one line with the cause and the ways to give the data instead.
#include <cstdlib>
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
  bool progress = true;  // a progress bar on stderr (redrawn on a terminal, a line per tenth otherwise)
};

// The request with $QX_DATA_URL and $QX_DATA_MD5 in place of the official source where they are
// set: a mirror for a cluster without internet.
inline FetchRequest fetch_request_from_environment() {
  FetchRequest request;
  if (const char* url = std::getenv("QX_DATA_URL"); url && *url) request.url = url;
  if (const char* md5 = std::getenv("QX_DATA_MD5"); md5 && *md5) request.md5 = md5;
  return request;
}

// Returns the path of the unpacked, validated folder.
std::filesystem::path fetch_cifar10(const FetchRequest& request);

}  // namespace qx::data
