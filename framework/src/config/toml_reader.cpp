#include "qx/config/toml_reader.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/ranges.h>

#include "qx/core/error.h"

namespace qx::config {

const toml::table TableReader::empty_table_{};

TomlDocument parse_toml_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open experiment file", path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse_toml_text(buffer.str(), path);
}

TomlDocument parse_toml_text(std::string text, const std::string& path) {
  TomlDocument document{path, std::move(text), {}};
  try {
    document.root = toml::parse(document.text, path);
  } catch (const toml::parse_error& error) {
    const auto& begin = error.source().begin;
    fail("{}:{}:{}: TOML syntax error: {}", path, begin.line, begin.column, error.description());
  }
  return document;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

TableReader::TableReader(const toml::table& table, std::string file, std::string section)
    : table_(&table), file_(std::move(file)), section_(std::move(section)) {}

std::string TableReader::where(const toml::node& node) const {
  const auto& begin = node.source().begin;
  if (begin.line == 0) return file_;
  return fmt::format("{}:{}:{}", file_, begin.line, begin.column);
}

std::string TableReader::where() const { return where(*table_); }

std::string TableReader::where_of(const std::string& key) const {
  const toml::node* node = table_->get(key);
  return node ? where(*node) : where();
}

std::string TableReader::qualified(const std::string& key) const {
  return section_.empty() ? key : section_ + "." + key;
}

bool TableReader::has(const std::string& key) const { return table_->contains(key); }

const toml::node* TableReader::lookup(const std::string& key, bool required) {
  read_.insert(key);
  const toml::node* node = table_->get(key);
  if (!node && required) {
    // A near miss is more likely a typo than an omission: point at it.
    for (const auto& [present, value] : *table_) {
      const std::string name(present.str());
      if (!read_.count(name) && edit_distance(name, key) < 3) {
        fail("{}: unknown key '{}' in {}; did you mean '{}'?", where(value), name,
             section_.empty() ? std::string("the top level") : "[" + section_ + "]", key);
      }
    }
    fail("{}: missing required key '{}'", file_, qualified(key));
  }
  return node;
}

void TableReader::type_error(const std::string& key, const toml::node& node, const char* expected) const {
  std::ostringstream got;
  got << node.type();
  fail("{}: '{}' must be {}, not {}", where(node), qualified(key), expected, got.str());
}

std::int64_t TableReader::get_int(const std::string& key, std::optional<std::int64_t> fallback, std::int64_t min,
                                  std::int64_t max) {
  const toml::node* node = lookup(key, !fallback);
  if (!node) return *fallback;
  const auto value = node->value_exact<std::int64_t>();
  if (!value) type_error(key, *node, "an integer");
  if (*value < min || *value > max) {
    fail("{}: '{}' = {} is out of range [{}, {}]", where(*node), qualified(key), *value, min, max);
  }
  return *value;
}

double TableReader::get_double(const std::string& key, std::optional<double> fallback, double min, double max) {
  const toml::node* node = lookup(key, !fallback);
  if (!node) return *fallback;
  if (!node->is_number()) type_error(key, *node, "a number");
  const double value = *node->value<double>();
  if (!(value >= min && value <= max)) {
    fail("{}: '{}' = {} is out of range [{}, {}]", where(*node), qualified(key), value, min, max);
  }
  return value;
}

bool TableReader::get_bool(const std::string& key, std::optional<bool> fallback) {
  const toml::node* node = lookup(key, !fallback);
  if (!node) return *fallback;
  const auto value = node->value_exact<bool>();
  if (!value) type_error(key, *node, "a boolean");
  return *value;
}

std::string TableReader::get_string(const std::string& key, std::optional<std::string> fallback) {
  const toml::node* node = lookup(key, !fallback);
  if (!node) return *fallback;
  const auto value = node->value_exact<std::string>();
  if (!value) type_error(key, *node, "a string");
  return *value;
}

std::vector<std::string> TableReader::get_values_as_text(const std::string& key) {
  const toml::node* node = lookup(key, true);
  const auto text = [&](const toml::node& value) -> std::string {
    if (const auto s = value.value_exact<std::string>()) return *s;
    if (const auto i = value.value_exact<std::int64_t>()) return std::to_string(*i);
    if (const auto b = value.value_exact<bool>()) return *b ? "1" : "0";
    type_error(key, value, "a string, an integer, a boolean or an array of them");
  };
  std::vector<std::string> values;
  if (const auto* array = node->as_array()) {
    for (const auto& element : *array) values.push_back(text(element));
    if (values.empty()) type_error(key, *node, "a non-empty array");
  } else {
    values.push_back(text(*node));
  }
  return values;
}

std::string TableReader::get_choice(const std::string& key, std::optional<std::string> fallback,
                                    const std::vector<std::string>& allowed) {
  const std::string value = get_string(key, std::move(fallback));
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return value;
  const toml::node* node = table_->get(key);
  fail("{}: '{}' = \"{}\" is not one of: {}", node ? where(*node) : file_, qualified(key), value,
       fmt::format("{}", fmt::join(allowed, ", ")));
}

template <typename T>
std::vector<T> TableReader::get_array(const std::string& key, std::optional<std::vector<T>> fallback,
                                      const char* expected, const std::function<void(const toml::node&, T)>& check) {
  const toml::node* node = lookup(key, !fallback);
  if (!node) return *fallback;
  const toml::array* array = node->as_array();
  if (!array) type_error(key, *node, expected);
  std::vector<T> values;
  for (const auto& element : *array) {
    const auto value = element.value_exact<T>();
    if (!value) type_error(key, element, expected);
    if (check) check(element, *value);
    values.push_back(*value);
  }
  return values;
}

std::vector<std::int64_t> TableReader::get_int_array(const std::string& key,
                                                     std::optional<std::vector<std::int64_t>> fallback,
                                                     std::int64_t min, std::int64_t max) {
  return get_array<std::int64_t>(key, std::move(fallback), "an array of integers",
                                 [&](const toml::node& element, std::int64_t value) {
                                   if (value < min || value > max) {
                                     fail("{}: '{}' = {} is out of range [{}, {}]", where(element), qualified(key),
                                          value, min, max);
                                   }
                                 });
}

std::vector<std::string> TableReader::get_string_array(const std::string& key,
                                                       std::optional<std::vector<std::string>> fallback) {
  return get_array<std::string>(key, std::move(fallback), "an array of strings", {});
}

std::vector<bool> TableReader::get_bool_array(const std::string& key, std::optional<std::vector<bool>> fallback) {
  return get_array<bool>(key, std::move(fallback), "an array of booleans", {});
}

template <typename T>
std::vector<std::vector<T>> TableReader::get_lists(const std::string& key,
                                                   std::optional<std::vector<std::vector<T>>> fallback,
                                                   const char* expected,
                                                   const std::function<void(const toml::node&, T)>& check) {
  const toml::node* node = lookup(key, !fallback);
  if (!node) return *fallback;
  const toml::array* lists = node->as_array();
  if (!lists) type_error(key, *node, expected);
  std::vector<std::vector<T>> out;
  for (const auto& list : *lists) {
    const toml::array* items = list.as_array();
    if (!items) type_error(key, list, expected);
    auto& values = out.emplace_back();
    for (const auto& item : *items) {
      const auto value = item.value_exact<T>();
      if (!value) type_error(key, item, expected);
      if (check) check(item, *value);
      values.push_back(*value);
    }
  }
  return out;
}

std::vector<std::vector<std::string>> TableReader::get_string_lists(
    const std::string& key, std::optional<std::vector<std::vector<std::string>>> fallback) {
  return get_lists<std::string>(key, std::move(fallback), "an array of arrays of strings", {});
}

std::vector<std::vector<std::int64_t>> TableReader::get_int_lists(const std::string& key, std::int64_t min,
                                                                  std::int64_t max) {
  return get_lists<std::int64_t>(key, std::nullopt, "an array of arrays of integers",
                                 [&](const toml::node& item, std::int64_t value) {
                                   if (value < min || value > max) {
                                     fail("{}: '{}' = {} is out of range [{}, {}]", where(item), qualified(key), value,
                                          min, max);
                                   }
                                 });
}

std::vector<std::string> TableReader::keys() const {
  std::vector<std::pair<toml::source_position, std::string>> found;
  for (const auto& [key, node] : *table_) found.emplace_back(node.source().begin, std::string(key.str()));
  std::stable_sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return a.first.line != b.first.line ? a.first.line < b.first.line : a.first.column < b.first.column;
  });
  std::vector<std::string> out;
  for (auto& item : found) out.push_back(std::move(item.second));
  return out;
}

std::vector<TableReader> TableReader::table_array(const std::string& key) {
  const toml::node* node = lookup(key, false);
  if (!node) return {};
  const toml::array* array = node->as_array();
  if (!array || !array->is_array_of_tables()) type_error(key, *node, "an array of tables");
  std::vector<TableReader> out;
  for (std::size_t i = 0; i < array->size(); ++i) {
    out.emplace_back(*array->get(i)->as_table(), file_, fmt::format("{}[{}]", qualified(key), i));
  }
  return out;
}

TableReader TableReader::section(const std::string& key) {
  const toml::node* node = lookup(key, false);
  if (!node) return TableReader(empty_table_, file_, qualified(key));
  const toml::table* table = node->as_table();
  if (!table) type_error(key, *node, "a table");
  return TableReader(*table, file_, qualified(key));
}

Options TableReader::remaining_as_options(const std::string& owner) {
  Options options(owner);
  for (const auto& [toml_key, node] : *table_) {
    const std::string key(toml_key.str());
    if (read_.count(key)) continue;
    read_.insert(key);
    if (auto v = node.value_exact<bool>()) {
      options.set(key, *v, where(node));
    } else if (auto i = node.value_exact<std::int64_t>()) {
      options.set(key, *i, where(node));
    } else if (auto d = node.value_exact<double>()) {
      options.set(key, *d, where(node));
    } else if (auto s = node.value_exact<std::string>()) {
      options.set(key, *s, where(node));
    } else {
      type_error(key, node, "a boolean, number or string (plugin options are scalars)");
    }
  }
  return options;
}

void TableReader::finish() const {
  std::vector<std::string> known(read_.begin(), read_.end());
  for (const auto& [toml_key, node] : *table_) {
    const std::string key(toml_key.str());
    if (read_.count(key)) continue;
    const std::string in = section_.empty() ? "at the top level" : "in [" + section_ + "]";
    std::string hint;
    std::size_t best = 3;  // suggest only close matches
    for (const auto& candidate : known) {
      const std::size_t distance = edit_distance(key, candidate);
      if (distance < best) {
        best = distance;
        hint = fmt::format("; did you mean '{}'?", candidate);
      }
    }
    const auto& begin = toml_key.source().begin;
    fail("{}:{}:{}: unknown key '{}' {}{}", file_, begin.line, begin.column, key, in, hint);
  }
}

}  // namespace qx::config
