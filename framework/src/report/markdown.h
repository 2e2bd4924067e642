#pragma once
// Markdown tables and the number formats every report file shares.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "qx/core/error.h"

namespace qx::report {

struct MarkdownTable {
  std::vector<std::string> header;
  std::vector<bool> numeric;  // right-aligned columns; missing entries mean text
  std::vector<std::vector<std::string>> rows;
  std::string render() const;
};

std::string percent(double value);        // "91.23"
std::string signed_delta(double value);   // "+0.05", "-1.20"
std::string seconds(double value);        // "12.3"
std::string grouped(long long value);     // "10,000"
std::string duration(double seconds);     // "12.3 µs", "4.56 ms", "7.89 s"
// Appends `value` unless it is there already: table rows and columns in the order cells carry them.
template <typename T>
void add_once(std::vector<T>& values, const T& value) {
  if (std::find(values.begin(), values.end(), value) == values.end()) values.push_back(value);
}
// The arithmetic mean; 0 for no values.
double mean(const std::vector<double>& values);
// "84.21 ± 0.12 (3)" over seeds; the plain mean for one value.
std::string mean_std(const std::vector<double>& values);

// The study's words: the report file's [text] table (qx/config/report_layout.h).
using Texts = std::map<std::string, std::string>;
// Text `key` with its {name} fields filled from `args` (fmt::arg("name", value), ...); "" where the
// report file has no such key. A field the text names but the report does not give fails in one line.
template <typename... Args>
std::string say(const Texts& text, const std::string& key, const Args&... args) {
  const auto found = text.find(key);
  if (found == text.end()) return "";
  try {
    return fmt::format(fmt::runtime(found->second), args...);
  } catch (const fmt::format_error& e) {
    fail("report file [text] {}: {} in \"{}\"", key, e.what(), found->second);
  }
}
// The same as a paragraph under a table: "\n" + text + "\n", or "" where there is none.
template <typename... Args>
std::string caption(const Texts& text, const std::string& key, const Args&... args) {
  const auto words = say(text, key, args...);
  return words.empty() ? "" : "\n" + words + "\n";
}

}  // namespace qx::report
