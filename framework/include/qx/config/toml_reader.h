#pragma once
// Strict, location-aware reading of TOML experiment files.
//
// Each section is read through a TableReader that records which keys it was asked for. finish()
// then rejects every key nobody asked for, with its file:line:col and the closest known key:
//   experiments/train.toml:7:1: unknown key 'epohcs' in [train]; did you mean 'epochs'?
// Type and range errors carry the value's position too.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "qx/core/options.h"

namespace qx::config {

struct TomlDocument {
  std::string path;
  std::string text;
  toml::table root;
};

// Parses `path`; a syntax error becomes a qx::Error "path:line:col: <what is wrong>".
TomlDocument parse_toml_file(const std::string& path);
// The same for text already in memory (e.g. the recipe stored in a checkpoint); `path` names it.
TomlDocument parse_toml_text(std::string text, const std::string& path);

class TableReader {
 public:
  // `section` is the dotted name used in messages ("" for the top level).
  TableReader(const toml::table& table, std::string file, std::string section);

  bool has(const std::string& key) const;
  std::int64_t get_int(const std::string& key, std::optional<std::int64_t> fallback,
                       std::int64_t min = INT64_MIN, std::int64_t max = INT64_MAX);
  double get_double(const std::string& key, std::optional<double> fallback, double min = -1e300, double max = 1e300);
  bool get_bool(const std::string& key, std::optional<bool> fallback);
  std::string get_string(const std::string& key, std::optional<std::string> fallback);
  // The value must be one of `allowed`.
  std::string get_choice(const std::string& key, std::optional<std::string> fallback,
                         const std::vector<std::string>& allowed);
  std::vector<std::int64_t> get_int_array(const std::string& key, std::optional<std::vector<std::int64_t>> fallback,
                                          std::int64_t min = INT64_MIN, std::int64_t max = INT64_MAX);
  std::vector<std::string> get_string_array(const std::string& key, std::optional<std::vector<std::string>> fallback);
  // A string, integer or boolean, or an array of them, each as text (true -> "1", false -> "0"):
  // for keys matched against stored values, such as a report row's settings filter.
  std::vector<std::string> get_values_as_text(const std::string& key);
  std::vector<bool> get_bool_array(const std::string& key, std::optional<std::vector<bool>> fallback);
  // An array of arrays of integers in [min, max], e.g. widths = [[4, 4], [2, 8]].
  std::vector<std::vector<std::int64_t>> get_int_lists(const std::string& key, std::int64_t min, std::int64_t max);
  // An array of arrays of strings, e.g. passes = [[], ["cle"], ["cle", "bias_correction"]].
  std::vector<std::vector<std::string>> get_string_lists(const std::string& key,
                                                         std::optional<std::vector<std::vector<std::string>>> fallback);

  // The keys of this table, in file order (for tables keyed by plugin or layer name).
  std::vector<std::string> keys() const;
  // An array of tables ([[key]]); absent reads as empty. Each reader must be finished too.
  std::vector<TableReader> table_array(const std::string& key);

  // A sub-table; an absent one reads as empty. The returned reader must be finished too.
  TableReader section(const std::string& key);

  // Hands every key not yet read to a plugin as Options (values keep their positions).
  Options remaining_as_options(const std::string& owner);

  // Fails on the first key that was never read.
  void finish() const;

  std::string where(const toml::node& node) const;
  std::string where() const;  // the table itself
  std::string where_of(const std::string& key) const;  // the key's value, else the table
  const std::string& file() const { return file_; }

 private:
  const toml::node* lookup(const std::string& key, bool required);
  template <typename T>
  std::vector<T> get_array(const std::string& key, std::optional<std::vector<T>> fallback, const char* expected,
                           const std::function<void(const toml::node&, T)>& check);
  template <typename T>
  std::vector<std::vector<T>> get_lists(const std::string& key, std::optional<std::vector<std::vector<T>>> fallback,
                                        const char* expected, const std::function<void(const toml::node&, T)>& check);
  [[noreturn]] void type_error(const std::string& key, const toml::node& node, const char* expected) const;
  std::string qualified(const std::string& key) const;

  const toml::table* table_;
  std::string file_;
  std::string section_;
  std::set<std::string> read_;
  static const toml::table empty_table_;
};

// Levenshtein distance, for "did you mean" hints.
std::size_t edit_distance(const std::string& a, const std::string& b);

}  // namespace qx::config
