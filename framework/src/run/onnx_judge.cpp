#include "qx/run/onnx_judge.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "qx/core/clock.h"
#include "qx/core/error.h"
#include "qx/deploy/onnx_census.h"
#include "qx/deploy/onnx_export.h"
#include "qx/eval/evaluate.h"
#include "qx/spec/json.h"

namespace qx::run {

namespace {

constexpr const char* kExperiment = "onnxruntime";

std::string shell_quoted(const std::string& text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// A folder that exists while the judge runs: the one it was given, or a temporary one it removes.
class WorkFolder {
 public:
  explicit WorkFolder(const std::filesystem::path& keep) : temporary_(keep.empty()) {
    path_ = temporary_ ? std::filesystem::temp_directory_path() / fmt::format("qx-judge-{}", ::getpid()) : keep;
    std::filesystem::create_directories(path_);
  }
  ~WorkFolder() {
    std::error_code ignored;
    if (temporary_) std::filesystem::remove_all(path_, ignored);
  }
  WorkFolder(const WorkFolder&) = delete;
  WorkFolder& operator=(const WorkFolder&) = delete;
  const std::filesystem::path& path() const { return path_; }
  bool kept() const { return !temporary_; }

 private:
  bool temporary_;
  std::filesystem::path path_;
};

struct ToolRun {
  torch::Tensor logits;              // [images, classes]
  torch::Tensor unoptimized_logits;  // the same file with onnxruntime's graph optimisation off
  nlohmann::json report;
  double seconds = 0;
};

// Float32 [images, classes] from `file`, which is removed.
torch::Tensor read_logits(const std::string& file, std::int64_t images, std::int64_t classes) {
  std::error_code missing;
  const auto bytes = static_cast<std::int64_t>(std::filesystem::file_size(file, missing));
  if (missing || classes < 1 || bytes != images * classes * 4) {
    std::filesystem::remove(file, missing);
    fail("onnxruntime judge: {} does not hold {} x {} float32 logits", file, images, classes);
  }
  auto logits = torch::empty({images, classes}, torch::kFloat32);
  std::ifstream(file, std::ios::binary).read(reinterpret_cast<char*>(logits.data_ptr<float>()), bytes);
  std::filesystem::remove(file);
  return logits;
}

double agreement(const torch::Tensor& a, const torch::Tensor& b) {
  return a.argmax(1).eq(b.argmax(1)).to(torch::kFloat64).mean().item<double>();
}

double max_difference(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

// judge.js on one model; its one-line error (on stderr) reaches the user as it is.
ToolRun run_tool(const OnnxJudgeOptions& options, const std::filesystem::path& model, const std::string& data_dir,
                 std::int64_t images, const std::filesystem::path& optimized, bool timing, bool unoptimized) {
  if (!std::filesystem::is_regular_file(options.tool)) {
    fail("onnxruntime judge: {} is missing (scripts/install-deps.sh installs onnxruntime-node beside it)",
         options.tool.string());
  }
  const auto logits_file = model.string() + ".logits.partial";
  const auto unoptimized_file = model.string() + ".unoptimized.partial";
  const auto command = fmt::format(
      "{} {} --model {} --data {} --logits {}{} --optimized {} --images {} --threads {}{}", options.node,
      shell_quoted(options.tool.string()), shell_quoted(model.string()), shell_quoted(data_dir),
      shell_quoted(logits_file), unoptimized ? " --unoptimized-logits " + shell_quoted(unoptimized_file) : "",
      shell_quoted(optimized.string()), images, options.threads, timing ? " --timing" : "");
  const auto start = Clock::now();
  std::string out;
  int status = -1;
  {
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
    if (!pipe) fail("onnxruntime judge: cannot start {}", options.node);
    char buffer[4096];
    while (const auto n = std::fread(buffer, 1, sizeof buffer, pipe.get())) out.append(buffer, n);
    status = pclose(pipe.release());
  }
  ToolRun run;
  run.seconds = seconds_since(start);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::filesystem::remove(logits_file);
    std::filesystem::remove(unoptimized_file);
    fail("onnxruntime judge: `{} {}` failed on {} (exit status {})", options.node, options.tool.filename().string(),
         model.string(), WIFEXITED(status) ? WEXITSTATUS(status) : status);
  }
  try {
    run.report = nlohmann::json::parse(out);
  } catch (const nlohmann::json::exception&) {
    fail("onnxruntime judge: {} printed no JSON report", options.tool.string());
  }
  const auto classes = run.report.value("classes", std::int64_t{0});
  run.logits = read_logits(logits_file, images, classes);
  if (unoptimized) run.unoptimized_logits = read_logits(unoptimized_file, images, classes);
  return run;
}

struct FloatTiming {
  double ms_per_image_b1 = 0, images_per_s_b256 = 0;
};

}  // namespace

std::filesystem::path default_judge_tool() { return QX_SOURCE_DIR "/tools/onnxruntime/judge.js"; }

RunSummary judge_with_onnxruntime(ExperimentSession& session, const std::vector<const PlannedCell*>& cells,
                                  const OnnxJudgeOptions& options, store::ResultsDb& results,
                                  const std::vector<CellSink*>& extra_sinks) {
  WorkFolder folder(options.files);
  const auto& test_set = session.test_set();
  const auto batch = session.experiment().evaluation.batch_size;
  std::optional<FloatTiming> fp32;
  if (options.timing) {
    // A scratch export of the float model, timed and removed: the fp32 cell is judged as any other.
    const auto file = folder.path() / "fp32.timing.onnx";
    const auto optimized = folder.path() / "fp32.timing.optimized.onnx";
    session.inspect_float_model([&](sim::QuantSim& sim) { deploy::export_onnx(sim, file, {data::Normalization{}, "fp32"}); });
    // Timing only: one batch of images is enough, and nothing is compared.
    const auto run = run_tool(options, file, session.data_dir(), std::min<std::int64_t>(256, test_set.size()),
                              optimized, true, false);
    fp32 = FloatTiming{run.report.at("ms_per_image_b1").get<double>(), run.report.at("images_per_s_b256").get<double>()};
    std::filesystem::remove(file);
    std::filesystem::remove(optimized);
  }

  auto record = session.experiment_record();
  record.name = kExperiment;
  SummarySink summary;
  ConsoleSink console;
  DatabaseSink database(results, record, std::nullopt);
  std::vector<CellSink*> sinks{&summary, &database, &console};
  sinks.insert(sinks.end(), extra_sinks.begin(), extra_sinks.end());
  SinkList sink(sinks);
  sink.begin({cells.size(), 1});
  const auto start = Clock::now();
  for (const auto* planned : cells) {
    const auto source = results.finished_cell(planned->key);
    if (!source) fail("{}: cell '{}' is not in the database yet: run the experiment first", kExperiment, planned->description);
    PlannedCell judged{planned->index, spec::JsonObject().set("judge", kExperiment).set("source", planned->key).str(),
                       planned->description + " in onnxruntime"};
    if (results.has_finished_cell(judged.key)) {
      sink.settled(judged, Settled::kEarlier);
      continue;
    }
    const auto file = folder.path() / (spec::key_digest(planned->key) + ".onnx");
    torch::Tensor simulated;
    auto verdict = session.compute(planned->index, [&](sim::QuantSim& sim, const store::CellResult&) {
      simulated = eval::predict(sim.model(), test_set, batch, session.device());
      deploy::export_onnx(sim, file, {data::Normalization{}, planned->description});
    });
    if (verdict.error.empty() && verdict.top1 != source->top1) {
      verdict.error = fmt::format("recomputed top-1 {:.2f} differs from the database's {:.2f}: the export would not be "
                                  "the published cell",
                                  verdict.top1, source->top1);
    }
    const double simulated_top1 = verdict.top1;
    spec::JsonObject judge;
    judge.set("onnx.source_cell", source->id).set("onnx.simulated_top1", simulated_top1);
    verdict.tensors.clear();
    verdict.passes.clear();
    if (verdict.error.empty()) {
      try {
        const auto optimized = folder.path() / (spec::key_digest(planned->key) + ".optimized.onnx");
        const auto run = run_tool(options, file, session.data_dir(), test_set.size(), optimized, options.timing, true);
        const auto census = deploy::census_onnx(optimized);
        std::filesystem::remove(optimized);
        const auto scored = eval::score(run.logits, test_set.labels);
        verdict.top1 = scored.top1;
        verdict.top5 = scored.top5;
        verdict.loss = scored.loss;
        verdict.images = scored.images;
        verdict.eval_seconds = run.seconds;
        // Simulation -> the file computed as written (the int32 biases) -> onnxruntime's integer kernels.
        judge.set("onnx.agreement", agreement(run.logits, simulated))
            .set("onnx.max_logit_difference", max_difference(run.logits, simulated))
            .set("onnx.unoptimized_agreement", agreement(run.unoptimized_logits, simulated))
            .set("onnx.kernel_agreement", agreement(run.logits, run.unoptimized_logits))
            .set("onnx.kernel_max_logit_difference", max_difference(run.logits, run.unoptimized_logits))
            .set("onnx.runtime", run.report.value("onnxruntime", std::string()))
            .set("onnx.integer_layers", fmt::format("{}", fmt::join(census.integer_nodes, " ")))
            .set("onnx.float_layers", fmt::format("{}", fmt::join(census.float_nodes, " ")));
        if (folder.kept()) judge.set("onnx.file", file.string());
        if (fp32) {
          judge.set("onnx.ms_per_image_b1", run.report.at("ms_per_image_b1").get<double>())
              .set("onnx.images_per_s_b256", run.report.at("images_per_s_b256").get<double>())
              .set("fp32.ms_per_image_b1", fp32->ms_per_image_b1)
              .set("fp32.images_per_s_b256", fp32->images_per_s_b256);
        }
      } catch (const std::exception& error) {
        verdict.error = error.what();
      }
    }
    if (!folder.kept()) std::filesystem::remove(file);
    verdict.judge_json = judge.str();
    verdict.key = judged.key;
    sink.computed(judged, verdict, "");
  }
  auto done = summary.summary();
  done.seconds = seconds_since(start);
  sink.end(done);
  return done;
}

}  // namespace qx::run
