#include "qx/store/results_merge.h"

#include <filesystem>

#include "qx/core/error.h"

namespace qx::store {

namespace {

// Ids are renumbered above the target's largest, in temporary copies, so that the inserts can
// take whole rows whatever columns a schema version has.
constexpr const char* kMerge = R"sql(
CREATE TEMP TABLE merge_cells AS SELECT * FROM merge_source.cells
  WHERE status = 'finished' AND key NOT IN (SELECT key FROM main.cells);
CREATE TEMP TABLE merge_experiments AS SELECT * FROM merge_source.experiments
  WHERE id IN (SELECT experiment_id FROM merge_cells);
CREATE TEMP TABLE merge_tensors AS SELECT * FROM merge_source.cell_tensors
  WHERE cell_id IN (SELECT id FROM merge_cells);
CREATE TEMP TABLE merge_passes AS SELECT * FROM merge_source.cell_passes
  WHERE cell_id IN (SELECT id FROM merge_cells);
CREATE TEMP TABLE merge_offset AS SELECT (SELECT IFNULL(MAX(id), 0) FROM main.experiments) AS experiment,
                                         (SELECT IFNULL(MAX(id), 0) FROM main.cells) AS cell;
UPDATE merge_tensors SET cell_id = cell_id + (SELECT cell FROM merge_offset);
UPDATE merge_passes SET cell_id = cell_id + (SELECT cell FROM merge_offset);
UPDATE merge_cells SET id = id + (SELECT cell FROM merge_offset),
                       experiment_id = experiment_id + (SELECT experiment FROM merge_offset);
UPDATE merge_experiments SET id = id + (SELECT experiment FROM merge_offset);
INSERT INTO main.experiments SELECT * FROM merge_experiments;
INSERT INTO main.cells SELECT * FROM merge_cells;
INSERT INTO main.cell_tensors SELECT * FROM merge_tensors;
INSERT INTO main.cell_passes SELECT * FROM merge_passes;
)sql";

std::int64_t count(Database& db, const std::string& sql) {
  Statement query(db, sql);
  query.step();
  return query.column_int(0);
}

}  // namespace

MergeSummary merge_results(ResultsDb& into, const std::string& from) {
  // ATTACH would create a missing file and report an empty database.
  if (!std::filesystem::is_regular_file(from)) fail("merge: no results database '{}'", from);
  auto& db = into.database();
  Statement attach(db, "ATTACH DATABASE ? AS merge_source");
  attach.bind(1, from).run();
  struct Detach {
    Database& db;
    ~Detach() {
      try {
        db.execute("DROP TABLE IF EXISTS temp.merge_cells; DROP TABLE IF EXISTS temp.merge_experiments; "
                   "DROP TABLE IF EXISTS temp.merge_tensors; DROP TABLE IF EXISTS temp.merge_passes; "
                   "DROP TABLE IF EXISTS temp.merge_offset; DETACH DATABASE merge_source");
      } catch (const Error&) {
      }
    }
  } detach{db};

  if (count(db, "SELECT COUNT(*) FROM merge_source.sqlite_master "
                "WHERE type = 'table' AND name = 'schema_version'") == 0) {
    fail("merge: '{}' is not a qx results database (no schema_version table)", from);
  }
  const auto version = count(db, "SELECT version FROM merge_source.schema_version");
  if (version != kSchemaVersion) {
    fail("merge: '{}' is at schema version {}, '{}' at {}; open it once with this qx to migrate it", from, version,
         db.path(), kSchemaVersion);
  }
  Transaction transaction(db);
  db.execute(kMerge);
  MergeSummary summary;
  summary.cells = count(db, "SELECT COUNT(*) FROM merge_cells");
  summary.experiments = count(db, "SELECT COUNT(*) FROM merge_experiments");
  summary.skipped = count(db, "SELECT COUNT(*) FROM merge_source.cells WHERE status = 'finished'") - summary.cells;
  transaction.commit();
  return summary;
}

}  // namespace qx::store
