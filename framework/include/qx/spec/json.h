#pragma once
// The one JSON writer of qx's identities: cell keys, plugin options and the run context that the
// results database compares byte for byte (a rerun skips a cell whose key it already holds). So
// the text is canonical: object keys sorted, strings escaped per RFC 8259, doubles with 17
// significant digits (they read back to the same double). Torch-free, like all of qx/spec/.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace qx::spec {

// "text" with quotes, backslashes and control characters escaped; UTF-8 passes through.
std::string json_string(std::string_view text);
std::string json_number(double value);
// [a,b,...] from values already in JSON.
std::string json_array(const std::vector<std::string>& items);

// An object whose members come out sorted by key, whatever order they were set in.
class JsonObject {
 public:
  JsonObject& set_json(const std::string& key, std::string json);  // a value already in JSON
  JsonObject& set(const std::string& key, const JsonObject& value) { return set_json(key, value.str()); }
  JsonObject& set(const std::string& key, std::string_view text) { return set_json(key, json_string(text)); }
  JsonObject& set(const std::string& key, const char* text) { return set(key, std::string_view(text)); }
  JsonObject& set(const std::string& key, const std::string& text) { return set(key, std::string_view(text)); }
  JsonObject& set(const std::string& key, bool value) { return set_json(key, value ? "true" : "false"); }
  JsonObject& set(const std::string& key, int value) { return set(key, static_cast<std::int64_t>(value)); }
  JsonObject& set(const std::string& key, std::int64_t value) { return set_json(key, std::to_string(value)); }
  JsonObject& set(const std::string& key, double value) { return set_json(key, json_number(value)); }

  std::string str() const;

 private:
  std::map<std::string, std::string> members_;  // key -> value in JSON
};

}  // namespace qx::spec
