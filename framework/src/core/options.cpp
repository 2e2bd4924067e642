#include "qx/core/options.h"

#include <algorithm>

#include <fmt/ranges.h>

#include "qx/core/error.h"

namespace qx {

void Options::set(const std::string& key, Value value, std::string where) {
  entries_[key] = Entry{std::move(value), std::move(where)};
}

void Options::set_all(const Options& other) {
  for (const auto& [key, entry] : other.entries_) entries_[key] = Entry{entry.value, entry.where};
}

// "file:line:col: " where the value came from a file, else nothing: the start of every error.
std::string Options::position(const Entry* entry) {
  return entry && !entry->where.empty() ? entry->where + ": " : std::string();
}

const Options::Entry* Options::find(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  it->second.used = true;
  return &it->second;
}

void Options::require(const std::string& key, bool usable, const std::string& why) const {
  const auto it = entries_.find(key);
  if (it == entries_.end() || usable) return;
  fail("{}option '{}' of {} {}", position(&it->second), key, owner_, why);
}

void Options::type_error(const std::string& key, const Entry& entry, const char* expected) const {
  fail("{}option '{}' of {} must be {}", position(&entry), key, owner_, expected);
}

std::int64_t Options::get_int(const std::string& key, std::int64_t fallback) const {
  const Entry* entry = find(key);
  if (!entry) return fallback;
  if (const auto* v = std::get_if<std::int64_t>(&entry->value)) return *v;
  type_error(key, *entry, "an integer");
}

double Options::get_double(const std::string& key, double fallback) const {
  const Entry* entry = find(key);
  if (!entry) return fallback;
  if (const auto* v = std::get_if<double>(&entry->value)) return *v;
  if (const auto* v = std::get_if<std::int64_t>(&entry->value)) return static_cast<double>(*v);
  type_error(key, *entry, "a number");
}

bool Options::get_bool(const std::string& key, bool fallback) const {
  const Entry* entry = find(key);
  if (!entry) return fallback;
  if (const auto* v = std::get_if<bool>(&entry->value)) return *v;
  type_error(key, *entry, "a boolean");
}

std::string Options::get_string(const std::string& key, const std::string& fallback) const {
  const Entry* entry = find(key);
  if (!entry) return fallback;
  if (const auto* v = std::get_if<std::string>(&entry->value)) return *v;
  type_error(key, *entry, "a string");
}

std::int64_t Options::get_int(const std::string& key, std::int64_t fallback, std::int64_t min,
                               std::int64_t max) const {
  const auto value = get_int(key, fallback);
  if (value < min || value > max) {
    const Entry* entry = find(key);
    fail("{}option '{}' of {} must be in [{}, {}], got {}", position(entry), key, owner_, min, max, value);
  }
  return value;
}

double Options::get_double(const std::string& key, double fallback, double min, double max) const {
  const auto value = get_double(key, fallback);
  if (!(value >= min && value <= max)) {
    const Entry* entry = find(key);
    fail("{}option '{}' of {} must be in [{}, {}], got {}", position(entry), key, owner_, min, max, value);
  }
  return value;
}

std::string Options::get_choice(const std::string& key, const std::string& fallback,
                                const std::vector<std::string>& choices) const {
  const auto value = get_string(key, fallback);
  if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
    const Entry* entry = find(key);
    fail("{}option '{}' of {} must be one of {}, got '{}'", position(entry), key, owner_, fmt::join(choices, ", "),
         value);
  }
  return value;
}

std::map<std::string, Options::Value> Options::values() const {
  std::map<std::string, Value> values;
  for (const auto& [key, entry] : entries_) values.emplace(key, entry.value);
  return values;
}

void Options::check_all_used() const {
  for (const auto& [key, entry] : entries_) {
    if (entry.used) continue;
    fail("{}unknown option '{}' for {}", position(&entry), key, owner_);
  }
}

}  // namespace qx
