// The PTQ half of the results database: experiments, cells and per-tensor parameters.
#include <cmath>


#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cell_insert.h"
#include "qx/spec/json.h"
#include "qx/store/results_db.h"

namespace qx::store {

namespace {

std::string json_numbers(const std::vector<double>& values) {
  std::vector<std::string> items;
  items.reserve(values.size());
  for (double v : values) items.push_back(fmt::format("{:.9g}", v));
  return spec::json_array(items);
}

void bind_text_or_null(Statement& statement, int index, const std::string& text) {
  if (text.empty()) statement.bind_null(index);
  else statement.bind(index, text);
}

void insert_tensors(Database& db, std::int64_t cell_id, const std::vector<TensorRow>& tensors) {
  Statement insert(db,
                   "INSERT INTO cell_tensors (cell_id, position, name, role, bits, axis, qmin, qmax, scale, "
                   "zero_point, range_min, range_max, sqnr_db) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  std::int64_t position = 0;
  for (const auto& t : tensors) {
    auto& each = insert.reset();
    each.bind(1, cell_id).bind(2, position++).bind(3, t.name).bind(4, t.role);
    each.bind(5, t.bits).bind(6, t.axis).bind(7, t.qmin);
    each.bind(8, t.qmax).bind(9, json_numbers(t.scale)).bind(10, json_numbers(t.zero_point));
    each.bind(11, json_numbers(t.range_min)).bind(12, json_numbers(t.range_max));
    if (std::isfinite(t.sqnr_db)) each.bind(13, t.sqnr_db);
    else each.bind_null(13);
    each.run();
  }
}

void insert_passes(Database& db, std::int64_t cell_id, const std::vector<PassRecord>& passes) {
  Statement insert(db, "INSERT INTO cell_passes (cell_id, position, name, version, options, seconds, report) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)");
  std::int64_t position = 0;
  for (const auto& pass : passes) {
    insert.reset().bind(1, cell_id).bind(2, position++).bind(3, pass.name).bind(4, pass.version);
    insert.bind(5, pass.options_json).bind(6, pass.seconds);
    bind_text_or_null(insert, 7, pass.report);
    insert.run();
  }
}

}  // namespace

std::int64_t insert_cell_row(Database& db, const CellColumns& c) {
  Statement insert(db,
                   "INSERT INTO cells (experiment_id, key, label, quantize, observer, weight_observer, quantizer, "
                   "w_bits, a_bits, fold_batch_norm, options, status, error, top1, top5, loss, images, "
                   "calib_seconds, quantize_seconds, eval_seconds, passes, seed, pass_seconds) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  insert.bind(1, c.experiment_id).bind(2, c.key);
  bind_or_null(insert, 3, c.label);
  insert.bind(4, std::int64_t{c.quantize});
  bind_or_null(insert, 5, c.observer);
  bind_or_null(insert, 6, c.weight_observer);
  bind_or_null(insert, 7, c.quantizer);
  bind_or_null(insert, 8, c.w_bits);
  bind_or_null(insert, 9, c.a_bits);
  bind_or_null(insert, 10, c.fold_batch_norm);
  insert.bind(11, c.options_json).bind(12, c.status);
  bind_or_null(insert, 13, c.error);
  bind_or_null(insert, 14, c.top1);
  bind_or_null(insert, 15, c.top5);
  bind_or_null(insert, 16, c.loss);
  bind_or_null(insert, 17, c.images);
  bind_or_null(insert, 18, c.calib_seconds);
  bind_or_null(insert, 19, c.quantize_seconds);
  bind_or_null(insert, 20, c.eval_seconds);
  insert.bind(21, c.passes).bind(22, c.seed).bind(23, c.pass_seconds);
  insert.run();
  return db.last_insert_id();
}

std::int64_t ResultsDb::open_experiment(const ExperimentRecord& e) {
  fail_abandoned_experiments();
  Statement insert(db_,
                   "INSERT INTO experiments (name, status, config_path, config_text, git_revision, checkpoint, "
                   "model, device, threads, torch_version, machine, ranks, shard, owner) "
                   "VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  insert.bind(1, e.name).bind(2, e.config_path).bind(3, e.config_text);
  bind_text_or_null(insert, 4, e.git_revision);
  insert.bind(5, e.checkpoint).bind(6, e.model).bind(7, e.device).bind(8, e.threads);
  insert.bind(9, e.torch_version);
  bind_text_or_null(insert, 10, e.machine);
  insert.bind(11, e.ranks);
  bind_text_or_null(insert, 12, e.shard);
  insert.bind(13, claim_owner());
  insert.run();
  return db_.last_insert_id();
}

void ResultsDb::finish_experiment(std::int64_t experiment_id, const std::string& status, const std::string& error,
                                  const WriteCost& writes) {
  Statement update(db_,
                   "UPDATE experiments SET status = ?, error = ?, cells_written = ?, write_seconds = ?, "
                   "finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?");
  update.bind(1, status);
  bind_text_or_null(update, 2, error);
  update.bind(3, writes.cells).bind(4, writes.seconds).bind(5, experiment_id).run();
}

bool ResultsDb::has_finished_cell(const std::string& key) {
  Statement query(db_, "SELECT 1 FROM cells WHERE key = ? AND status = 'finished'");
  query.bind(1, key);
  return query.step();
}

std::optional<FinishedCell> ResultsDb::finished_cell(const std::string& key) {
  Statement query(db_, "SELECT id, top1 FROM cells WHERE key = ? AND status = 'finished'");
  query.bind(1, key);
  if (!query.step()) return std::nullopt;
  return FinishedCell{query.column_int(0), query.column_double(1)};
}

bool ResultsDb::has_histograms(const std::string& checkpoint_run, std::int64_t checkpoint_epoch,
                               const std::vector<std::string>& weight_layers, std::int64_t images) {
  Statement query(db_,
                  "SELECT 1 FROM tensor_histograms WHERE checkpoint_run = ? AND checkpoint_epoch = ? AND name = ? "
                  "AND role = 'weight' AND images = ?");
  for (const auto& layer : weight_layers) {
    query.reset().bind(1, checkpoint_run).bind(2, checkpoint_epoch).bind(3, layer).bind(4, images);
    if (!query.step()) return false;
  }
  return true;
}

std::optional<double> ResultsDb::recorded_seconds(const std::string& options_json) {
  Statement query(db_,
                  "SELECT calib_seconds + quantize_seconds + eval_seconds + COALESCE(pass_seconds, 0) FROM cells "
                  "WHERE options = ? AND status = 'finished' ORDER BY id DESC LIMIT 1");
  query.bind(1, options_json);
  if (!query.step()) return std::nullopt;
  return query.column_double(0);
}

bool ResultsDb::record_cell(std::int64_t experiment_id, const CellResult& r) {
  Transaction transaction(db_);
  {
    Statement existing(db_, "SELECT status FROM cells WHERE key = ?");
    existing.bind(1, r.key);
    if (existing.step()) {
      if (existing.column_text(0) == "finished") return false;
      Statement(db_, "DELETE FROM cells WHERE key = ?").bind(1, r.key).run();
    }
  }
  Statement(db_, "DELETE FROM cell_claims WHERE key = ?").bind(1, r.key).run();
  const auto& c = r.cell;
  CellColumns row;
  row.experiment_id = experiment_id;
  row.key = r.key;
  if (!c.label.empty()) row.label = c.label;
  row.quantize = c.quantize;
  if (c.quantize) {
    row.observer = c.observer.name;
    row.weight_observer = c.weight_observer.name;
    row.quantizer = c.quantizer.name;
    row.w_bits = c.weight_bits;
    row.a_bits = c.activation_bits;
    row.fold_batch_norm = std::int64_t{c.fold_batch_norm};
  }
  auto options = spec::cell_options(c);
  if (!r.judge_json.empty()) options.set_json("judge", r.judge_json);
  row.options_json = options.str();
  const bool failed = !r.error.empty();
  if (failed) {
    row.status = "failed";
    row.error = r.error;
  } else {
    row.top1 = r.top1;
    row.top5 = r.top5;
    row.loss = r.loss;
    row.images = r.images;
  }
  row.calib_seconds = r.calib_seconds;
  row.quantize_seconds = r.quantize_seconds;
  row.eval_seconds = r.eval_seconds;
  for (const auto& pass : r.passes) row.pass_seconds += pass.seconds;
  row.passes = spec::pass_list(c);
  row.seed = c.seed;
  const auto cell_id = insert_cell_row(db_, row);
  insert_passes(db_, cell_id, r.passes);
  if (!failed) insert_tensors(db_, cell_id, r.tensors);
  transaction.commit();
  return true;
}

void ResultsDb::record_packed(const PackedRecord& p) {
  Statement insert(db_,
                   "INSERT OR REPLACE INTO packed_models (checkpoint_run, checkpoint_epoch, quantizer, bits, bytes, "
                   "weight_bytes, parameters, file) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  insert.bind(1, p.checkpoint_run).bind(2, p.checkpoint_epoch).bind(3, p.quantizer).bind(4, p.bits);
  insert.bind(5, p.bytes).bind(6, p.weight_bytes).bind(7, p.parameters).bind(8, p.file).run();
}

void ResultsDb::record_histograms(const HistogramRecord& record) {
  Transaction transaction(db_);
  Statement statement(db_,
                      "INSERT OR REPLACE INTO tensor_histograms (checkpoint_run, checkpoint_epoch, name, role, images, "
                      "lo, hi, counts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  for (const auto& h : record.histograms) {
    auto& insert = statement.reset();
    insert.bind(1, record.checkpoint_run).bind(2, record.checkpoint_epoch).bind(3, h.name).bind(4, h.role);
    insert.bind(5, record.images).bind(6, h.lo).bind(7, h.hi).bind(8, fmt::format("{}", fmt::join(h.counts, " ")));
    insert.run();
  }
  transaction.commit();
}

}  // namespace qx::store
