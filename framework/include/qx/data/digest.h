#pragma once
// Checksums of files, as hex strings: MD5 for the official CIFAR-10 archive, SHA-256 for the
// SHA256SUMS files that ship beside a dataset. OpenSSL computes them; a qx built without OpenSSL
// (-DQX_WITH_DOWNLOAD=OFF on a machine without it) refuses with a sentence that says so.
#include <filesystem>
#include <string>

namespace qx::data {

enum class DigestKind { kMd5, kSha256 };

// Lower-case hex digest of the file's bytes; qx::Error names the file when it cannot be read.
std::string file_digest(const std::filesystem::path& file, DigestKind kind);

}  // namespace qx::data
