#include "qx/core/text.h"

#include <fmt/format.h>

namespace qx {

std::string printable(std::string_view text, std::size_t max_length) {
  const bool cut = max_length > 0 && text.size() > max_length;
  if (cut) text = text.substr(0, max_length);
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (byte < 0x20 || byte == 0x7f) out += fmt::format("\\x{:02x}", byte);
    else out += c;
  }
  if (cut) out += "...";
  return out;
}

}  // namespace qx
