#pragma once
// What a run tells, apart from how it schedules. As Google Benchmark's runner feeds its
// reporters, the schedulers (the serial runner, ptq_runner.h, and the MPI coordinator,
// mpi_farm.h) decide which cell is computed where and when, and report each event to sinks:
// DatabaseSink writes the results database, ConsoleSink prints progress and the time left,
// SummarySink counts; a test adds one that keeps the events in memory.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "qx/core/clock.h"
#include "qx/store/results_db.h"

namespace qx::run {

// A cell as the schedulers see it: its place in the file and the key it is stored under.
struct PlannedCell {
  std::size_t index = 0;
  std::string key;
  std::string description;  // "minmax/per_channel W4A4 +cle"
};

struct RunSummary {
  std::int64_t cells = 0;
  std::int64_t skipped = 0;   // finished earlier
  std::int64_t finished = 0;  // by this run
  std::int64_t failed = 0;
  std::int64_t other_shards = 0;  // cells this shard leaves to the others
  std::int64_t by_others = 0;     // finished meanwhile by another process on the same database
  std::string first_error;
  double seconds = 0;
  double write_seconds = 0;  // spent writing cells to the database
  bool primary = true;       // false on an MPI worker rank, which reports nothing
};

struct RunStart {
  std::size_t cells = 0;  // the cells this run settles (a shard's share)
  int ranks = 1;          // processes computing them
};

// How a cell was settled without this run computing it.
enum class Settled { kEarlier, kByAnotherProcess };

class CellSink {
 public:
  virtual ~CellSink() = default;
  virtual void begin(const RunStart& start) { (void)start; }
  // A cell this run computed, finished or failed. `where` names the rank of an MPI job, else "".
  virtual void computed(const PlannedCell& planned, const store::CellResult& result, const std::string& where) = 0;
  virtual void settled(const PlannedCell& planned, Settled how) { (void)planned, (void)how; }
  // Another live process holds the cell; the run comes back to it later.
  virtual void held_elsewhere(const PlannedCell& planned, const std::string& holder) { (void)planned, (void)holder; }
  virtual void end(const RunSummary& summary) { (void)summary; }
};

// Every event to each sink, in order.
class SinkList : public CellSink {
 public:
  explicit SinkList(std::vector<CellSink*> sinks) : sinks_(std::move(sinks)) {}
  void begin(const RunStart& start) override;
  void computed(const PlannedCell& planned, const store::CellResult& result, const std::string& where) override;
  void settled(const PlannedCell& planned, Settled how) override;
  void held_elsewhere(const PlannedCell& planned, const std::string& holder) override;
  void end(const RunSummary& summary) override;

 private:
  std::vector<CellSink*> sinks_;
};

// The counts of RunSummary (cells, skipped, finished, failed, by_others, the first error).
class SummarySink : public CellSink {
 public:
  void begin(const RunStart& start) override;
  void computed(const PlannedCell& planned, const store::CellResult& result, const std::string& where) override;
  void settled(const PlannedCell& planned, Settled how) override;
  const RunSummary& summary() const { return summary_; }

 private:
  RunSummary summary_;
};

// One experiment row: opened with the histograms when the run begins, a transaction per computed
// cell, finished (or failed) when it ends.
class DatabaseSink : public CellSink {
 public:
  DatabaseSink(store::ResultsDb& results, store::ExperimentRecord record,
               std::optional<store::HistogramRecord> histograms);
  void begin(const RunStart& start) override;
  void computed(const PlannedCell& planned, const store::CellResult& result, const std::string& where) override;
  void end(const RunSummary& summary) override;
  const store::WriteCost& writes() const { return writes_; }

 private:
  store::ResultsDb& results_;
  store::ExperimentRecord record_;
  std::optional<store::HistogramRecord> histograms_;
  std::int64_t experiment_id_ = -1;
  store::WriteCost writes_;
};

// A line per cell, "[3/17] minmax/per_channel W4A4 (rank 2): top-1 91.20% (...) ~40 s left",
// the left time from the run's pace so far.
class ConsoleSink : public CellSink {
 public:
  void begin(const RunStart& start) override;
  void computed(const PlannedCell& planned, const store::CellResult& result, const std::string& where) override;
  void settled(const PlannedCell& planned, Settled how) override;
  void held_elsewhere(const PlannedCell& planned, const std::string& holder) override;
  void end(const RunSummary& summary) override;

 private:
  std::string progress(const PlannedCell& planned, const std::string& where) const;
  RunStart start_;
  Clock::time_point began_;
  std::size_t settled_ = 0, computed_ = 0;
};

}  // namespace qx::run
