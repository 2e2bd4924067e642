// docs/results/performance.md: the `benchmarks` table (tools/record_benchmarks.py) as tables with
// the ratios that matter, and the grids' own throughput from the experiments they ran.
#include "report_performance.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <queue>

#include <fmt/format.h>

#include "markdown.h"

namespace qx::report {

namespace {

struct Measurement {
  double seconds = 0;
  std::optional<double> per_second;
};

using Suite = std::map<std::string, Measurement>;

std::map<std::string, Suite> load_benchmarks(store::Database& db, std::string& machine) {
  std::map<std::string, Suite> suites;
  store::Statement query(db, "SELECT suite, name, seconds, items_per_second, machine FROM benchmarks "
                             "ORDER BY suite, name");
  while (query.step()) {
    Measurement m{query.column_double(2), {}};
    if (!query.column_is_null(3)) m.per_second = query.column_double(3);
    suites[query.column_text(0)][query.column_text(1)] = m;
    machine = query.column_text(4);
  }
  return suites;
}

std::string duration(double s) {
  if (s < 1e-3) return fmt::format("{:.1f} µs", s * 1e6);
  if (s < 1.0) return fmt::format("{:.2f} ms", s * 1e3);
  return fmt::format("{:.2f} s", s);
}

std::string rate(const std::optional<double>& per_second, const char* unit) {
  if (!per_second) return "–";
  if (*per_second >= 1e6) return fmt::format("{:.0f} M{}/s", *per_second / 1e6, unit);
  return fmt::format("{:.0f} {}/s", *per_second, unit);
}

// The measurement whose name starts with `name`: Google Benchmark appends settings such as
// "/min_time:5.000" to a name.
const Measurement* find(const std::map<std::string, Suite>& suites, const std::string& suite, const std::string& name) {
  auto s = suites.find(suite);
  if (s == suites.end()) return nullptr;
  for (const auto& [full, m] : s->second) {
    if (full == name || full.rfind(name + "/", 0) == 0) return &m;
  }
  return nullptr;
}

std::string ratio_line(const Measurement* slow, const Measurement* fast, const std::string& what) {
  if (!slow || !fast || fast->seconds <= 0) return "";
  return fmt::format("- {}: {:.2f}x\n", what, slow->seconds / fast->seconds);
}

// What a benchmark counts: images for model passes and batches, tensor elements otherwise.
const char* unit_of(const std::string& name) {
  for (const char* prefix : {"BM_Evaluation", "BM_Train", "BM_Augment"}) {
    if (name.rfind(prefix, 0) == 0) return "img";
  }
  return "elements";
}

std::string google_benchmark_table(const Suite& suite) {
  MarkdownTable table{{"benchmark", "time per iteration", "throughput"}, {false, true, true}, {}};
  for (const auto& [name, m] : suite) {
    table.rows.push_back({"`" + name + "`", duration(m.seconds), rate(m.per_second, unit_of(name))});
  }
  return table.render();
}

std::string int8_table(const std::map<std::string, Suite>& suites) {
  MarkdownTable table{{"batch", "fp32", "onednn int8", "int8 / fp32", "qnnpack int8", "int8 / fp32"},
                      {true, true, true, true, true, true},
                      {}};
  for (const int batch : {1, 256}) {
    const auto* fp32 = find(suites, "torch_int8", fmt::format("fp32/batch:{}", batch));
    if (!fp32) continue;
    std::vector<std::string> row{std::to_string(batch), duration(fp32->seconds)};
    for (const auto* engine : {"onednn", "qnnpack"}) {
      const auto* int8 = find(suites, "torch_int8", fmt::format("{}/int8/batch:{}", engine, batch));
      row.push_back(int8 ? duration(int8->seconds) : "–");
      row.push_back(int8 ? fmt::format("{:.2f}", int8->seconds / fp32->seconds) : "–");
    }
    table.rows.push_back(std::move(row));
  }
  return table.rows.empty() ? "Not measured.\n" : table.render() +
      "\nMedian wall time of one forward pass; int8 / fp32 above 1 means the int8 model is slower.\n";
}

std::string training_table(const std::map<std::string, Suite>& suites) {
  MarkdownTable table{{"trainer", "layout", "images/s", "qx / this"}, {false, false, true, true}, {}};
  const auto* qx = find(suites, "qx_bench_training", "BM_TrainerEpoch");
  if (qx && qx->per_second) {
    table.rows.push_back({"qx (C++, LibTorch)", "channels-last", rate(qx->per_second, "img"), "1.00"});
  }
  if (auto s = suites.find("python_training"); s != suites.end()) {
    for (const auto& [name, m] : s->second) {
      const auto layout = name.substr(name.find('/') + 1);
      const bool both = qx && qx->per_second && m.per_second;
      table.rows.push_back({"Python PyTorch", layout, rate(m.per_second, "img"),
                            both ? fmt::format("{:.2f}", *qx->per_second / *m.per_second) : "–"});
    }
  }
  return table.rows.empty() ? "Not measured.\n" : table.render() +
      "\nThe same 100 batches of 128 images with augmentation, SGD with Nesterov momentum, all cores; training "
      "time only (qx's trainer also evaluates and checkpoints, outside this figure).\n";
}

// Throughput of each finished CPU experiment, from its own timestamps.
std::string grid_table(store::Database& db) {
  MarkdownTable table{{"experiment", "started (UTC)", "cells", "wall minutes", "cells per minute", "threads"},
                      {false, false, true, true, true, true},
                      {}};
  store::Statement query(db, R"sql(
SELECT e.name, COUNT(c.id), (julianday(e.finished_at) - julianday(e.started_at)) * 1440.0, e.threads, e.started_at
FROM experiments e JOIN cells c ON c.experiment_id = e.id
WHERE e.status = 'finished' AND e.device = 'cpu' AND e.finished_at IS NOT NULL AND e.name IN ('ptq-grid', 'sensitivity')
GROUP BY e.id ORDER BY e.id)sql");
  while (query.step()) {
    const double minutes = query.column_double(2);
    if (minutes <= 0) continue;
    table.rows.push_back({query.column_text(0), query.column_text(4), std::to_string(query.column_int(1)),
                          fmt::format("{:.1f}", minutes),
                          fmt::format("{:.1f}", static_cast<double>(query.column_int(1)) / minutes),
                          std::to_string(query.column_int(3))});
  }
  return table.rows.empty() ? "No finished CPU experiment.\n" : table.render() +
      "\nWhole runs: loading, calibration, quantization and a 10,000-image evaluation per cell. A run that "
      "resumed counts only the cells it computed.\n";
}

// tools/record_benchmarks.py's grid_scaling suite: one grid from scratch as one process and
// spread over processes, on the same cores.
struct GridRun {
  std::string name;
  double seconds = 0;
  int processes = 1;
  int cells = 0;
  double cell_seconds = 0;
  std::optional<double> write_seconds_per_cell;
};

std::vector<GridRun> load_grid_runs(store::Database& db) {
  std::vector<GridRun> runs;
  store::Statement query(db, R"sql(
SELECT name, seconds, json_extract(context, '$.processes'), json_extract(context, '$.cells'),
       json_extract(context, '$.cell_seconds'), json_extract(context, '$.write_seconds_per_cell')
FROM benchmarks WHERE suite = 'grid_scaling'
ORDER BY name NOT LIKE 'one_process%', name)sql");
  while (query.step()) {
    GridRun run{query.column_text(0), query.column_double(1), static_cast<int>(query.column_int(2)),
                static_cast<int>(query.column_int(3)), query.column_double(4), {}};
    if (!query.column_is_null(5)) run.write_seconds_per_cell = query.column_double(5);
    runs.push_back(std::move(run));
  }
  return runs;
}

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

std::string grid_scaling_table(const std::vector<GridRun>& runs) {
  const GridRun* alone = nullptr;
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
  return table.render() +
      "\nWall time from the first process's start to the last one's end, every cell computed afresh. "
      "\"Of which cells\": the cells' own time (calibration, quantization, passes, evaluation) per process; "
      "the rest is each process loading the checkpoint and the data, and rank 0's writes.\n";
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
std::string scaling_model(store::Database& db, const std::vector<GridRun>& runs) {
  double startup = 0;
  std::optional<double> write_per_cell;
  for (const auto& run : runs) {
    if (run.write_seconds_per_cell && run.name.rfind("mpirun", 0) == 0) write_per_cell = run.write_seconds_per_cell;
    if (run.name.rfind("one_process", 0) == 0) startup = std::max(0.0, run.seconds - run.cell_seconds);
  }
  if (!write_per_cell) return "Not modelled: the grid_scaling suite (rank 0's write cost per cell) is not recorded.\n";
  std::map<std::string, std::vector<double>> cells_of;
  std::map<std::string, std::string> device_of;
  store::Statement query(db, R"sql(
SELECT e.name, e.device, IFNULL(c.calib_seconds, 0) + IFNULL(c.quantize_seconds, 0) + c.pass_seconds + IFNULL(c.eval_seconds, 0)
FROM cells c JOIN experiments e ON e.id = c.experiment_id
WHERE c.status = 'finished' AND e.config_path LIKE '%.toml' ORDER BY e.name)sql");
  while (query.step()) {
    cells_of[query.column_text(0)].push_back(query.column_double(2));
    device_of[query.column_text(0)] = query.column_text(1);
  }
  MarkdownTable table{{"experiment", "recorded on", "cells", "one rank", "longest cell", "8 nodes", "64 nodes",
                       "speed-up at 64", "64 nodes bound by"},
                      {false, false, true, true, true, true, true, true, false},
                      {}};
  for (const auto& [name, cells] : cells_of) {
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
  return table.render() + fmt::format(
      "\nEach experiment's recorded cell times, handed out longest first; plus one process start-up of {} "
      "and rank 0's writes at {:.1f} ms a cell (both measured above), which bind only when they exceed the "
      "cells' schedule. Nodes compute at the threads and speed of the machine the cells were recorded on.\n",
      duration(startup), *write_per_cell * 1e3);
}

}  // namespace

std::string performance_markdown(store::Database& db) {
  std::string machine;
  const auto suites = load_benchmarks(db, machine);
  std::string out;
  out += machine.empty() ? "No benchmarks recorded (tools/record_benchmarks.py).\n\n"
                         : fmt::format("Machine: {}. Recorded by `tools/record_benchmarks.py`.\n\n", machine);
  out += "## Hot paths of the quantization engine\n\n";
  if (auto s = suites.find("qx_bench_quant"); s != suites.end()) {
    out += google_benchmark_table(s->second) + "\n";
    out += ratio_line(find(suites, "qx_bench_quant", "BM_FakeQuantPerTensorAten"),
                      find(suites, "qx_bench_quant", "BM_FakeQuantPerTensorQx"),
                      "per-tensor fake-quant, ATen's kernel against qx's AVX2 kernel");
    out += ratio_line(find(suites, "qx_bench_quant", "BM_EvaluationBatch/simulated:1"),
                      find(suites, "qx_bench_quant", "BM_EvaluationBatch/simulated:0"),
                      "one evaluation batch, W8A8 simulation against plain fp32");
  } else {
    out += "Not measured.\n";
  }
  out += "\n## Training\n\n";
  if (auto s = suites.find("qx_bench_training"); s != suites.end()) out += google_benchmark_table(s->second) + "\n";
  out += training_table(suites);
  out += "\n## Int8 execution: PyTorch's int8 kernels against fp32\n\n" + int8_table(suites);
  out += "\n## Grid throughput\n\n" + grid_table(db);
  const auto grid_runs = load_grid_runs(db);
  out += "\n## One grid spread over processes\n\n";
  out += grid_runs.empty() ? "Not measured (the grid_scaling suite of tools/record_benchmarks.py).\n"
                           : grid_scaling_table(grid_runs);
  out += "\n## Scaling model: 8 and 64 nodes\n\n" + scaling_model(db, grid_runs);
  return out;
}

}  // namespace qx::report
