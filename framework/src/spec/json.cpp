#include "qx/spec/json.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace qx::spec {

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        else out += c;
    }
  }
  return out + "\"";
}

std::string json_number(double value) { return fmt::format("{:.17g}", value); }

std::string json_array(const std::vector<std::string>& items) { return fmt::format("[{}]", fmt::join(items, ",")); }

JsonObject& JsonObject::set_json(const std::string& key, std::string json) {
  members_[key] = std::move(json);
  return *this;
}

std::string JsonObject::str() const {
  std::vector<std::string> members;
  members.reserve(members_.size());
  for (const auto& [key, value] : members_) members.push_back(json_string(key) + ":" + value);
  return fmt::format("{{{}}}", fmt::join(members, ","));
}

}  // namespace qx::spec
