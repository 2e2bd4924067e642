#pragma once
// One exception type for every user-facing failure. Its message is a single line that names
// the cause (and, for configuration, the file:line:col); `qx` prints it and exits non-zero.
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace qx {

// The destructor is defined out of line, in the engine: that makes the engine the one home of the
// class's vtable and type info. An Error thrown inside a plugin then needs no code of the plugin,
// and may outlive it (an error raised while validating a grid unwinds past the plugin host).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message);
  ~Error() override;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace qx
