#include "qx/run/ptq_runner.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "qx/core/clock.h"
#include "qx/core/error.h"
#include "qx/store/results_db.h"

namespace qx::run {

namespace {



}  // namespace

Shard parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  Shard shard;
  try {
    std::size_t used = 0;
    if (slash == std::string::npos) throw std::invalid_argument(text);
    shard.index = std::stoll(text.substr(0, slash), &used);
    if (used != slash) throw std::invalid_argument(text);
    shard.count = std::stoll(text.substr(slash + 1), &used);
    if (used != text.size() - slash - 1) throw std::invalid_argument(text);
  } catch (const std::logic_error&) {
    fail("--shard '{}': expected K/N, e.g. 1/4", text);
  }
  if (shard.count < 1 || shard.index < 1 || shard.index > shard.count) {
    fail("--shard '{}': K must be between 1 and N", text);
  }
  return shard;
}

namespace {

// Drops this process's remaining claims however the run ends, so that no cell stays claimed by
// a process that is no longer computing it.
class ClaimsGuard {
 public:
  ClaimsGuard(store::ResultsDb& results, std::string owner) : results_(results), owner_(std::move(owner)) {}
  ~ClaimsGuard() {
    try {
      results_.release_claims(owner_);
    } catch (const std::exception&) {
      // Stale claims are taken over by the next run anyway (their pid is gone).
    }
  }
  ClaimsGuard(const ClaimsGuard&) = delete;
  ClaimsGuard& operator=(const ClaimsGuard&) = delete;

 private:
  store::ResultsDb& results_;
  std::string owner_;
};

}  // namespace

bool nothing_to_write(const ExperimentSession& session, const std::vector<const PlannedCell*>& cells) {
  const auto path = session.database_path();
  if (!std::filesystem::is_regular_file(path)) return false;
  store::ResultsDb results(path, store::Access::kReadOnly);
  return session.histograms_recorded(results) &&
         std::all_of(cells.begin(), cells.end(),
                     [&](const PlannedCell* planned) { return results.has_finished_cell(planned->key); });
}

RunSummary run_ptq_experiment(const config::PtqExperiment& experiment, const PluginHost& host,
                              const RunOverrides& overrides, const Shard& shard) {
  const auto run_start = Clock::now();
  ExperimentSession session(experiment, host, overrides);
  RunSummary summary;
  const auto& plan = session.plan();
  summary.cells = static_cast<std::int64_t>(plan.size());
  std::vector<const PlannedCell*> mine;
  for (const auto& planned : plan) {
    if (shard.owns(planned.index)) {
      mine.push_back(&planned);
    } else {
      ++summary.other_shards;
    }
  }
  if (nothing_to_write(session, mine)) {
    for (std::size_t i = 0; i < mine.size(); ++i) {
      spdlog::info("[{}/{}] {}: finished earlier, skipped", i + 1, mine.size(), mine[i]->description);
    }
    summary.skipped = static_cast<std::int64_t>(mine.size());
    summary.seconds = seconds_since(run_start);
    return summary;
  }

  store::ResultsDb results(session.database_path());
  auto record = session.experiment_record();
  if (shard.count > 1) record.shard = fmt::format("{}/{}", shard.index, shard.count);
  const auto experiment_id = results.open_experiment(record);
  if (auto histograms = session.histograms()) results.record_histograms(*histograms);
  const auto owner = store::ResultsDb::claim_owner();
  ClaimsGuard claims(results, owner);
  double computed_seconds = 0;
  std::int64_t computed = 0;
  store::WriteCost writes;
  std::size_t settled = 0;  // finished here, earlier or by another process
  const auto compute = [&](const PlannedCell& planned, const std::string& progress) {
    const auto cell_start = Clock::now();
    const auto result = session.compute(planned.index);
    const auto write_start = Clock::now();
    results.record_cell(experiment_id, result);
    writes.seconds += seconds_since(write_start);
    ++writes.cells;
    computed_seconds += seconds_since(cell_start);
    ++computed;
    const auto remaining =
        static_cast<double>(mine.size() - settled) * computed_seconds / static_cast<double>(computed);
    if (!result.error.empty()) {
      ++summary.failed;
      if (summary.first_error.empty()) summary.first_error = planned.description + ": " + result.error;
      spdlog::error("{}: failed: {}", progress, result.error);
    } else {
      ++summary.finished;
      spdlog::info("{}: top-1 {:.2f}%  (calibration {:.1f} s, evaluation {:.1f} s)  ~{:.0f} s left", progress,
                   result.top1, result.calib_seconds, result.eval_seconds, remaining);
    }
  };

  // Settles a cell if it can be settled now: finished (earlier, or meanwhile by another process),
  // or claimed by this process and computed. False while another live process holds it.
  const auto settle = [&](const PlannedCell& planned, bool first_pass) {
    const auto progress = fmt::format("[{}/{}] {}", settled + 1, mine.size(), planned.description);
    if (results.has_finished_cell(planned.key)) {
      ++settled;
      ++(first_pass ? summary.skipped : summary.by_others);
      spdlog::info("{}: {}", progress, first_pass ? "finished earlier, skipped" : "finished by another process");
      return true;
    }
    if (!results.claim_cell(planned.key, owner)) {
      if (first_pass) spdlog::info("{}: being computed by {}, later", progress, results.claim_holder(planned.key));
      return false;
    }
    ++settled;
    compute(planned, progress);
    return true;
  };
  // Every cell nobody else holds, in order; then the ones other processes hold, until each is
  // finished by them or their claim goes stale (the process died) and this one computes it.
  std::vector<const PlannedCell*> held_elsewhere;
  for (const auto* planned : mine) {
    if (!settle(*planned, /*first_pass=*/true)) held_elsewhere.push_back(planned);
  }
  constexpr auto kPoll = std::chrono::milliseconds(500);
  while (!held_elsewhere.empty()) {
    held_elsewhere.erase(std::remove_if(held_elsewhere.begin(), held_elsewhere.end(),
                                        [&](const PlannedCell* planned) { return settle(*planned, false); }),
                         held_elsewhere.end());
    if (!held_elsewhere.empty()) std::this_thread::sleep_for(kPoll);
  }
  summary.seconds = seconds_since(run_start);
  summary.write_seconds = writes.seconds;
  results.finish_experiment(experiment_id, summary.failed ? "failed" : "finished", summary.first_error, writes);
  return summary;
}

}  // namespace qx::run
