#include "markdown.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace qx::report {

std::string MarkdownTable::render() const {
  auto line = [](const std::vector<std::string>& cells) {
    std::string out = "|";
    for (const auto& cell : cells) out += " " + cell + " |";
    return out + "\n";
  };
  std::string out = line(header);
  std::vector<std::string> rule;
  for (std::size_t i = 0; i < header.size(); ++i) rule.push_back(i < numeric.size() && numeric[i] ? "---:" : "---");
  out += line(rule);
  for (const auto& row : rows) out += line(row);
  return out;
}

std::string percent(double value) { return fmt::format("{:.2f}", value); }

std::string signed_delta(double value) {
  // -0.00 would read as a loss; a difference that rounds to zero is shown as 0.00.
  if (std::fabs(value) < 0.005) return "0.00";
  return fmt::format("{:+.2f}", value);
}

std::string seconds(double value) { return fmt::format("{:.1f}", value); }

double mean(const std::vector<double>& values) {
  double sum = 0;
  for (double v : values) sum += v;
  return values.empty() ? 0.0 : sum / static_cast<double>(values.size());
}

std::string mean_std(const std::vector<double>& values) {
  if (values.empty()) return "";
  const double average = mean(values);
  if (values.size() == 1) return percent(average);
  double squares = 0;
  for (double v : values) squares += (v - average) * (v - average);
  const double std = std::sqrt(squares / static_cast<double>(values.size() - 1));
  return fmt::format("{:.2f} ± {:.2f} ({})", average, std, values.size());
}

std::string grouped(long long value) {
  auto digits = std::to_string(value < 0 ? -value : value);
  for (auto at = static_cast<long>(digits.size()) - 3; at > 0; at -= 3) digits.insert(static_cast<std::size_t>(at), ",");
  return (value < 0 ? "-" : "") + digits;
}

std::string duration(double s) {
  if (s < 1e-3) return fmt::format("{:.1f} µs", s * 1e6);
  if (s < 1.0) return fmt::format("{:.2f} ms", s * 1e3);
  return fmt::format("{:.2f} s", s);
}

}  // namespace qx::report
