#include "qx/store/results_db.h"

#include <filesystem>


#include "qx/core/error.h"

namespace qx::store {

namespace {

// A cell's settings, one row each, derived from its columns and its options JSON: the plugins,
// widths, passes and seed, each plugin's and pass's options (flat: qx/core/options.h) ("observer.percentile",
// "pass.adaround.iterations") and each per-layer width ("override.layer1.0.conv1.w_bits").
// {cell} is the cells row(s) to derive: NEW.id in the trigger that fills the table on every
// insert (by qx, by the Python tools, by `qx merge`), c.id when the migration fills old cells.
constexpr const char* kCellSettingsOf = R"sql(
INSERT OR IGNORE INTO cell_settings (cell_id, key, value)
SELECT id, 'quantize', quantize FROM cells c WHERE c.id = {cell}
UNION ALL SELECT id, 'label', label FROM cells c WHERE c.id = {cell} AND label IS NOT NULL
UNION ALL SELECT id, 'observer', observer FROM cells c WHERE c.id = {cell} AND quantize
UNION ALL SELECT id, 'weight_observer', weight_observer FROM cells c WHERE c.id = {cell} AND quantize
UNION ALL SELECT id, 'quantizer', quantizer FROM cells c WHERE c.id = {cell} AND quantize
UNION ALL SELECT id, 'w_bits', w_bits FROM cells c WHERE c.id = {cell} AND quantize
UNION ALL SELECT id, 'a_bits', a_bits FROM cells c WHERE c.id = {cell} AND quantize
UNION ALL SELECT id, 'fold_batch_norm', fold_batch_norm FROM cells c WHERE c.id = {cell} AND quantize
UNION ALL SELECT id, 'passes', passes FROM cells c WHERE c.id = {cell} AND passes != ''
UNION ALL SELECT id, 'seed', seed FROM cells c WHERE c.id = {cell} AND passes != ''
UNION ALL SELECT id, 'residual_bits', json_extract(options, '$.residual_bits') FROM cells c
  WHERE c.id = {cell} AND json_extract(options, '$.residual_bits') IS NOT NULL
UNION ALL SELECT c.id, p.key || '.' || o.key, o.atom
  FROM cells c, json_each(c.options) p, json_each(p.value, '$.options') o
  WHERE c.id = {cell} AND p.key IN ('observer', 'weight_observer', 'quantizer') AND o.atom IS NOT NULL
UNION ALL SELECT c.id, 'override.' || o.key || '.' || b.key, b.value
  FROM cells c, json_each(c.options, '$.overrides') o, json_each(o.value) b WHERE c.id = {cell}
UNION ALL SELECT c.id, 'pass.' || json_extract(p.value, '$.name') || '.' || o.key, o.atom
  FROM cells c, json_each(c.options, '$.passes') p, json_each(p.value, '$.options') o
  WHERE c.id = {cell} AND o.atom IS NOT NULL;
)sql";

std::string cell_settings_of(const std::string& cell) {
  std::string sql = kCellSettingsOf;
  for (auto at = sql.find("{cell}"); at != std::string::npos; at = sql.find("{cell}", at)) sql.replace(at, 6, cell);
  return sql;
}

// Version 7 to 8: cell settings as rows (Optuna's trial_params), so that a query filters and
// groups by any setting without parsing the options JSON.
std::string cell_settings_migration() {
  return R"sql(
CREATE TABLE cell_settings (
  cell_id INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
  key     TEXT    NOT NULL,
  value,  -- as stored in the cell: integers stay integers, names text
  PRIMARY KEY (cell_id, key)
) WITHOUT ROWID;
CREATE INDEX cell_settings_by_key ON cell_settings (key, value);
CREATE VIEW result_settings AS
SELECT e.name AS experiment, c.id AS cell_id, c.label, s.key, s.value, c.top1, c.top5, c.loss
FROM cell_settings s JOIN cells c ON c.id = s.cell_id JOIN experiments e ON e.id = c.experiment_id
WHERE c.status = 'finished';
DROP VIEW results;
CREATE VIEW results AS
SELECT e.name AS experiment, c.label, c.observer, c.weight_observer, c.quantizer, c.w_bits, c.a_bits,
       c.fold_batch_norm, c.passes, c.seed, c.options, c.top1, c.top5, c.loss, c.calib_seconds,
       c.pass_seconds, c.eval_seconds, c.key, c.id AS cell_id
FROM cells c JOIN experiments e ON e.id = c.experiment_id
WHERE c.status = 'finished';
CREATE TRIGGER cell_settings_on_insert AFTER INSERT ON cells BEGIN
)sql" + cell_settings_of("NEW.id") + "END;\n" + cell_settings_of("c.id");
}

// Version 9 to 10: an integer runtime's verdict on a cell (experiments `onnxruntime`,
// `int8-kernels`) keeps its measurements in the options' "judge" object; each member becomes a
// setting under its own name ("onnx.agreement"), beside the settings the cell shares with the
// simulated cell it judges.
constexpr const char* kJudgeSettingsOf = R"sql(
INSERT OR IGNORE INTO cell_settings (cell_id, key, value)
SELECT c.id, o.key, o.atom FROM cells c, json_each(c.options, '$.judge') o
  WHERE c.id = {cell} AND o.atom IS NOT NULL;
)sql";

std::string judge_settings_migration() {
  std::string judge = kJudgeSettingsOf;
  for (auto at = judge.find("{cell}"); at != std::string::npos; at = judge.find("{cell}", at)) judge.replace(at, 6, "NEW.id");
  return "DROP TRIGGER cell_settings_on_insert;\nCREATE TRIGGER cell_settings_on_insert AFTER INSERT ON cells BEGIN\n" +
         cell_settings_of("NEW.id") + judge + "END;\n";
}

// Migrations are numbered; migration i takes the schema from version i to i+1 and never changes
// once released.
const std::string kMigrations[] = {
    R"sql(
CREATE TABLE runs (
  id            INTEGER PRIMARY KEY,
  uid           TEXT    NOT NULL UNIQUE,
  kind          TEXT    NOT NULL CHECK (kind IN ('train', 'ptq', 'eval')),
  name          TEXT    NOT NULL,
  status        TEXT    NOT NULL CHECK (status IN ('running', 'stopped', 'finished', 'failed')),
  error         TEXT,
  config_path   TEXT,
  config_text   TEXT,
  model         TEXT,
  device        TEXT,
  threads       INTEGER,
  torch_version TEXT,
  started_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  finished_at   TEXT
);
CREATE TABLE train_epochs (
  run_id            INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  epoch             INTEGER NOT NULL,
  train_loss        REAL NOT NULL,
  train_top1        REAL NOT NULL,
  test_loss         REAL NOT NULL,
  test_top1         REAL NOT NULL,
  test_top5         REAL NOT NULL,
  lr                REAL NOT NULL,
  seconds           REAL NOT NULL,
  data_seconds      REAL NOT NULL,
  images_per_second REAL NOT NULL,
  UNIQUE (run_id, epoch)
);
)sql",
    R"sql(
CREATE TABLE experiments (
  id            INTEGER PRIMARY KEY,
  name          TEXT    NOT NULL,
  status        TEXT    NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
  error         TEXT,
  config_path   TEXT    NOT NULL,
  config_text   TEXT    NOT NULL,
  git_revision  TEXT,
  checkpoint    TEXT    NOT NULL,
  model         TEXT    NOT NULL,
  device        TEXT    NOT NULL,
  threads       INTEGER NOT NULL,
  torch_version TEXT    NOT NULL,
  started_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  finished_at   TEXT
);
CREATE TABLE cells (
  id               INTEGER PRIMARY KEY,
  experiment_id    INTEGER NOT NULL REFERENCES experiments(id),
  key              TEXT    NOT NULL UNIQUE,
  label            TEXT,
  quantize         INTEGER NOT NULL,
  observer         TEXT,
  weight_observer  TEXT,
  quantizer        TEXT,
  w_bits           INTEGER,
  a_bits           INTEGER,
  fold_batch_norm  INTEGER,
  options          TEXT    NOT NULL,
  status           TEXT    NOT NULL CHECK (status IN ('finished', 'failed')),
  error            TEXT,
  top1             REAL,
  top5             REAL,
  loss             REAL,
  images           INTEGER,
  calib_seconds    REAL,
  quantize_seconds REAL,
  eval_seconds     REAL,
  finished_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE TABLE cell_tensors (
  cell_id    INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
  position   INTEGER NOT NULL,
  name       TEXT    NOT NULL,
  role       TEXT    NOT NULL CHECK (role IN ('weight', 'activation')),
  bits       INTEGER NOT NULL,
  axis       INTEGER NOT NULL,
  qmin       INTEGER NOT NULL,
  qmax       INTEGER NOT NULL,
  scale      TEXT    NOT NULL,
  zero_point TEXT    NOT NULL,
  range_min  TEXT    NOT NULL,
  range_max  TEXT    NOT NULL,
  sqnr_db    REAL,
  PRIMARY KEY (cell_id, position)
);
CREATE VIEW results AS
SELECT e.name AS experiment, c.label, c.observer, c.weight_observer, c.quantizer, c.w_bits, c.a_bits,
       c.fold_batch_norm, c.options, c.top1, c.top5, c.loss, c.calib_seconds, c.eval_seconds, c.key
FROM cells c JOIN experiments e ON e.id = c.experiment_id
WHERE c.status = 'finished';
)sql",
    R"sql(
ALTER TABLE cells ADD COLUMN passes TEXT NOT NULL DEFAULT '';
ALTER TABLE cells ADD COLUMN seed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cells ADD COLUMN pass_seconds REAL NOT NULL DEFAULT 0;
CREATE TABLE cell_passes (
  cell_id  INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  name     TEXT    NOT NULL,
  version  TEXT    NOT NULL,
  options  TEXT    NOT NULL,
  seconds  REAL    NOT NULL,
  report   TEXT,
  PRIMARY KEY (cell_id, position)
);
DROP VIEW results;
CREATE VIEW results AS
SELECT e.name AS experiment, c.label, c.observer, c.weight_observer, c.quantizer, c.w_bits, c.a_bits,
       c.fold_batch_norm, c.passes, c.seed, c.options, c.top1, c.top5, c.loss, c.calib_seconds,
       c.pass_seconds, c.eval_seconds, c.key
FROM cells c JOIN experiments e ON e.id = c.experiment_id
WHERE c.status = 'finished';
)sql",
    R"sql(
CREATE TABLE packed_models (
  checkpoint_run   TEXT    NOT NULL,
  checkpoint_epoch INTEGER NOT NULL,
  quantizer        TEXT    NOT NULL,
  bits             INTEGER NOT NULL,
  bytes            INTEGER NOT NULL,
  weight_bytes     INTEGER NOT NULL,
  parameters       INTEGER NOT NULL,
  file             TEXT    NOT NULL,
  PRIMARY KEY (checkpoint_run, checkpoint_epoch, quantizer, bits)
);
)sql",
    R"sql(
CREATE TABLE tensor_histograms (
  checkpoint_run   TEXT    NOT NULL,
  checkpoint_epoch INTEGER NOT NULL,
  name             TEXT    NOT NULL,
  role             TEXT    NOT NULL CHECK (role IN ('weight', 'activation')),
  images           INTEGER NOT NULL,
  lo               REAL    NOT NULL,
  hi               REAL    NOT NULL,
  counts           TEXT    NOT NULL,
  PRIMARY KEY (checkpoint_run, checkpoint_epoch, name, role)
);
)sql",
    R"sql(
CREATE TABLE benchmarks (
  suite            TEXT    NOT NULL,
  name             TEXT    NOT NULL,
  seconds          REAL    NOT NULL,
  iterations       INTEGER NOT NULL,
  items_per_second REAL,
  context          TEXT    NOT NULL,
  machine          TEXT    NOT NULL,
  recorded_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  PRIMARY KEY (suite, name)
);
)sql",
    R"sql(
ALTER TABLE experiments ADD COLUMN machine TEXT;
ALTER TABLE experiments ADD COLUMN ranks INTEGER NOT NULL DEFAULT 1;
ALTER TABLE experiments ADD COLUMN shard TEXT;
ALTER TABLE experiments ADD COLUMN cells_written INTEGER;
ALTER TABLE experiments ADD COLUMN write_seconds REAL;
CREATE TABLE cell_claims (
  key        TEXT NOT NULL PRIMARY KEY,
  owner      TEXT NOT NULL,
  claimed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
)sql",
    cell_settings_migration(),
    // The process that writes an experiment row ("host:pid", as cell claims): a later run marks
    // the row of a process that ended without finishing it as failed.
    "ALTER TABLE experiments ADD COLUMN owner TEXT;",
    judge_settings_migration(),
};

std::string with_parent_created(const std::string& path) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  return path;
}

// A reader opens the file read-only only where it needs no upgrade; anything else (no file, no
// schema, an older or newer one, not a database) takes the writer's path, which upgrades the file
// or fails with the reason.
Access access_for(const std::string& path, Access wanted) {
  if (wanted == Access::kReadWrite || !std::filesystem::is_regular_file(path)) return Access::kReadWrite;
  try {
    Database db(path, Access::kReadOnly);
    Statement query(db, "SELECT version FROM schema_version");
    return query.step() && query.column_int(0) == kSchemaVersion ? Access::kReadOnly : Access::kReadWrite;
  } catch (const Error&) {
    return Access::kReadWrite;
  }
}

}  // namespace

ResultsDb::ResultsDb(const std::string& path, Access access)
    : access_(access_for(path, access)), db_(with_parent_created(path), access_) {
  if (access_ == Access::kReadOnly) return;
  migrate();
  // Write-ahead logging: readers never block the writer, so two `qx run` processes (or a report
  // while a grid runs) share the file; the busy timeout covers writer against writer. Set after
  // the schema exists, so that a process killed while creating the file leaves no empty schema.
  db_.execute("PRAGMA journal_mode = WAL");
}

void ResultsDb::migrate() {
  db_.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  // Read and upgrade under one write lock, so two processes opening an old file migrate it once.
  Transaction transaction(db_);
  std::int64_t version = 0;
  {
    Statement query(db_, "SELECT version FROM schema_version");
    if (query.step()) version = query.column_int(0);
  }
  if (version > kSchemaVersion) {
    fail("results database {}: schema version {} is newer than this qx understands ({})", db_.path(), version,
         kSchemaVersion);
  }
  if (version == kSchemaVersion) return;
  for (; version < kSchemaVersion; ++version) db_.execute(kMigrations[version]);
  db_.execute("DELETE FROM schema_version");
  Statement(db_, "INSERT INTO schema_version (version) VALUES (?)").bind(1, kSchemaVersion).run();
  transaction.commit();
}

std::int64_t ResultsDb::open_run(const RunRecord& run) {
  Statement existing(db_, "SELECT id FROM runs WHERE uid = ?");
  existing.bind(1, run.uid);
  if (existing.step()) {
    const std::int64_t id = existing.column_int(0);
    // A resumed run may carry an appended phase (e.g. [swa]); the recipe on record is the latest.
    Statement(db_,
              "UPDATE runs SET status = 'running', error = NULL, finished_at = NULL, config_text = ? WHERE id = ?")
        .bind(1, run.config_text)
        .bind(2, id)
        .run();
    return id;
  }
  Statement insert(db_,
                   "INSERT INTO runs (uid, kind, name, status, config_path, config_text, model, device, threads, "
                   "torch_version) VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)");
  insert.bind(1, run.uid).bind(2, run.kind).bind(3, run.name).bind(4, run.config_path).bind(5, run.config_text);
  insert.bind(6, run.model).bind(7, run.device).bind(8, run.threads).bind(9, run.torch_version);
  insert.run();
  return db_.last_insert_id();
}

void ResultsDb::record_epoch(std::int64_t run_id, const spec::EpochRecord& e) {
  Statement insert(db_,
                   "INSERT OR REPLACE INTO train_epochs (run_id, epoch, train_loss, train_top1, test_loss, "
                   "test_top1, test_top5, lr, seconds, data_seconds, images_per_second) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  insert.bind(1, run_id).bind(2, e.epoch).bind(3, e.train_loss).bind(4, e.train_top1).bind(5, e.test_loss);
  insert.bind(6, e.test_top1).bind(7, e.test_top5).bind(8, e.lr).bind(9, e.seconds).bind(10, e.data_seconds);
  insert.bind(11, e.images_per_second);
  insert.run();
}

void ResultsDb::finish_run(std::int64_t run_id, const std::string& status, const std::string& error) {
  Statement update(db_,
                   "UPDATE runs SET status = ?, error = ?, finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') "
                   "WHERE id = ?");
  update.bind(1, status);
  if (error.empty()) update.bind_null(2);
  else update.bind(2, error);
  update.bind(3, run_id).run();
}

}  // namespace qx::store
