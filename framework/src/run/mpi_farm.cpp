#include "qx/run/mpi_farm.h"

#include <cstdlib>
#include <string>

#include "qx/core/clock.h"
#include "qx/core/error.h"

#ifdef QX_WITH_MPI
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <future>
#include <iostream>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "qx/run/cell_sink.h"
#include "qx/run/cell_wire.h"
#include "qx/spec/cell.h"
#include "qx/store/results_db.h"
#endif

namespace qx::run {

bool launched_as_mpi_job() {
  // Open MPI's mpirun, and MPICH's or Slurm's PMI, name the job's size before MPI_Init.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    if (const char* value = std::getenv(name); value && std::atoi(value) > 1) return true;
  }
  return false;
}

#ifndef QX_WITH_MPI

bool mpi_available() { return false; }

RunSummary run_ptq_experiment_mpi(const config::PtqExperiment&, const PluginHost&, const RunOverrides&) {
  fail("this qx was built without MPI (install libopenmpi-dev and rebuild with -DQX_WITH_MPI=ON); "
       "run one process per shard with --shard K/N instead");
}

#else

bool mpi_available() { return true; }

namespace {

enum Tag : int { kWork = 1, kStop = 2, kResult = 3 };
constexpr int kRoot = 0;

// MPI_Init_thread on entry, MPI_Finalize on exit. Only the main thread calls MPI.
class MpiScope {
 public:
  MpiScope() {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~MpiScope() { MPI_Finalize(); }
  MpiScope(const MpiScope&) = delete;
  MpiScope& operator=(const MpiScope&) = delete;
  int rank() const { return rank_; }
  int size() const { return size_; }

 private:
  int rank_ = 0, size_ = 1;
};

// Any rank's error ends the whole job, as a dead rank would: one line, then MPI_Abort, so no
// other rank waits forever on a message that will not come.
[[noreturn]] void abort_job(int rank, const std::string& message) {
  std::cerr << "qx: error: rank " << rank << ": " << message.substr(0, message.find('\n')) << std::endl;
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();  // MPI_Abort does not return
}

void send_work(std::int64_t index, int rank) { MPI_Send(&index, 1, MPI_INT64_T, rank, kWork, MPI_COMM_WORLD); }
void send_stop(int rank) {
  std::int64_t none = -1;
  MPI_Send(&none, 1, MPI_INT64_T, rank, kStop, MPI_COMM_WORLD);
}

void work(ExperimentSession& session) {
  while (true) {
    std::int64_t index = -1;
    MPI_Status status;
    MPI_Recv(&index, 1, MPI_INT64_T, kRoot, MPI_ANY_TAG, MPI_COMM_WORLD, &status);
    if (status.MPI_TAG == kStop) return;
    const auto bytes = encode_cell_result(static_cast<std::size_t>(index), session.compute(static_cast<std::size_t>(index)));
    MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_CHAR, kRoot, kResult, MPI_COMM_WORLD);
  }
}

// The pending cells, longest expected first: a cell's recorded seconds where the database has run
// the same settings before (under any checkpoint), otherwise a prior that ranks cells with passes
// above cells without, in file order.
std::deque<std::size_t> longest_first(const std::vector<std::size_t>& pending, const config::PtqExperiment& experiment,
                                      store::ResultsDb& results) {
  constexpr double kPriorCellSeconds = 10, kPriorPassSeconds = 300;
  std::vector<std::pair<double, std::size_t>> ranked;
  for (const auto index : pending) {
    const auto& cell = experiment.cells[index];
    const auto recorded = results.recorded_seconds(spec::cell_options_json(cell));
    ranked.emplace_back(recorded ? *recorded : kPriorCellSeconds + kPriorPassSeconds * cell.passes.size(), index);
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::deque<std::size_t> order;
  for (const auto& [seconds, index] : ranked) order.push_back(index);
  return order;
}

// Hands the queue's cells to the ranks, rank 0 included on a thread of its own, and passes each
// result to `record` as it arrives; every worker is stopped when the queue runs dry.
void farm_out(std::deque<std::size_t> queue, ExperimentSession& session, std::size_t cells, int ranks,
              const std::function<void(std::size_t, store::CellResult, int)>& record) {
  std::vector<bool> busy(static_cast<std::size_t>(ranks), false);
  for (int rank = 1; rank < ranks; ++rank) {
    if (queue.empty()) {
      send_stop(rank);
      continue;
    }
    send_work(static_cast<std::int64_t>(queue.front()), rank);
    queue.pop_front();
    busy[static_cast<std::size_t>(rank)] = true;
  }
  // Rank 0 computes too, on a thread of its own, so that the main thread stays free for MPI.
  std::future<store::CellResult> local;
  std::size_t local_index = 0;
  const auto start_local = [&] {
    if (queue.empty()) return;
    local_index = queue.front();
    queue.pop_front();
    local = std::async(std::launch::async, [&session, index = local_index] { return session.compute(index); });
  };
  start_local();

  const auto any_busy = [&] { return std::find(busy.begin(), busy.end(), true) != busy.end() || local.valid(); };
  while (any_busy()) {
    int arrived = 0;
    MPI_Status status;
    MPI_Iprobe(MPI_ANY_SOURCE, kResult, MPI_COMM_WORLD, &arrived, &status);
    if (arrived) {
      int bytes = 0;
      MPI_Get_count(&status, MPI_CHAR, &bytes);
      std::vector<char> message(static_cast<std::size_t>(bytes));
      MPI_Recv(message.data(), bytes, MPI_CHAR, status.MPI_SOURCE, kResult, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      auto decoded = decode_cell_result(message);
      if (decoded.index >= cells) fail("rank {} sent a result for cell {}", status.MPI_SOURCE, decoded.index);
      record(decoded.index, std::move(decoded.result), status.MPI_SOURCE);
      if (queue.empty()) {
        send_stop(status.MPI_SOURCE);
        busy[static_cast<std::size_t>(status.MPI_SOURCE)] = false;
      } else {
        send_work(static_cast<std::int64_t>(queue.front()), status.MPI_SOURCE);
        queue.pop_front();
      }
    } else if (local.valid() && local.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      record(local_index, local.get(), 0);
      start_local();
    } else {
      // Polling, not a blocking receive: Open MPI spins a core inside MPI_Recv.
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

RunSummary coordinate(const config::PtqExperiment& experiment, ExperimentSession& session, int ranks) {
  const auto start = Clock::now();
  const auto& plan = session.plan();
  std::vector<const PlannedCell*> every_cell;
  for (const auto& planned : plan) every_cell.push_back(&planned);
  SummarySink tally;
  ConsoleSink console;
  const auto finish = [&](SinkList& all, double write_seconds) {
    auto summary = tally.summary();
    summary.seconds = seconds_since(start);
    summary.write_seconds = write_seconds;
    all.end(summary);
    return summary;
  };
  if (nothing_to_write(session, every_cell)) {
    for (int rank = 1; rank < ranks; ++rank) send_stop(rank);
    spdlog::info("{} cells over {} ranks: 0 to compute, {} finished earlier", plan.size(), ranks, plan.size());
    SinkList all({&tally, &console});
    all.begin({plan.size(), ranks});
    for (const auto* planned : every_cell) all.settled(*planned, Settled::kEarlier);
    return finish(all, 0);
  }
  store::ResultsDb results(session.database_path());
  auto experiment_record = session.experiment_record();
  experiment_record.ranks = ranks;
  DatabaseSink database(results, std::move(experiment_record), session.histograms());
  SinkList all({&tally, &database, &console});
  all.begin({plan.size(), ranks});

  std::vector<std::size_t> pending;
  for (const auto& planned : plan) {
    if (results.has_finished_cell(planned.key)) {
      all.settled(planned, Settled::kEarlier);
    } else {
      pending.push_back(planned.index);
    }
  }
  auto queue = longest_first(pending, experiment, results);
  spdlog::info("{} cells over {} ranks: {} to compute, {} finished earlier", plan.size(), ranks, queue.size(),
               plan.size() - queue.size());

  // Results come back without their cell (the wire carries numbers only); it is the file's.
  const auto record = [&](std::size_t index, store::CellResult result, int rank) {
    result.cell = experiment.cells[index];
    all.computed(plan[index], result, fmt::format("rank {}", rank));
  };

  farm_out(std::move(queue), session, experiment.cells.size(), ranks, record);
  return finish(all, database.writes().seconds);
}

}  // namespace

RunSummary run_ptq_experiment_mpi(const config::PtqExperiment& experiment, const PluginHost& host,
                                  const RunOverrides& overrides) {
  MpiScope mpi;
  try {
    ExperimentSession session(experiment, host, overrides);
    if (mpi.rank() == kRoot) return coordinate(experiment, session, mpi.size());
    work(session);
    RunSummary summary;
    summary.primary = false;
    return summary;
  } catch (const c10::Error& e) {
    abort_job(mpi.rank(), e.what_without_backtrace());
  } catch (const std::exception& e) {
    abort_job(mpi.rank(), e.what());
  }
}

#endif  // QX_WITH_MPI

}  // namespace qx::run
