#pragma once
// Options handed from an experiment file to a plugin. Plugins read what they understand with
// typed getters; the host then calls check_all_used(), so a misspelled option is an error
// that points at its place in the file instead of being silently ignored.
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace qx {

class Options {
 public:
  using Value = std::variant<bool, std::int64_t, double, std::string>;

  Options() = default;
  // `owner` names who reads these options in error messages, e.g. "model 'resnet20'".
  explicit Options(std::string owner) : owner_(std::move(owner)) {}

  // `where` is the value's source position ("file:line:col"), used in error messages.
  void set(const std::string& key, Value value, std::string where = {});
  // Every value of `other`, with its position, replacing ours where both have a key.
  void set_all(const Options& other);

  bool has(const std::string& key) const { return entries_.count(key) != 0; }
  std::int64_t get_int(const std::string& key, std::int64_t fallback) const;
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  // The same, failing with the value's position unless min <= value <= max.
  std::int64_t get_int(const std::string& key, std::int64_t fallback, std::int64_t min, std::int64_t max) const;
  double get_double(const std::string& key, double fallback, double min, double max) const;
  // The same, failing with the value's position unless it is one of `choices`.
  std::string get_choice(const std::string& key, const std::string& fallback,
                         const std::vector<std::string>& choices) const;

  // For a value that is valid alone but not beside the others: fails at the value's position,
  // "option 'key' of <owner> <why>", when `key` is set and `usable` is false.
  void require(const std::string& key, bool usable, const std::string& why) const;

  // Throws qx::Error naming the first option that no getter asked for.
  void check_all_used() const;

  const std::string& owner() const { return owner_; }
  // All values by key, e.g. to record them next to a result.
  std::map<std::string, Value> values() const;

 private:
  struct Entry {
    Value value;
    std::string where;
    mutable bool used = false;
  };
  const Entry* find(const std::string& key) const;
  static std::string position(const Entry* entry);
  [[noreturn]] void type_error(const std::string& key, const Entry& entry, const char* expected) const;

  std::string owner_ = "plugin";
  std::map<std::string, Entry> entries_;
};

}  // namespace qx
