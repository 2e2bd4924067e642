#pragma once
// One exception type for every user-facing failure. Its message is a single line that names
// the cause (and, for configuration, the file:line:col); `qx` prints it and exits non-zero.
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace qx {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace qx
