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

std::string int8_table(const std::map<std::string, Suite>& suites, const Texts& text) {
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
  return table.rows.empty() ? "Not measured.\n" : table.render() + caption(text, "performance.int8");
}

std::string training_table(const std::map<std::string, Suite>& suites, const Texts& text) {
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
  return table.rows.empty() ? "Not measured.\n" : table.render() + caption(text, "performance.training");
}

// Throughput of each finished CPU run of `experiments` (the report file's [study] throughput), from its own timestamps.
std::string grid_table(store::Database& db, const std::vector<std::string>& experiments, const Texts& text) {
  MarkdownTable table{{"experiment", "started (UTC)", "cells", "wall minutes", "cells per minute", "threads"},
                      {false, false, true, true, true, true},
                      {}};
  for (const auto& run : store::read_finished_cpu_runs(db, experiments)) {
    if (run.wall_minutes <= 0) continue;
    table.rows.push_back({run.name, run.started_at, std::to_string(run.cells), fmt::format("{:.1f}", run.wall_minutes),
                          fmt::format("{:.1f}", static_cast<double>(run.cells) / run.wall_minutes),
                          std::to_string(run.threads)});
  }
  return table.rows.empty() ? "No finished CPU experiment.\n" : table.render() + caption(text, "performance.grid");
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
  return table.render() + caption(data.text, "performance.reproduction", fmt::arg("cores", kCores),
                                  fmt::arg("hours", cpu_core_seconds / 3600 / kCores));
}

std::string reproduction_line(const ReportData& data, const std::string& page, const std::string& main_job) {
  std::size_t cells = 0;
  double cpu_core_seconds = 0, training_core_seconds = 0;
  std::vector<std::string> unfinished;
  std::string main_job_text;
  for (const auto& cost : experiment_costs(data)) {
    if (cost.experiment == main_job && cost.device == "cpu") {
      main_job_text = say(data.text, "readme.main_job", fmt::arg("cells", cost.cells), fmt::arg("experiment", cost.experiment),
                          fmt::arg("minutes", cost.core_seconds / 60 / kCores), fmt::arg("cores", kCores));
    }
    cells += cost.cells;
    if (cost.device == "cpu") {
      cpu_core_seconds += cost.core_seconds;
      if (cost.role == SectionKind::kCurve) training_core_seconds += cost.core_seconds;
    }
    if (data.unfinished.count(cost.experiment)) add_once(unfinished, "`" + cost.experiment + "`");
  }
  const auto training = training_core_seconds > 0
      ? say(data.text, "readme.curve_hours", fmt::arg("hours", training_core_seconds / 3600 / kCores))
      : std::string();
  std::string names;  // "`a`", "`a` and `b`", "`a`, `b` and `c`"
  for (std::size_t i = 0; i < unfinished.size(); ++i) {
    names += (i == 0 ? "" : i + 1 == unfinished.size() ? " and " : ", ") + unfinished[i];
  }
  const auto so_far = unfinished.empty() ? std::string() : say(data.text, "readme.unfinished", fmt::arg("names", names));
  return main_job_text + say(data.text, "readme.reproduction", fmt::arg("cells", cells),
                             fmt::arg("hours", cpu_core_seconds / 3600 / kCores), fmt::arg("cores", kCores),
                             fmt::arg("page", page), fmt::arg("curve_hours", training), fmt::arg("unfinished", so_far));
}

std::string performance_markdown(store::Database& db, const ReportData& data) {
  const auto& text = data.text;
  std::string machine;
  const auto suites = benchmark_suites(store::read_benchmarks(db), machine);
  std::string out = machine.empty() ? say(text, "performance.no_benchmarks")
                                    : say(text, "performance.machine", fmt::arg("machine", machine));
  out += say(text, "performance.hot_paths");
  if (auto s = suites.find("qx_bench_quant"); s != suites.end()) {
    out += google_benchmark_table(s->second) + "\n";
    out += ratio_line(find(suites, "qx_bench_quant", "BM_FakeQuantPerTensorAten"),
                      find(suites, "qx_bench_quant", "BM_FakeQuantPerTensorQx"),
                      say(text, "performance.ratio.fake_quant"));
    out += ratio_line(find(suites, "qx_bench_quant", "BM_EvaluationBatch/simulated:1"),
                      find(suites, "qx_bench_quant", "BM_EvaluationBatch/simulated:0"),
                      say(text, "performance.ratio.simulation"));
    out += ratio_line(find(suites, "qx_bench_quant", "BM_ClippingSearch/block_mib:32"),
                      find(suites, "qx_bench_quant", "BM_ClippingSearch/block_mib:4"),
                      say(text, "performance.ratio.clipping_search"));
  } else {
    out += "Not measured.\n";
  }
  out += say(text, "performance.training_heading");
  if (auto s = suites.find("qx_bench_training"); s != suites.end()) out += google_benchmark_table(s->second) + "\n";
  out += training_table(suites, text);
  out += say(text, "performance.int8_heading") + int8_table(suites, text);
  out += say(text, "performance.grid_heading") + grid_table(db, data.study.throughput, text);
  out += scaling_markdown(db, text);
  out += say(text, "performance.reproduction_heading") + reproduction_markdown(data);
  return out;
}

}  // namespace qx::report
