#include "qx/run/cell_sink.h"

#include <spdlog/spdlog.h>

namespace qx::run {

void SinkList::begin(const RunStart& start) {
  for (auto* sink : sinks_) sink->begin(start);
}
void SinkList::computed(const PlannedCell& planned, const store::CellResult& result, const std::string& where) {
  for (auto* sink : sinks_) sink->computed(planned, result, where);
}
void SinkList::settled(const PlannedCell& planned, Settled how) {
  for (auto* sink : sinks_) sink->settled(planned, how);
}
void SinkList::held_elsewhere(const PlannedCell& planned, const std::string& holder) {
  for (auto* sink : sinks_) sink->held_elsewhere(planned, holder);
}
void SinkList::end(const RunSummary& summary) {
  for (auto* sink : sinks_) sink->end(summary);
}

void SummarySink::begin(const RunStart& start) { summary_.cells = static_cast<std::int64_t>(start.cells); }

void SummarySink::computed(const PlannedCell& planned, const store::CellResult& result, const std::string&) {
  if (result.error.empty()) {
    ++summary_.finished;
    return;
  }
  ++summary_.failed;
  if (summary_.first_error.empty()) summary_.first_error = planned.description + ": " + result.error;
}

void SummarySink::settled(const PlannedCell&, Settled how) {
  ++(how == Settled::kEarlier ? summary_.skipped : summary_.by_others);
}

DatabaseSink::DatabaseSink(store::ResultsDb& results, store::ExperimentRecord record,
                           std::optional<store::HistogramRecord> histograms)
    : results_(results), record_(std::move(record)), histograms_(std::move(histograms)) {}

void DatabaseSink::begin(const RunStart&) {
  experiment_id_ = results_.open_experiment(record_);
  if (histograms_) results_.record_histograms(*histograms_);
}

void DatabaseSink::computed(const PlannedCell&, const store::CellResult& result, const std::string&) {
  const auto start = Clock::now();
  results_.record_cell(experiment_id_, result);
  writes_.seconds += seconds_since(start);
  ++writes_.cells;
}

void DatabaseSink::end(const RunSummary& summary) {
  results_.finish_experiment(experiment_id_, summary.failed ? "failed" : "finished", summary.first_error, writes_);
}

void ConsoleSink::begin(const RunStart& start) {
  start_ = start;
  began_ = Clock::now();
}

std::string ConsoleSink::progress(const PlannedCell& planned, const std::string& where) const {
  return fmt::format("[{}/{}] {}{}", settled_, start_.cells, planned.description,
                     where.empty() ? "" : " (" + where + ")");
}

void ConsoleSink::computed(const PlannedCell& planned, const store::CellResult& result, const std::string& where) {
  ++settled_;
  ++computed_;
  if (!result.error.empty()) {
    spdlog::error("{}: failed: {}", progress(planned, where), result.error);
    return;
  }
  // The pace so far: wall time per computed cell, which already divides by the ranks at work.
  const auto left = static_cast<double>(start_.cells - settled_) * seconds_since(began_) / static_cast<double>(computed_);
  spdlog::info("{}: top-1 {:.2f}%  (calibration {:.1f} s, evaluation {:.1f} s)  ~{:.0f} s left",
               progress(planned, where), result.top1, result.calib_seconds, result.eval_seconds, left);
}

void ConsoleSink::settled(const PlannedCell& planned, Settled how) {
  ++settled_;
  spdlog::info("{}: {}", progress(planned, ""),
               how == Settled::kEarlier ? "finished earlier, skipped" : "finished by another process");
}

void ConsoleSink::held_elsewhere(const PlannedCell& planned, const std::string& holder) {
  spdlog::info("[{}/{}] {}: being computed by {}, later", settled_ + 1, start_.cells, planned.description, holder);
}

void ConsoleSink::end(const RunSummary& summary) {
  const auto written = summary.finished + summary.failed;
  if (start_.ranks > 1 && written > 0) {
    spdlog::info("rank 0 wrote {} cells in {:.3f} s ({:.1f} ms per cell)", written, summary.write_seconds,
                 1000 * summary.write_seconds / static_cast<double>(written));
  }
}

}  // namespace qx::run
