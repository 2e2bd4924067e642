#include "report_data.h"

#include <cstdlib>

#include "qx/config/train_config.h"
#include "qx/core/error.h"

namespace qx::report {

namespace {

// A cell's checkpoint and test-set size live in its key: under "context" for the float cell and
// torch.ao's rows, under "context.run" for quantized cells.
constexpr const char* kCellsView = R"sql(
CREATE TEMP VIEW IF NOT EXISTS report_cells AS
SELECT c.*, e.name AS experiment, e.device AS device, e.machine AS machine, e.threads AS threads,
       COALESCE(json_extract(c.key, '$.context.run.checkpoint.run'),
                json_extract(c.key, '$.context.checkpoint.run')) AS checkpoint_run,
       COALESCE(json_extract(c.key, '$.context.run.checkpoint.epoch'),
                json_extract(c.key, '$.context.checkpoint.epoch')) AS checkpoint_epoch,
       COALESCE(json_extract(c.key, '$.context.run.test_images'),
                json_extract(c.key, '$.context.test_images')) AS test_images
FROM cells c JOIN experiments e ON e.id = c.experiment_id
WHERE c.status = 'finished';
)sql";

// "[0.5, -1.25]" or "0.5", as cell_tensors stores ranges, into numbers.
std::vector<double> numbers(const std::string& text) {
  std::vector<double> values;
  const char* p = text.c_str();
  while (*p) {
    char* end = nullptr;
    const double value = std::strtod(p, &end);
    if (end == p) {
      ++p;
      continue;
    }
    values.push_back(value);
    p = end;
  }
  return values;
}

std::string text_or_empty(const store::Statement& row, int column) {
  return row.column_is_null(column) ? std::string() : row.column_text(column);
}

CheckpointRef newest_checkpoint(store::Database& db) {
  store::Statement query(db, "SELECT checkpoint_run, checkpoint_epoch FROM report_cells "
                             "WHERE checkpoint_run IS NOT NULL ORDER BY id DESC LIMIT 1");
  if (!query.step()) fail("results database {}: no finished cells to report", db.path());
  return {query.column_text(0), query.column_int(1)};
}

// The run's epochs up to the reported checkpoint's (the run may have gone on since).
std::optional<TrainingRun> load_training(store::Database& db, const CheckpointRef& checkpoint) {
  store::Statement run(db, "SELECT id, uid, name, device, threads, config_path, config_text FROM runs WHERE uid = ?");
  run.bind(1, checkpoint.run_uid);
  if (!run.step()) return std::nullopt;
  TrainingRun training{run.column_text(1), run.column_text(2), text_or_empty(run, 3), text_or_empty(run, 5),
                       run.column_int(4), 0, {}};
  try {
    training.schedule_epochs = config::load_train_config_text(text_or_empty(run, 6), training.config_path).epochs;
  } catch (const Error&) {
    training.schedule_epochs = 0;  // a recipe this qx cannot read: every epoch counts as the schedule's
  }
  store::Statement epochs(db, "SELECT epoch, train_loss, train_top1, test_loss, test_top1, lr, seconds "
                              "FROM train_epochs WHERE run_id = ? AND epoch <= ? ORDER BY epoch");
  epochs.bind(1, run.column_int(0)).bind(2, checkpoint.epoch);
  while (epochs.step()) {
    training.epochs.push_back({epochs.column_int(0), epochs.column_double(1), epochs.column_double(2),
                               epochs.column_double(3), epochs.column_double(4), epochs.column_double(5),
                               epochs.column_double(6)});
  }
  return training;
}

// Each cell's rows of cell_settings, as text.
void load_settings(store::Database& db, std::vector<CellRow>& cells) {
  std::map<std::int64_t, CellRow*> by_id;
  for (auto& c : cells) by_id[c.id] = &c;
  store::Statement settings(db, "SELECT s.cell_id, s.key, s.value FROM cell_settings s "
                                "JOIN report_cells c ON c.id = s.cell_id ORDER BY s.cell_id, s.key");
  while (settings.step()) {
    const auto cell = by_id.find(settings.column_int(0));
    if (cell != by_id.end() && !settings.column_is_null(2)) {
      cell->second->settings[settings.column_text(1)] = settings.column_text(2);
    }
  }
}

// A pass's recorded options and, for a training pass, its loss curve, read out of their JSON by
// SQLite's JSON functions.
void load_pass_details(store::Database& db, const std::string& options_json, PassReport& pass) {
  store::Statement options(db, R"sql(
SELECT key, CASE type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE atom END
FROM json_each(?1, '$.options') WHERE atom IS NOT NULL ORDER BY id)sql");
  options.bind(1, options_json);
  while (options.step()) pass.options.emplace_back(options.column_text(0), options.column_text(1));
  if (pass.report.empty()) return;
  store::Statement curve(db, "SELECT json_extract(value, '$.epoch'), json_extract(value, '$.loss') "
                             "FROM json_each(?1, '$.curve') ORDER BY id");
  curve.bind(1, pass.report);
  while (curve.step()) pass.curve.emplace_back(curve.column_double(0), curve.column_double(1));
}

}  // namespace

ReportData load_report_data(store::Database& db, const CheckpointRef& wanted, const Study& study) {
  db.execute(kCellsView);
  ReportData data;
  data.study = study;
  data.checkpoint = wanted.run_uid.empty() ? newest_checkpoint(db) : wanted;
  store::Statement cells(db, R"sql(
SELECT id, experiment, label, observer, weight_observer, quantizer, passes, quantize, fold_batch_norm,
       w_bits, a_bits, seed, top1, top5, loss, calib_seconds, pass_seconds, eval_seconds, test_images, device, machine,
       threads, quantize_seconds
FROM report_cells
WHERE checkpoint_run = ?1 AND checkpoint_epoch = ?2
  AND test_images = (SELECT MAX(test_images) FROM report_cells WHERE checkpoint_run = ?1 AND checkpoint_epoch = ?2)
ORDER BY id)sql");
  cells.bind(1, data.checkpoint.run_uid).bind(2, data.checkpoint.epoch);
  while (cells.step()) {
    CellRow row;
    row.id = cells.column_int(0);
    row.experiment = cells.column_text(1);
    if (const auto role = study.roles.find(row.experiment); role != study.roles.end()) row.role = role->second;
    row.label = text_or_empty(cells, 2);
    row.observer = text_or_empty(cells, 3);
    row.weight_observer = text_or_empty(cells, 4);
    row.quantizer = text_or_empty(cells, 5);
    row.passes = text_or_empty(cells, 6);
    row.quantize = cells.column_int(7) != 0;
    row.fold_batch_norm = cells.column_is_null(8) || cells.column_int(8) != 0;
    row.w_bits = static_cast<int>(cells.column_is_null(9) ? 0 : cells.column_int(9));
    row.a_bits = static_cast<int>(cells.column_is_null(10) ? 0 : cells.column_int(10));
    row.seed = cells.column_int(11);
    row.top1 = cells.column_double(12);
    row.top5 = cells.column_is_null(13) ? 0.0 : cells.column_double(13);
    row.loss = cells.column_double(14);
    row.calib_seconds = cells.column_is_null(15) ? 0.0 : cells.column_double(15);
    row.pass_seconds = cells.column_double(16);
    row.eval_seconds = cells.column_is_null(17) ? 0.0 : cells.column_double(17);
    data.test_images = cells.column_int(18);
    row.device = cells.column_text(19);
    row.machine = text_or_empty(cells, 20);
    row.threads = static_cast<int>(cells.column_int(21));
    row.quantize_seconds = cells.column_is_null(22) ? 0.0 : cells.column_double(22);
    data.cells.push_back(std::move(row));
  }
  if (data.cells.empty()) {
    fail("results database {}: no finished cells for checkpoint {} epoch {}", db.path(), data.checkpoint.run_uid,
         data.checkpoint.epoch);
  }
  data.training = load_training(db, data.checkpoint);
  load_settings(db, data.cells);
  store::Statement passes(db, "SELECT p.cell_id, p.name, p.report, p.seconds, p.options FROM cell_passes p "
                              "JOIN report_cells c ON c.id = p.cell_id ORDER BY p.cell_id, p.position");
  while (passes.step()) {
    PassReport pass{passes.column_int(0), passes.column_text(1), text_or_empty(passes, 2), passes.column_double(3),
                    {}, {}};
    load_pass_details(db, passes.column_text(4), pass);
    data.passes.push_back(std::move(pass));
  }
  store::Statement packed(db, "SELECT quantizer, bits, bytes, weight_bytes, parameters FROM packed_models "
                              "WHERE checkpoint_run = ? AND checkpoint_epoch = ? ORDER BY bits DESC, quantizer");
  packed.bind(1, data.checkpoint.run_uid).bind(2, data.checkpoint.epoch);
  while (packed.step()) {
    data.packed.push_back({packed.column_text(0), static_cast<int>(packed.column_int(1)), packed.column_int(2),
                           packed.column_int(3), packed.column_int(4)});
  }
  store::Statement histograms(db, "SELECT name, role, images, lo, hi, counts FROM tensor_histograms "
                                  "WHERE checkpoint_run = ? AND checkpoint_epoch = ? ORDER BY rowid");
  histograms.bind(1, data.checkpoint.run_uid).bind(2, data.checkpoint.epoch);
  while (histograms.step()) {
    HistogramRow row{histograms.column_text(0), histograms.column_text(1), histograms.column_int(2),
                     histograms.column_double(3), histograms.column_double(4), {}};
    for (const double count : numbers(histograms.column_text(5))) row.counts.push_back(static_cast<std::int64_t>(count));
    data.histograms.push_back(std::move(row));
  }
  // An experiment whose latest run did not finish still has cells to run (or failed ones).
  store::Statement unfinished(db, "SELECT e.name FROM experiments e WHERE e.status != 'finished' AND "
                                  "e.id = (SELECT MAX(id) FROM experiments WHERE name = e.name)");
  while (unfinished.step()) data.unfinished.insert(unfinished.column_text(0));
  return data;
}

std::vector<TensorRow> load_tensors(store::Database& db, std::int64_t cell_id) {
  store::Statement query(db, "SELECT name, role, bits, sqnr_db, range_min, range_max, scale FROM cell_tensors "
                             "WHERE cell_id = ? ORDER BY position");
  query.bind(1, cell_id);
  std::vector<TensorRow> rows;
  while (query.step()) {
    TensorRow row{cell_id, query.column_text(0), query.column_text(1), static_cast<int>(query.column_int(2)), {},
                  numbers(query.column_text(4)), numbers(query.column_text(5)), numbers(query.column_text(6))};
    if (!query.column_is_null(3)) row.sqnr_db = query.column_double(3);
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace qx::report
