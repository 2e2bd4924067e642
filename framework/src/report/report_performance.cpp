// docs/results/performance.md: the `benchmarks` table (tools/record_benchmarks.py) as tables with
// the ratios that matter, and the grids' own throughput from the experiments they ran.
#include "report_performance.h"

#include <algorithm>
#include <map>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "markdown.h"
#include "report_scaling.h"

namespace qx::report {

namespace {

struct Measurement {
  double seconds = 0;
  std::optional<double> per_second;
};

using Suite = std::map<std::string, Measurement>;

// The benchmarks by suite and name, and the machine of the last row.
std::map<std::string, Suite> benchmark_suites(const std::vector<store::BenchmarkRow>& rows, std::string& machine) {
  std::map<std::string, Suite> suites;
  for (const auto& row : rows) {
    suites[row.suite][row.name] = Measurement{row.seconds, row.items_per_second};
    machine = row.machine;
  }
  return suites;
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

// What a benchmark counts: images for model passes and batches, weight channels for the clipping
// search, tensor elements otherwise.
const char* unit_of(const std::string& name) {
  for (const char* prefix : {"BM_Evaluation", "BM_Train", "BM_Augment"}) {
    if (name.rfind(prefix, 0) == 0) return "img";
  }
  if (name.rfind("BM_ClippingSearch", 0) == 0) return "channels";
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

// Throughput of each finished CPU run of `experiments` (the report file's [study] throughput), from its own timestamps.
std::string grid_table(store::Database& db, const std::vector<std::string>& experiments) {
  MarkdownTable table{{"experiment", "started (UTC)", "cells", "wall minutes", "cells per minute", "threads"},
                      {false, false, true, true, true, true},
                      {}};
  for (const auto& run : store::read_finished_cpu_runs(db, experiments)) {
    if (run.wall_minutes <= 0) continue;
    table.rows.push_back({run.name, run.started_at, std::to_string(run.cells), fmt::format("{:.1f}", run.wall_minutes),
                          fmt::format("{:.1f}", static_cast<double>(run.cells) / run.wall_minutes),
                          std::to_string(run.threads)});
  }
  return table.rows.empty() ? "No finished CPU experiment.\n" : table.render() +
      "\nWhole runs: loading, calibration, quantization and a 10,000-image evaluation per cell. A run that "
      "resumed counts only the cells it computed.\n";
}

// The recorded cost of one experiment's cells on the reported checkpoint, on one kind of device.
struct ExperimentCost {
  std::string experiment, device;
  std::optional<SectionKind> role;
  std::size_t cells = 0;
  std::vector<int> threads;  // as its runs used them
  double cell_seconds = 0;   // calibration, quantization, passes and evaluation, summed
  double core_seconds = 0;   // each cell's seconds times its threads
};

// A cell's own time: calibration, quantization, passes and evaluation.
double recorded_seconds(const CellRow& c) {
  return c.calib_seconds + c.quantize_seconds + c.pass_seconds + c.eval_seconds;
}

std::vector<ExperimentCost> experiment_costs(const ReportData& data) {
  std::vector<ExperimentCost> costs;
  for (const auto& c : data.cells) {
    auto it = std::find_if(costs.begin(), costs.end(), [&](const ExperimentCost& cost) {
      return cost.experiment == c.experiment && cost.device == c.device;
    });
    if (it == costs.end()) {
      it = costs.insert(costs.end(), ExperimentCost{});
      it->experiment = c.experiment;
      it->device = c.device;
      it->role = c.role;
    }
    const double seconds = recorded_seconds(c);
    ++it->cells;
    add_once(it->threads, c.threads);
    it->cell_seconds += seconds;
    it->core_seconds += seconds * std::max(c.threads, 1);
  }
  return costs;
}

constexpr double kCores = 2;  // the machine the README's figure is stated for

}  // namespace

std::string reproduction_markdown(const ReportData& data) {
  MarkdownTable table{{"experiment", "device", "cells", "threads", "cell hours", "core hours"},
                      {false, false, true, true, true, true},
                      {}};
  std::size_t cells = 0;
  double cpu_core_seconds = 0;
  for (const auto& cost : experiment_costs(data)) {
    const bool cpu = cost.device == "cpu";
    const bool unfinished = data.unfinished.count(cost.experiment) > 0;
    table.rows.push_back({cost.experiment + (unfinished ? " (unfinished)" : ""), cost.device,
                          std::to_string(cost.cells), fmt::format("{}", fmt::join(cost.threads, ", ")),
                          fmt::format("{:.2f}", cost.cell_seconds / 3600),
                          cpu ? fmt::format("{:.2f}", cost.core_seconds / 3600) : "–"});
    cells += cost.cells;
    if (cpu) cpu_core_seconds += cost.core_seconds;
  }
  if (table.rows.empty()) return "No cells on this checkpoint.\n";
  table.rows.push_back(
      {"**all**", "", std::to_string(cells), "", "", fmt::format("**{:.2f}**", cpu_core_seconds / 3600)});
  return table.render() + fmt::format(
      "\nEach cell's own time as recorded (calibration, quantization, passes and evaluation; loading the model "
      "and the data comes on top), summed per experiment. Core hours: each CPU cell's time times the threads "
      "it ran with. With {0:.0f} cores kept busy (one process of {0:.0f} threads, or {0:.0f} processes of one), "
      "regenerating every CPU cell takes about the core hours over {0:.0f}: **{1:.1f} hours**. The model's "
      "training, which `scripts/train.sh` runs, is not included. An unfinished experiment's latest run stopped "
      "before its last cell: its row counts the cells so far.\n",
      kCores, cpu_core_seconds / 3600 / kCores);
}

std::string reproduction_line(const ReportData& data, const std::string& page, const std::string& main_job) {
  std::size_t cells = 0;
  double cpu_core_seconds = 0, training_core_seconds = 0;
  std::vector<std::string> unfinished;
  std::string main_job_text;
  for (const auto& cost : experiment_costs(data)) {
    if (cost.experiment == main_job && cost.device == "cpu") {
      main_job_text = fmt::format(
          "**The main job** (`bash scripts/run.sh`) recomputes the {} cells of `{}` into a scratch database and "
          "compares each with this one: about {:.0f} minutes on {:.0f} CPU cores after the build (its cells' "
          "recorded core time over {:.0f} cores).\n\n",
          cost.cells, cost.experiment, cost.core_seconds / 60 / kCores, kCores, kCores);
    }
    cells += cost.cells;
    if (cost.device == "cpu") {
      cpu_core_seconds += cost.core_seconds;
      if (cost.role == SectionKind::kCurve) training_core_seconds += cost.core_seconds;
    }
    if (data.unfinished.count(cost.experiment)) add_once(unfinished, "`" + cost.experiment + "`");
  }
  const auto training = training_core_seconds > 0
      ? fmt::format(" The QAT cells' training is {:.1f} of them; a GPU takes it over (`--only qat --device cuda`).",
                    training_core_seconds / 3600 / kCores)
      : std::string();
  std::string names;  // "`a`", "`a` and `b`", "`a`, `b` and `c`"
  for (std::size_t i = 0; i < unfinished.size(); ++i) {
    names += (i == 0 ? "" : i + 1 == unfinished.size() ? " and " : ", ") + unfinished[i];
  }
  const auto so_far = unfinished.empty()
      ? std::string()
      : fmt::format(" Not yet whole: cells of {} are still to run, and the figure counts those done so far.", names);
  return main_job_text + fmt::format("**Regenerating the database** from the checkpoint (`bash scripts/reproduce.sh`): {} cells, "
                     "about {:.1f} hours on {:.0f} CPU cores, an estimate: the core time its cells recorded, over {:.0f} "
                     "cores, with loading left out ([per experiment]({}#reproduction-time)).{}{}\n",
                     cells, cpu_core_seconds / 3600 / kCores, kCores, kCores, page, training, so_far);
}

std::string performance_markdown(store::Database& db, const ReportData& data) {
  const auto& study = data.study;
  std::string machine;
  const auto suites = benchmark_suites(store::read_benchmarks(db), machine);
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
    out += ratio_line(find(suites, "qx_bench_quant", "BM_ClippingSearch/block_mib:32"),
                      find(suites, "qx_bench_quant", "BM_ClippingSearch/block_mib:4"),
                      "the clipping search of `mse` and `lp_norm`, every candidate in one 32 MiB block against "
                      "blocks of 4 MiB");
  } else {
    out += "Not measured.\n";
  }
  out += "\n## Training\n\n";
  if (auto s = suites.find("qx_bench_training"); s != suites.end()) out += google_benchmark_table(s->second) + "\n";
  out += training_table(suites);
  out += "\n## Int8 execution: PyTorch's int8 kernels against fp32\n\n" + int8_table(suites);
  out += "\n## Grid throughput\n\n" + grid_table(db, study.throughput);
  out += scaling_markdown(db);
  out += "\n## Reproduction time\n\n" + reproduction_markdown(data);
  return out;
}

}  // namespace qx::report
