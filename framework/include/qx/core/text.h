#pragma once
// Text from outside (a file's bytes, a parser's description, a plugin's info record) made safe for
// a one-line message.
#include <cstddef>
#include <string>
#include <string_view>

namespace qx {

// Control characters become escapes (\n, \r, \t, \xNN), so the text stays on one line; with
// `max_length` > 0, text longer than that is cut and ends in "...".
std::string printable(std::string_view text, std::size_t max_length = 0);

}  // namespace qx
