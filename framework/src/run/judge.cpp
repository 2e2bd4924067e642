#include "qx/run/judge.h"

#include <cmath>
#include <memory>

#include <fmt/format.h>

#include "qx/core/clock.h"
#include "qx/core/error.h"
#include "qx/eval/evaluate.h"

namespace qx::run {

double agreement(const torch::Tensor& a, const torch::Tensor& b) {
  return a.argmax(1).eq(b.argmax(1)).to(torch::kFloat64).mean().item<double>();
}

double max_difference(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

namespace {

// How far a recomputed cell's top-1 may be from the database's, in points: 10 of 10,000 test
// images. Another CPU's float kernels (another ISA, another summation order) move a few images
// that sit on a decision boundary, most at 4 bits and below; the verdict compares the runtime with
// the simulation recomputed here, whose top-1 it records beside the source cell's id.
constexpr double kRecomputedTolerance = 0.1;

// One judge's sinks: its experiment's rows in the database, the console, the counts.
struct JudgeSinks {
  JudgeSinks(store::ResultsDb& results, const store::ExperimentRecord& record, const std::vector<CellSink*>& extra)
      : database(results, record, std::nullopt) {
    std::vector<CellSink*> sinks{&summary, &database, &console};
    sinks.insert(sinks.end(), extra.begin(), extra.end());
    list = std::make_unique<SinkList>(sinks);
  }
  SummarySink summary;
  ConsoleSink console;
  DatabaseSink database;
  std::unique_ptr<SinkList> list;
};

// The verdict of one runtime on one cell, from the recomputed cell `computed`.
store::CellResult verdict_of(const JudgeSetup& setup, store::CellResult computed, const store::FinishedCell& source,
                             const RuntimeRun* run, const std::string& error, const torch::Tensor& simulated,
                             const data::Dataset& test_set) {
  const auto setting = [&](const char* name) { return setup.prefix + "." + name; };
  auto judge = run ? run->settings : spec::JsonObject();
  judge.set(setting("source_cell"), source.id).set(setting("simulated_top1"), computed.top1);
  computed.tensors.clear();
  computed.passes.clear();
  if (computed.error.empty()) computed.error = error;
  if (computed.error.empty() && run) {
    const auto scored = eval::score(run->logits, test_set.labels);
    computed.top1 = scored.top1;
    computed.top5 = scored.top5;
    computed.loss = scored.loss;
    computed.images = scored.images;
    computed.eval_seconds = run->seconds;
    judge.set(setting("agreement"), agreement(run->logits, simulated))
        .set(setting("max_logit_difference"), max_difference(run->logits, simulated));
  }
  computed.judge_json = judge.str();
  return computed;
}

}  // namespace

RunSummary judge_cells(ExperimentSession& session, const std::vector<const PlannedCell*>& cells,
                       store::ResultsDb& results, const std::vector<Judge>& judges,
                       const std::vector<CellSink*>& extra_sinks) {
  const auto& test_set = session.test_set();
  const auto batch = session.experiment().evaluation.batch_size;
  std::vector<std::unique_ptr<JudgeSinks>> sinks;
  for (const auto& judge : judges) {
    auto record = session.experiment_record();
    record.name = judge.setup.experiment;
    sinks.push_back(std::make_unique<JudgeSinks>(results, record, extra_sinks));
    sinks.back()->list->begin({cells.size(), 1});
  }
  const auto start = Clock::now();
  for (const auto* planned : cells) {
    const auto source = results.finished_cell(planned->key);
    if (!source) {
      fail("{}: cell '{}' is not in the database yet: run the experiment first", judges.front().setup.experiment,
           planned->description);
    }
    std::vector<PlannedCell> verdicts;  // one per judge
    std::vector<std::size_t> pending;   // the judges without theirs
    for (std::size_t j = 0; j < judges.size(); ++j) {
      auto key = judges[j].setup.key;
      verdicts.push_back({planned->index, key.set("judge", judges[j].setup.experiment).set("source", planned->key).str(),
                          planned->description + " " + judges[j].setup.runtime});
      if (results.has_finished_cell(verdicts.back().key)) {
        sinks[j]->list->settled(verdicts.back(), Settled::kEarlier);
      } else {
        pending.push_back(j);
      }
    }
    if (pending.empty()) continue;
    torch::Tensor simulated;
    std::vector<std::unique_ptr<RuntimeRun>> runs(judges.size());
    std::vector<std::string> errors(judges.size());
    const auto computed = session.compute(planned->index, [&](sim::QuantSim& sim, const store::CellResult& result) {
      if (std::abs(result.top1 - source->top1) > kRecomputedTolerance) {
        fail("recomputed top-1 {:.2f} differs from the database's {:.2f} by more than {} points: the judged model "
             "would not be the published cell",
             result.top1, source->top1, kRecomputedTolerance);
      }
      simulated = eval::predict(sim.model(), test_set, batch, session.device());
      for (const auto j : pending) {
        try {
          runs[j] = std::make_unique<RuntimeRun>(judges[j].runtime(sim, *planned, simulated));
        } catch (const std::exception& error) {
          errors[j] = error.what();
        }
      }
    });
    for (const auto j : pending) {
      auto verdict = verdict_of(judges[j].setup, computed, *source, runs[j].get(), errors[j], simulated, test_set);
      verdict.key = verdicts[j].key;
      sinks[j]->list->computed(verdicts[j], verdict, "");
    }
  }
  RunSummary total;
  for (auto& judge_sinks : sinks) {
    auto done = judge_sinks->summary.summary();
    done.seconds = seconds_since(start);
    judge_sinks->list->end(done);
    total.cells += done.cells;
    total.skipped += done.skipped;
    total.finished += done.finished;
    total.failed += done.failed;
    if (total.first_error.empty()) total.first_error = done.first_error;
  }
  total.seconds = seconds_since(start);
  return total;
}

}  // namespace qx::run
