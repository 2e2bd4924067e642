// The SQL that reads results back (qx/store/results_read.h). The schema is results_db.cpp's.
#include "qx/store/results_read.h"

#include <cmath>
#include <cstdlib>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "qx/core/error.h"

namespace qx::store {

namespace {

// A cell's checkpoint and test-set size live in its key: under "context" for the float cell and
// torch.ao's rows, under "context.run" for quantized cells. A judge's verdict (run/onnx_judge.h)
// keys the cell it judged under "source": the same places in that key.
constexpr const char* kFinishedCellsView = R"sql(
CREATE TEMP VIEW IF NOT EXISTS finished_cells AS
SELECT c.*, e.name AS experiment, e.device AS device, e.machine AS machine, e.threads AS threads,
       COALESCE(json_extract(k.key, '$.context.run.checkpoint.run'),
                json_extract(k.key, '$.context.checkpoint.run')) AS checkpoint_run,
       COALESCE(json_extract(k.key, '$.context.run.checkpoint.epoch'),
                json_extract(k.key, '$.context.checkpoint.epoch')) AS checkpoint_epoch,
       COALESCE(json_extract(k.key, '$.context.run.test_images'),
                json_extract(k.key, '$.context.test_images')) AS test_images
FROM cells c JOIN experiments e ON e.id = c.experiment_id
JOIN (SELECT id, COALESCE(json_extract(key, '$.source'), key) AS key FROM cells) k ON k.id = c.id
WHERE c.status = 'finished';
)sql";

void ensure_view(Database& db) { db.execute(kFinishedCellsView); }

// "[0.5, -1.25]" or "0.5", as cell_tensors and tensor_histograms store numbers. Not a JSON
// parser: a non-finite value is written as "nan" or "inf", which JSON cannot hold.
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

std::string text_or_empty(const Statement& row, int column) {
  return row.column_is_null(column) ? std::string() : row.column_text(column);
}

double double_or_zero(const Statement& row, int column) {
  return row.column_is_null(column) ? 0.0 : row.column_double(column);
}

int int_or_zero(const Statement& row, int column) {
  return static_cast<int>(row.column_is_null(column) ? 0 : row.column_int(column));
}

// Each cell's rows of cell_settings, as text.
void read_settings(Database& db, std::vector<CellRow>& cells) {
  std::map<std::int64_t, CellRow*> by_id;
  for (auto& c : cells) by_id[c.id] = &c;
  Statement settings(db, "SELECT s.cell_id, s.key, s.value FROM cell_settings s "
                         "JOIN finished_cells c ON c.id = s.cell_id ORDER BY s.cell_id, s.key");
  while (settings.step()) {
    const auto cell = by_id.find(settings.column_int(0));
    if (cell != by_id.end() && !settings.column_is_null(2)) {
      cell->second->settings[settings.column_text(1)] = settings.column_text(2);
    }
  }
}

// A pass's recorded options and, for a training pass, its loss curve.
void read_pass_details(Database& db, StoredPass& pass) {
  Statement options(db, R"sql(
SELECT key, CASE type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE atom END
FROM json_each(?1, '$.options') WHERE atom IS NOT NULL ORDER BY id)sql");
  options.bind(1, pass.options_json);
  while (options.step()) pass.options.emplace_back(options.column_text(0), options.column_text(1));
  if (pass.report.empty()) return;
  Statement curve(db, "SELECT json_extract(value, '$.epoch'), json_extract(value, '$.loss') "
                      "FROM json_each(?1, '$.curve') ORDER BY id");
  curve.bind(1, pass.report);
  while (curve.step()) pass.curve.emplace_back(curve.column_double(0), curve.column_double(1));
}

}  // namespace

CheckpointRef newest_checkpoint(Database& db) {
  ensure_view(db);
  Statement query(db, "SELECT checkpoint_run, checkpoint_epoch FROM finished_cells "
                      "WHERE checkpoint_run IS NOT NULL ORDER BY id DESC LIMIT 1");
  if (!query.step()) fail("results database {}: no finished cells to report", db.path());
  return {query.column_text(0), query.column_int(1)};
}

CheckpointCells read_cells(Database& db, const CheckpointRef& checkpoint) {
  ensure_view(db);
  Statement cells(db, R"sql(
SELECT id, experiment, label, observer, weight_observer, quantizer, passes, quantize, fold_batch_norm,
       w_bits, a_bits, seed, top1, top5, loss, calib_seconds, pass_seconds, eval_seconds, test_images, device, machine,
       threads, quantize_seconds
FROM finished_cells
WHERE checkpoint_run = ?1 AND checkpoint_epoch = ?2
  AND test_images = (SELECT MAX(test_images) FROM finished_cells WHERE checkpoint_run = ?1 AND checkpoint_epoch = ?2)
ORDER BY id)sql");
  cells.bind(1, checkpoint.run_uid).bind(2, checkpoint.epoch);
  CheckpointCells out;
  while (cells.step()) {
    CellRow row;
    row.id = cells.column_int(0);
    row.experiment = cells.column_text(1);
    row.label = text_or_empty(cells, 2);
    row.observer = text_or_empty(cells, 3);
    row.weight_observer = text_or_empty(cells, 4);
    row.quantizer = text_or_empty(cells, 5);
    row.passes = text_or_empty(cells, 6);
    row.quantize = cells.column_int(7) != 0;
    row.fold_batch_norm = cells.column_is_null(8) || cells.column_int(8) != 0;
    row.w_bits = int_or_zero(cells, 9);
    row.a_bits = int_or_zero(cells, 10);
    row.seed = cells.column_int(11);
    row.top1 = cells.column_double(12);
    row.top5 = double_or_zero(cells, 13);
    row.loss = cells.column_double(14);
    row.calib_seconds = double_or_zero(cells, 15);
    row.pass_seconds = cells.column_double(16);
    row.eval_seconds = double_or_zero(cells, 17);
    out.test_images = cells.column_int(18);
    row.device = cells.column_text(19);
    row.machine = text_or_empty(cells, 20);
    row.threads = static_cast<int>(cells.column_int(21));
    row.quantize_seconds = double_or_zero(cells, 22);
    out.cells.push_back(std::move(row));
  }
  if (out.cells.empty()) {
    fail("results database {}: no finished cells for checkpoint {} epoch {}", db.path(), checkpoint.run_uid,
         checkpoint.epoch);
  }
  read_settings(db, out.cells);
  return out;
}

std::optional<TrainingRunRow> read_training_run(Database& db, const CheckpointRef& checkpoint) {
  Statement run(db, "SELECT id, uid, name, device, threads, config_path, config_text FROM runs WHERE uid = ?");
  run.bind(1, checkpoint.run_uid);
  if (!run.step()) return std::nullopt;
  TrainingRunRow training{run.column_text(1), run.column_text(2), text_or_empty(run, 3), text_or_empty(run, 5),
                          text_or_empty(run, 6), run.column_int(4), {}};
  Statement epochs(db, "SELECT epoch, train_loss, train_top1, test_loss, test_top1, lr, seconds "
                       "FROM train_epochs WHERE run_id = ? AND epoch <= ? ORDER BY epoch");
  epochs.bind(1, run.column_int(0)).bind(2, checkpoint.epoch);
  while (epochs.step()) {
    training.epochs.push_back({epochs.column_int(0), epochs.column_double(1), epochs.column_double(2),
                               epochs.column_double(3), epochs.column_double(4), epochs.column_double(5),
                               epochs.column_double(6)});
  }
  return training;
}

std::vector<StoredPass> read_passes(Database& db) {
  ensure_view(db);
  Statement passes(db, "SELECT p.cell_id, p.name, p.report, p.seconds, p.options FROM cell_passes p "
                       "JOIN finished_cells c ON c.id = p.cell_id ORDER BY p.cell_id, p.position");
  std::vector<StoredPass> out;
  while (passes.step()) {
    StoredPass pass;
    pass.cell_id = passes.column_int(0);
    pass.name = passes.column_text(1);
    pass.report = text_or_empty(passes, 2);
    pass.seconds = passes.column_double(3);
    pass.options_json = passes.column_text(4);
    read_pass_details(db, pass);
    out.push_back(std::move(pass));
  }
  return out;
}

std::vector<PackedRecord> read_packed(Database& db, const CheckpointRef& checkpoint) {
  Statement packed(db, "SELECT quantizer, bits, bytes, weight_bytes, parameters, file FROM packed_models "
                       "WHERE checkpoint_run = ? AND checkpoint_epoch = ? ORDER BY bits DESC, quantizer");
  packed.bind(1, checkpoint.run_uid).bind(2, checkpoint.epoch);
  std::vector<PackedRecord> out;
  while (packed.step()) {
    out.push_back({checkpoint.run_uid, checkpoint.epoch, packed.column_text(0), packed.column_int(1),
                   packed.column_int(2), packed.column_int(3), packed.column_int(4), text_or_empty(packed, 5)});
  }
  return out;
}

std::vector<HistogramRow> read_histograms(Database& db, const CheckpointRef& checkpoint) {
  Statement histograms(db, "SELECT name, role, images, lo, hi, counts FROM tensor_histograms "
                           "WHERE checkpoint_run = ? AND checkpoint_epoch = ? ORDER BY rowid");
  histograms.bind(1, checkpoint.run_uid).bind(2, checkpoint.epoch);
  std::vector<HistogramRow> out;
  while (histograms.step()) {
    HistogramRow row;
    row.name = histograms.column_text(0);
    row.role = histograms.column_text(1);
    row.images = histograms.column_int(2);
    row.lo = histograms.column_double(3);
    row.hi = histograms.column_double(4);
    for (const double count : numbers(histograms.column_text(5))) row.counts.push_back(static_cast<std::int64_t>(count));
    out.push_back(std::move(row));
  }
  return out;
}

std::set<std::string> read_unfinished_experiments(Database& db) {
  Statement unfinished(db, "SELECT e.name FROM experiments e WHERE e.status != 'finished' AND "
                           "e.id = (SELECT MAX(id) FROM experiments WHERE name = e.name)");
  std::set<std::string> out;
  while (unfinished.step()) out.insert(unfinished.column_text(0));
  return out;
}

std::vector<TensorRow> read_tensors(Database& db, std::int64_t cell_id) {
  Statement query(db, "SELECT name, role, bits, axis, qmin, qmax, scale, zero_point, range_min, range_max, sqnr_db "
                      "FROM cell_tensors WHERE cell_id = ? ORDER BY position");
  query.bind(1, cell_id);
  std::vector<TensorRow> rows;
  while (query.step()) {
    TensorRow row;
    row.name = query.column_text(0);
    row.role = query.column_text(1);
    row.bits = query.column_int(2);
    row.axis = query.column_is_null(3) ? -1 : query.column_int(3);
    row.qmin = query.column_is_null(4) ? 0 : query.column_int(4);
    row.qmax = query.column_is_null(5) ? 0 : query.column_int(5);
    row.scale = numbers(text_or_empty(query, 6));
    row.zero_point = numbers(text_or_empty(query, 7));
    row.range_min = numbers(text_or_empty(query, 8));
    row.range_max = numbers(text_or_empty(query, 9));
    row.sqnr_db = query.column_is_null(10) ? std::numeric_limits<double>::quiet_NaN() : query.column_double(10);
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<BenchmarkRow> read_benchmarks(Database& db) {
  Statement query(db, "SELECT suite, name, seconds, iterations, items_per_second, context, machine FROM benchmarks "
                      "ORDER BY suite, name");
  std::vector<BenchmarkRow> out;
  while (query.step()) {
    BenchmarkRow row{query.column_text(0), query.column_text(1), query.column_double(2), query.column_int(3), {},
                     query.column_text(5), query.column_text(6)};
    if (!query.column_is_null(4)) row.items_per_second = query.column_double(4);
    out.push_back(std::move(row));
  }
  return out;
}

std::vector<GridScalingRun> read_grid_scaling_runs(Database& db) {
  Statement query(db, R"sql(
SELECT name, seconds, json_extract(context, '$.processes'), json_extract(context, '$.cells'),
       json_extract(context, '$.cell_seconds'), json_extract(context, '$.write_seconds_per_cell')
FROM benchmarks WHERE suite = 'grid_scaling'
ORDER BY name NOT LIKE 'one_process%', name)sql");
  std::vector<GridScalingRun> runs;
  while (query.step()) {
    GridScalingRun run{query.column_text(0), query.column_double(1), static_cast<int>(query.column_int(2)),
                       static_cast<int>(query.column_int(3)), query.column_double(4), {}};
    if (!query.column_is_null(5)) run.write_seconds_per_cell = query.column_double(5);
    runs.push_back(std::move(run));
  }
  return runs;
}

std::vector<ExperimentRunRow> read_finished_cpu_runs(Database& db, const std::vector<std::string>& experiments) {
  // One bound parameter per experiment name: IN (?1, ?2, ...).
  std::vector<std::string> slots;
  for (std::size_t i = 1; i <= experiments.size(); ++i) slots.push_back(fmt::format("?{}", i));
  Statement query(db, fmt::format(R"sql(
SELECT e.name, COUNT(c.id), (julianday(e.finished_at) - julianday(e.started_at)) * 1440.0, e.threads, e.started_at
FROM experiments e JOIN cells c ON c.experiment_id = e.id
WHERE e.status = 'finished' AND e.device = 'cpu' AND e.finished_at IS NOT NULL AND e.name IN ({})
GROUP BY e.id ORDER BY e.id)sql", fmt::join(slots, ", ")));
  for (std::size_t i = 0; i < experiments.size(); ++i) query.bind(static_cast<int>(i + 1), experiments[i]);
  std::vector<ExperimentRunRow> out;
  while (query.step()) {
    out.push_back({query.column_text(0), query.column_text(4), query.column_int(1), query.column_int(3),
                   query.column_double(2)});
  }
  return out;
}

std::vector<CellSeconds> read_experiment_cell_seconds(Database& db) {
  Statement query(db, R"sql(
SELECT e.name, e.device, IFNULL(c.calib_seconds, 0) + IFNULL(c.quantize_seconds, 0) + c.pass_seconds + IFNULL(c.eval_seconds, 0)
FROM cells c JOIN experiments e ON e.id = c.experiment_id
WHERE c.status = 'finished' AND e.config_path LIKE '%.toml' ORDER BY e.name)sql");
  std::vector<CellSeconds> out;
  while (query.step()) out.push_back({query.column_text(0), query.column_text(1), query.column_double(2)});
  return out;
}

}  // namespace qx::store
