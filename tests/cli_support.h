#pragma once
// Running the `qx` binary from tests, and the contract every bad input must meet.
#include <array>
#include <cstdio>
#include <fstream>
#include <string>
#include <sys/wait.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support.h"

namespace qx::test {

struct Outcome {
  int exit_code = -1;
  std::string out, err;
};

inline Outcome run_qx(const std::string& arguments, const ScratchDir& scratch) {
  const auto err_file = scratch / "stderr.txt";
  const std::string command = std::string("cd '") + scratch.path().string() + "' && '" + QX_BINARY + "' " +
                              arguments + " 2>'" + err_file.string() + "'";
  Outcome outcome;
  FILE* pipe = popen(command.c_str(), "r");
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe)) outcome.out += buffer.data();
  const int status = pclose(pipe);
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream in(err_file);
  outcome.err.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return outcome;
}

// Asserts the contract for every bad input.
inline void expect_clean_failure(const Outcome& outcome, const std::string& cause) {
  EXPECT_EQ(outcome.exit_code, 1) << outcome.err;
  EXPECT_THAT(outcome.err, ::testing::StartsWith("qx: error: "));
  EXPECT_EQ(std::count(outcome.err.begin(), outcome.err.end(), '\n'), 1) << outcome.err;
  EXPECT_THAT(outcome.err, ::testing::HasSubstr(cause));
}

}  // namespace qx::test
