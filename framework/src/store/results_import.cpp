#include "qx/store/results_import.h"

#include <cmath>
#include <limits>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "cell_insert.h"
#include "qx/core/error.h"
#include "qx/spec/bits.h"

namespace qx::store {
namespace {

using Json = nlohmann::json;

// One object of the file: typed reads of its fields, each failure naming the line and field,
// and at the end every field the reader did not ask for.
class Fields {
 public:
  Fields(const Json& object, std::string where) : object_(object), where_(std::move(where)) {}

  std::string text(const std::string& field) { return get(field, Json::value_t::string, "a string").get<std::string>(); }
  std::optional<std::string> text_or_null(const std::string& field) {
    const auto* value = find(field);
    if (!value || value->is_null()) return std::nullopt;
    return text(field);
  }
  std::string text_or_empty(const std::string& field) { return text_or_null(field).value_or(""); }
  std::int64_t integer(const std::string& field, std::int64_t lo, std::int64_t hi) {
    const auto& value = find_required(field);
    if (!value.is_number_integer()) bad(field, "must be an integer");
    const auto n = value.get<std::int64_t>();
    if (n < lo || n > hi) bad(field, fmt::format("is {}, outside [{}, {}]", n, lo, hi));
    return n;
  }
  double number(const std::string& field, double lo, double hi) {
    const auto& value = find_required(field);
    if (!value.is_number()) bad(field, "must be a number");
    const auto x = value.get<double>();
    if (!std::isfinite(x) || x < lo || x > hi) bad(field, fmt::format("is {}, outside [{}, {}]", x, lo, hi));
    return x;
  }
  std::optional<double> number_or_null(const std::string& field, double lo, double hi) {
    const auto* value = find(field);
    if (!value || value->is_null()) return std::nullopt;
    return number(field, lo, hi);
  }
  bool boolean(const std::string& field) { return get(field, Json::value_t::boolean, "true or false").get<bool>(); }
  // An object, kept as canonical JSON: members sorted (nlohmann's std::map), no spaces.
  std::string object(const std::string& field) { return get(field, Json::value_t::object, "an object").dump(); }

  void check_all_read() const {
    for (const auto& [field, value] : object_.items()) {
      if (!read_.count(field)) fail("{}: unknown field '{}'", where_, field);
    }
  }

 private:
  const Json* find(const std::string& field) {
    read_.insert(field);
    const auto it = object_.find(field);
    return it == object_.end() ? nullptr : &*it;
  }
  const Json& find_required(const std::string& field) {
    const auto* value = find(field);
    if (!value) fail("{}: missing field '{}'", where_, field);
    return *value;
  }
  const Json& get(const std::string& field, Json::value_t type, const char* what) {
    const auto& value = find_required(field);
    if (value.type() != type) bad(field, fmt::format("must be {}", what));
    return value;
  }
  [[noreturn]] void bad(const std::string& field, const std::string& why) const {
    fail("{}: field '{}' {}", where_, field, why);
  }

  const Json& object_;
  std::string where_;
  std::set<std::string> read_;
};

constexpr double kHuge = std::numeric_limits<double>::max();
constexpr std::int64_t kMaxCount = std::numeric_limits<std::int64_t>::max();

ExperimentRecord read_experiment(Fields& f) {
  ExperimentRecord e;
  e.name = f.text("name");
  e.config_path = f.text("config_path");
  e.config_text = f.text("config_text");
  e.git_revision = f.text_or_empty("git_revision");
  e.checkpoint = f.text("checkpoint");
  e.model = f.text("model");
  e.device = f.text("device");
  e.threads = f.integer("threads", 0, 1 << 20);
  e.torch_version = f.text("torch_version");
  e.machine = f.text_or_empty("machine");
  return e;
}

ImportedCell read_cell(Fields& f) {
  ImportedCell c;
  c.key = f.text("key");
  c.label = f.text("label");
  c.observer = f.text_or_null("observer");
  c.weight_observer = f.text_or_null("weight_observer");
  c.quantizer = f.text("quantizer");
  c.w_bits = f.integer("w_bits", spec::kMinBits, spec::kMaxBits);
  c.a_bits = f.integer("a_bits", spec::kMinBits, spec::kMaxBits);
  c.fold_batch_norm = f.boolean("fold_batch_norm");
  c.options_json = f.object("options");
  c.top1 = f.number("top1", 0, 100);
  c.top5 = f.number_or_null("top5", 0, 100);
  c.loss = f.number("loss", 0, kHuge);
  c.images = f.integer("images", 1, kMaxCount);
  c.calib_seconds = f.number("calib_seconds", 0, kHuge);
  c.eval_seconds = f.number("eval_seconds", 0, kHuge);
  return c;
}

BenchmarkRow read_benchmark(Fields& f) {
  BenchmarkRow b;
  b.suite = f.text("suite");
  b.name = f.text("name");
  b.seconds = f.number("seconds", 0, kHuge);
  b.iterations = f.integer("iterations", 1, kMaxCount);
  b.items_per_second = f.number_or_null("items_per_second", 0, kHuge);
  b.context_json = f.object("context");
  b.machine = f.text("machine");
  return b;
}

}  // namespace

ImportBatch read_import(std::istream& in, const std::string& source) {
  ImportBatch batch;
  std::set<std::string> keys, benchmarks;
  std::string line;
  for (std::int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto where = fmt::format("{}:{}", source, number);
    Json object;
    try {
      object = Json::parse(line);
    } catch (const Json::parse_error& e) {
      fail("{}: not JSON ({})", where, e.what());
    }
    if (!object.is_object() || object.size() != 1) {
      fail("{}: each line is one object with one member: experiment, cell or benchmark", where);
    }
    const auto member = object.begin();
    const std::string kind = member.key();
    const Json& body = member.value();
    if (!body.is_object()) fail("{}: {} must be an object", where, kind);
    Fields fields(body, fmt::format("{}: {}", where, kind));
    if (kind == "experiment") {
      if (batch.experiment) fail("{}: a second experiment; one file holds one", where);
      batch.experiment = read_experiment(fields);
    } else if (kind == "cell") {
      if (!batch.experiment) fail("{}: a cell before the experiment line it belongs to", where);
      batch.cells.push_back(read_cell(fields));
      if (!keys.insert(batch.cells.back().key).second) fail("{}: cell key given twice", where);
    } else if (kind == "benchmark") {
      batch.benchmarks.push_back(read_benchmark(fields));
      const auto& b = batch.benchmarks.back();
      if (!benchmarks.insert(b.suite + "\n" + b.name).second) {
        fail("{}: benchmark '{}' of suite '{}' given twice", where, b.name, b.suite);
      }
    } else {
      fail("{}: unknown kind '{}' (experiment, cell or benchmark)", where, kind);
    }
    fields.check_all_read();
  }
  if (in.bad()) fail("{}: read error", source);
  if (batch.experiment && batch.cells.empty()) fail("{}: an experiment without cells", source);
  if (!batch.experiment && batch.benchmarks.empty()) fail("{}: nothing to import", source);
  return batch;
}

ImportCounts write_import(ResultsDb& db, const ImportBatch& batch) {
  auto& sql = db.database();
  ImportCounts counts;
  Transaction transaction(sql);
  if (batch.experiment) {
    counts.experiment_id = db.open_experiment(*batch.experiment);
    Statement existing(sql, "SELECT 1 FROM cells WHERE key = ?");
    Statement remove(sql, "DELETE FROM cells WHERE key = ?");
    for (const auto& c : batch.cells) {
      if (existing.reset().bind(1, c.key).step()) ++counts.replaced_cells;
      existing.reset();
      remove.reset().bind(1, c.key).run();
      CellColumns row;
      row.experiment_id = counts.experiment_id;
      row.key = c.key;
      row.label = c.label;
      row.observer = c.observer;
      row.weight_observer = c.weight_observer;
      row.quantizer = c.quantizer;
      row.w_bits = c.w_bits;
      row.a_bits = c.a_bits;
      row.fold_batch_norm = std::int64_t{c.fold_batch_norm};
      row.options_json = c.options_json;
      row.top1 = c.top1;
      row.top5 = c.top5;
      row.loss = c.loss;
      row.images = c.images;
      row.calib_seconds = c.calib_seconds;
      row.eval_seconds = c.eval_seconds;
      insert_cell_row(sql, row);
      ++counts.cells;
    }
    db.finish_experiment(counts.experiment_id, "finished");
  }
  std::set<std::string> suites;
  for (const auto& b : batch.benchmarks) suites.insert(b.suite);
  for (const auto& suite : suites) Statement(sql, "DELETE FROM benchmarks WHERE suite = ?").bind(1, suite).run();
  Statement insert(sql,
                   "INSERT INTO benchmarks (suite, name, seconds, iterations, items_per_second, context, machine) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)");
  for (const auto& b : batch.benchmarks) {
    insert.reset().bind(1, b.suite).bind(2, b.name).bind(3, b.seconds).bind(4, b.iterations);
    bind_or_null(insert, 5, b.items_per_second);
    insert.bind(6, b.context_json).bind(7, b.machine).run();
    ++counts.benchmarks;
  }
  transaction.commit();
  return counts;
}

}  // namespace qx::store
