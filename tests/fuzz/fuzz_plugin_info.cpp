// The plugin info record: what a library's qx_plugin_info() returns, checked by the plugin host
// before any other code of the library runs. The record comes from a foreign binary, so every
// field may be anything: a wrong magic or ABI, null or unterminated-looking strings, text with
// control characters. The host must answer with a one-line rejection or accept it whole.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "fuzz_support.h"
#include "qx/host/plugin_host.h"
#include "qx/plugin/abi.h"

namespace {

// Takes fields off the front of the input; past its end every field reads as zero or empty.
class Fields {
 public:
  Fields(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  std::uint8_t byte() { return at_ < size_ ? data_[at_++] : 0; }
  std::uint32_t word() {
    std::uint32_t value = 0;
    for (int i = 0; i < 4; ++i) value = value << 8 | byte();
    return value;
  }
  std::string string() {
    const std::size_t length = byte() % 65;
    std::string value;
    for (std::size_t i = 0; i < length && at_ < size_; ++i) value.push_back(static_cast<char>(data_[at_++]));
    return value;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

// Half the time a field holds what this host expects, so that the checks behind it are reached.
std::optional<std::string> text(Fields& input, const char* expected) {
  switch (input.byte() % 4) {
    case 0: return std::nullopt;  // a null pointer
    case 1: return std::string(expected);
    default: return input.string();
  }
}

const char* pointer(const std::optional<std::string>& value) { return value ? value->c_str() : nullptr; }

// Seeds: the record this host accepts (every selector 1: its magic, ABI, LibTorch, compiler, an
// observer named minmax, version 1.0.0), and one with its own strings in place of the last three.
void write_seeds(const std::filesystem::path& dir) {
  const std::uint8_t accepted[] = {1, 1, 1, 1, 1, 1, 1};
  qx::fuzz::write_file(dir / "accepted.bin", accepted, sizeof accepted);
  const std::string own = std::string("\x01\x01\x01\x01\x02\x05" "model" "\x02\x03" "mse" "\x02\x05" "0.1.0");
  qx::fuzz::write_file(dir / "own-strings.bin", own.data(), own.size());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  qx::fuzz::write_seeds_if_asked(write_seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Fields input(data, size);
  const qx::PluginInfo host = qx::host_plugin_info();
  const auto magic = input.byte() % 2 ? host.magic : input.word();
  const auto abi = input.byte() % 2 ? host.abi_version : input.word();
  const auto torch_version = text(input, host.torch_version);
  const auto compiler = text(input, host.compiler);
  const auto kind = text(input, "observer");
  const auto name = text(input, "minmax");
  const auto version = text(input, "1.0.0");
  const qx::PluginInfo plugin{magic,           abi,           pointer(torch_version), pointer(compiler),
                              pointer(kind), pointer(name), pointer(version)};
  const std::string rejection = qx::check_plugin_info(plugin, "libqx_observer_fuzz.so");
  if (rejection.find('\n') != std::string::npos || rejection.find('\r') != std::string::npos) {
    std::fprintf(stderr, "plugin rejection breaks the one-line contract: [%s]\n", rejection.c_str());
    std::abort();
  }
  // An accepted record names a kind the host knows, and a name and version it can print, as the
  // host reads them: C strings, up to the first NUL.
  const auto seen = [](const std::optional<std::string>& field) -> std::optional<std::string> {
    if (!field) return std::nullopt;
    return std::string(field->c_str());
  };
  const auto known = [&](const std::optional<std::string>& field) {
    const auto k = seen(field);
    return k && (*k == "model" || *k == "observer" || *k == "quantizer" || *k == "pass");
  };
  const auto present = [&](const std::optional<std::string>& field) { return seen(field) && !seen(field)->empty(); };
  if (rejection.empty() && (!known(kind) || !present(name) || !present(version))) {
    std::fprintf(stderr, "accepted a plugin record the host cannot use: kind [%s] name [%s] version [%s]\n",
                 pointer(kind) ? pointer(kind) : "(null)", pointer(name) ? pointer(name) : "(null)",
                 pointer(version) ? pointer(version) : "(null)");
    std::abort();
  }
  return 0;
}
