#pragma once
// The one INSERT of a cells row, private to the store: record_cell() (a cell qx computed) and
// write_import() (a cell another program computed) both fill these columns. NULL where unset.
#include <cstdint>
#include <optional>
#include <string>

#include "qx/store/sqlite.h"

namespace qx::store {

struct CellColumns {
  std::int64_t experiment_id = 0;
  std::string key;
  std::optional<std::string> label;
  bool quantize = true;
  std::optional<std::string> observer, weight_observer, quantizer;
  std::optional<std::int64_t> w_bits, a_bits, fold_batch_norm;
  std::string options_json;
  std::string status = "finished";  // or "failed", with `error`
  std::optional<std::string> error;
  std::optional<double> top1, top5, loss;
  std::optional<std::int64_t> images;
  std::optional<double> calib_seconds, quantize_seconds, eval_seconds;
  std::string passes;  // spec::pass_list(): "" for none
  std::int64_t seed = 0;
  double pass_seconds = 0;
};

// Binds the value, or NULL when there is none (for every store writer's optional columns).
template <typename T>
void bind_or_null(Statement& statement, int index, const std::optional<T>& value) {
  if (value) {
    statement.bind(index, *value);
  } else {
    statement.bind_null(index);
  }
}

// Inserts the row and returns its id; the caller holds the transaction and has removed any
// earlier row of the same key.
std::int64_t insert_cell_row(Database& db, const CellColumns& c);

}  // namespace qx::store
