#pragma once
// Shared by the libFuzzer targets (tools/fuzz.sh, docs/reliability.md).
//
// Each target feeds its input to the same function `qx` uses for that format. A qx::Error is the
// expected answer to a bad input, and it must keep the contract of every user-facing error: one
// line. Anything else -- a crash, a sanitizer report, another exception type escaping, a
// multi-line message -- is a finding.
//
// With QX_FUZZ_SEEDS=DIR set, a target writes small valid inputs of its format into DIR and
// exits: the seed corpus comes from the code that writes the format, never from a stale file.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "qx/core/error.h"

namespace qx::fuzz {

inline void expect_one_line(const Error& error) {
  const std::string message = error.what();
  if (message.empty() || message.find('\n') != std::string::npos) {
    std::fprintf(stderr, "qx::Error breaks the one-line contract: [%s]\n", message.c_str());
    std::abort();
  }
}

// A per-process scratch folder (tmpfs where there is one: targets that need a file write one
// per execution).
inline std::filesystem::path scratch_dir() {
  static const std::filesystem::path dir = [] {
    const std::filesystem::path base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
    auto path = base / ("qx-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
    return path;
  }();
  return dir;
}

inline void write_file(const std::filesystem::path& path, const void* data, std::size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
}

// Runs `write` into $QX_FUZZ_SEEDS and exits, when that variable is set.
template <typename Writer>
void write_seeds_if_asked(Writer write) {
  const char* dir = std::getenv("QX_FUZZ_SEEDS");
  if (!dir || !*dir) return;
  std::filesystem::create_directories(dir);
  write(std::filesystem::path(dir));
  std::exit(0);
}

}  // namespace qx::fuzz
