// docs/results/performance.md's scaling sections: one grid spread over processes, measured
// (tools/record_benchmarks.py's grid_scaling suite), and the model of docs/scaling.md that extends
// it to 8 and 64 nodes from every experiment's recorded cell times.
#include "report_scaling.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "markdown.h"
#include "qx/store/results_read.h"

namespace qx::report {

namespace {

using store::GridScalingRun;

// "mpirun/np:2/threads:1" -> "`mpirun -np 2`, 1 thread a rank", and the like.
std::string describe_grid_run(const std::string& name) {
  const auto value = [&](const std::string& field) {
    const auto at = name.find(field + ":");
    if (at == std::string::npos) return std::string("?");
    const auto begin = at + field.size() + 1;
    return name.substr(begin, name.find('/', begin) - begin);
  };
  if (name.rfind("one_process", 0) == 0) return fmt::format("one process, {} threads", value("threads"));
  if (name.rfind("mpirun", 0) == 0) return fmt::format("`mpirun -np {}`, {} thread a rank", value("np"), value("threads"));
  if (name.rfind("shards_side_by_side", 0) == 0) {
    return fmt::format("{} shards (`--shard K/{}`) side by side, {} thread each", value("n"), value("n"), value("threads"));
  }
  return "`" + name + "`";
}

std::string grid_scaling_table(const std::vector<GridScalingRun>& runs, const Texts& text) {
  const GridScalingRun* alone = nullptr;
  for (const auto& run : runs) {
    if (run.name.rfind("one_process", 0) == 0) alone = &run;
  }
  MarkdownTable table{{"how", "cells", "wall time", "of which cells", "time relative to one process"},
                      {false, true, true, true, true},
                      {}};
  for (const auto& run : runs) {
    table.rows.push_back({describe_grid_run(run.name), std::to_string(run.cells), duration(run.seconds),
                          duration(run.cell_seconds / run.processes),
                          alone ? fmt::format("{:.2f}", run.seconds / alone->seconds) : "–"});
  }
  return table.render() + caption(text, "performance.grid_scaling");
}

// The wall time of cells handed out longest first to `ranks` ranks, each taking the next cell as
// soon as it is free (what the MPI farm does when the expected times are right).
double longest_first_makespan(std::vector<double> cells, int ranks) {
  std::sort(cells.begin(), cells.end(), std::greater<>());
  std::priority_queue<double, std::vector<double>, std::greater<>> free_at;
  for (int r = 0; r < ranks; ++r) free_at.push(0.0);
  double end = 0;
  for (const double t : cells) {
    const double start = free_at.top();
    free_at.pop();
    free_at.push(start + t);
    end = std::max(end, start + t);
  }
  return end;
}

// The model of docs/scaling.md for 8 and 64 nodes, one rank a node at the threads the cells were
// recorded with: max(longest-first schedule of the recorded cell times, rank 0's writes n·w),
// plus one start-up. Start-up and w are this machine's, measured by the grid_scaling suite. Only
// experiments `qx run` ran (an experiment file), not the Python reference tools.
std::string scaling_model(store::Database& db, const std::vector<GridScalingRun>& runs, const Texts& text) {
  double startup = 0;
  std::optional<double> write_per_cell;
  for (const auto& run : runs) {
    if (run.write_seconds_per_cell && run.name.rfind("mpirun", 0) == 0) write_per_cell = run.write_seconds_per_cell;
    if (run.name.rfind("one_process", 0) == 0) startup = std::max(0.0, run.seconds - run.cell_seconds);
  }
  if (!write_per_cell) return "Not modelled: the grid_scaling suite (rank 0's write cost per cell) is not recorded.\n";
  std::map<std::string, std::vector<double>> cells_of;
  std::map<std::string, std::string> device_of;
  for (const auto& cell : store::read_experiment_cell_seconds(db)) {
    cells_of[cell.experiment].push_back(cell.seconds);
    device_of[cell.experiment] = cell.device;
  }
  MarkdownTable table{{"experiment", "recorded on", "cells", "one rank", "longest cell", "8 nodes", "64 nodes",
                       "speed-up at 64", "64 nodes bound by"},
                      {false, false, true, true, true, true, true, true, false},
                      {}};
  for (const auto& entry : cells_of) {
    // Named, not a structured binding: C++17 lambdas cannot capture bindings (clang rejects it).
    const auto& name = entry.first;
    const auto& cells = entry.second;
    const double writes = static_cast<double>(cells.size()) * *write_per_cell;
    const double longest = *std::max_element(cells.begin(), cells.end());
    const auto wall = [&](int nodes) { return startup + std::max(longest_first_makespan(cells, nodes), writes); };
    const double at64 = wall(64);
    const double schedule64 = longest_first_makespan(cells, 64);
    const char* bound = writes >= schedule64               ? "rank 0's writes"
                        : schedule64 <= longest * 1.0001 ? "the longest cell"
                                                         : "the split of the cells";
    table.rows.push_back({name, device_of[name], std::to_string(cells.size()), duration(wall(1)), duration(longest),
                          duration(wall(8)), duration(at64), fmt::format("{:.1f}", wall(1) / at64), bound});
  }
  return table.render() + caption(text, "performance.scaling_model", fmt::arg("startup", duration(startup)),
                                  fmt::arg("write_ms", *write_per_cell * 1e3));
}

}  // namespace

std::string scaling_markdown(store::Database& db, const Texts& text) {
  const auto grid_runs = store::read_grid_scaling_runs(db);
  std::string out = say(text, "performance.grid_scaling_heading");
  out += grid_runs.empty() ? "Not measured.\n" : grid_scaling_table(grid_runs, text);
  return out + say(text, "performance.scaling_model_heading") + scaling_model(db, grid_runs, text);
}

}  // namespace qx::report
