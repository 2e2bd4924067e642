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
#include "qx/run/judge.h"
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

Judge onnxruntime_judge(ExperimentSession& session, const OnnxJudgeOptions& options) {
  // The judge's runtime keeps the folder for as long as it lives.
  const auto folder = std::make_shared<WorkFolder>(options.files);
  const auto& test_set = session.test_set();
  std::optional<FloatTiming> fp32;
  if (options.timing) {
    // A scratch export of the float model, timed and removed: the fp32 cell is judged as any other.
    const auto file = folder->path() / "fp32.timing.onnx";
    const auto optimized = folder->path() / "fp32.timing.optimized.onnx";
    session.inspect_float_model([&](sim::QuantSim& sim) { deploy::export_onnx(sim, file, {data::Normalization{}, "fp32"}); });
    // Timing only: one batch of images is enough, and nothing is compared.
    const auto run = run_tool(options, file, session.data_dir(), std::min<std::int64_t>(256, test_set.size()),
                              optimized, true, false);
    fp32 = FloatTiming{run.report.at("ms_per_image_b1").get<double>(), run.report.at("images_per_s_b256").get<double>()};
    std::filesystem::remove(file);
    std::filesystem::remove(optimized);
  }

  const auto runtime = [&session, options, folder, fp32](sim::QuantSim& sim, const PlannedCell& cell,
                                                        const torch::Tensor& simulated) {
    const auto& test_set = session.test_set();
    const auto digest = spec::key_digest(cell.key);
    const auto file = folder->path() / (digest + ".onnx");
    const auto optimized = folder->path() / (digest + ".optimized.onnx");
    deploy::export_onnx(sim, file, {data::Normalization{}, cell.description});
    const auto tool = run_tool(options, file, session.data_dir(), test_set.size(), optimized, options.timing, true);
    const auto census = deploy::census_onnx(optimized);
    std::filesystem::remove(optimized);
    if (!folder->kept()) std::filesystem::remove(file);
    RuntimeRun run{tool.logits, tool.seconds, {}};
    // Simulation -> the file computed as written (the int32 biases) -> onnxruntime's integer kernels.
    run.settings.set("onnx.unoptimized_agreement", agreement(tool.unoptimized_logits, simulated))
        .set("onnx.kernel_agreement", agreement(tool.logits, tool.unoptimized_logits))
        .set("onnx.kernel_max_logit_difference", max_difference(tool.logits, tool.unoptimized_logits))
        .set("onnx.runtime", tool.report.value("onnxruntime", std::string()))
        .set("onnx.integer_layers", fmt::format("{}", fmt::join(census.integer_nodes, " ")))
        .set("onnx.float_layers", fmt::format("{}", fmt::join(census.float_nodes, " ")));
    if (folder->kept()) run.settings.set("onnx.file", file.string());
    if (fp32) {
      run.settings.set("onnx.ms_per_image_b1", tool.report.at("ms_per_image_b1").get<double>())
          .set("onnx.images_per_s_b256", tool.report.at("images_per_s_b256").get<double>())
          .set("fp32.ms_per_image_b1", fp32->ms_per_image_b1)
          .set("fp32.images_per_s_b256", fp32->images_per_s_b256);
    }
    return run;
  };
  return {{kExperiment, "onnx", "in onnxruntime", {}}, runtime};
}

RunSummary judge_with_onnxruntime(ExperimentSession& session, const std::vector<const PlannedCell*>& cells,
                                  const OnnxJudgeOptions& options, store::ResultsDb& results,
                                  const std::vector<CellSink*>& extra_sinks) {
  return judge_cells(session, cells, results, {onnxruntime_judge(session, options)}, extra_sinks);
}

}  // namespace qx::run
