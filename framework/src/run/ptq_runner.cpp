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
                              const RunOverrides& overrides, const Shard& shard,
                              const std::vector<CellSink*>& extra_sinks) {
  const auto run_start = Clock::now();
  ExperimentSession session(experiment, host, overrides);
  std::vector<const PlannedCell*> mine;
  std::int64_t other_shards = 0;
  for (const auto& planned : session.plan()) {
    if (shard.owns(planned.index)) {
      mine.push_back(&planned);
    } else {
      ++other_shards;
    }
  }
  SummarySink tally;
  ConsoleSink console;
  std::vector<CellSink*> sinks{&tally, &console};
  sinks.insert(sinks.end(), extra_sinks.begin(), extra_sinks.end());
  const auto finish = [&](SinkList& all, double write_seconds) {
    auto summary = tally.summary();
    summary.cells = static_cast<std::int64_t>(session.plan().size());
    summary.other_shards = other_shards;
    summary.seconds = seconds_since(run_start);
    summary.write_seconds = write_seconds;
    all.end(summary);
    return summary;
  };

  // Nothing to write: the database is not even opened for writing, so it stays byte for byte.
  if (nothing_to_write(session, mine)) {
    SinkList all(sinks);
    all.begin({mine.size(), 1});
    for (const auto* planned : mine) all.settled(*planned, Settled::kEarlier);
    return finish(all, 0);
  }

  store::ResultsDb results(session.database_path());
  auto record = session.experiment_record();
  if (shard.count > 1) record.shard = fmt::format("{}/{}", shard.index, shard.count);
  DatabaseSink database(results, std::move(record), session.histograms());
  sinks.insert(sinks.begin() + 1, &database);  // written before it is printed
  SinkList all(sinks);
  all.begin({mine.size(), 1});
  const auto owner = store::ResultsDb::claim_owner();
  ClaimsGuard claims(results, owner);

  // Settles a cell if it can be settled now: finished (earlier, or meanwhile by another process),
  // or claimed by this process and computed. False while another live process holds it.
  const auto settle = [&](const PlannedCell& planned, bool first_pass) {
    if (results.has_finished_cell(planned.key)) {
      all.settled(planned, first_pass ? Settled::kEarlier : Settled::kByAnotherProcess);
      return true;
    }
    if (!results.claim_cell(planned.key, owner)) {
      if (first_pass) all.held_elsewhere(planned, results.claim_holder(planned.key));
      return false;
    }
    all.computed(planned, session.compute(planned.index), "");
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
  return finish(all, database.writes().seconds);
}

}  // namespace qx::run
