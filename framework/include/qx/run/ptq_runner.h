#pragma once
// Runs a PTQ experiment in one process: validates every cell before the first one starts, then
// quantizes and evaluates each cell on a freshly restored copy of the checkpoint's model, writing
// each result in one transaction. Cells whose key is already finished in the database are
// skipped, so an interrupted run resumes where it stopped and two runs on one database share the
// work. A shard (--shard K/N, for job arrays) takes every N-th cell, starting with the K-th.
#include <cstdint>
#include <string>
#include <vector>

#include "qx/config/ptq_config.h"
#include "qx/host/plugin_host.h"
#include "qx/run/cell_sink.h"
#include "qx/run/experiment_session.h"

namespace qx::run {

// Shard `index` of `count` (1 <= index <= count) owns the cells whose 0-based position p in the
// file has p % count == index - 1. Every shard writes its own database; `qx merge` joins them.
struct Shard {
  std::int64_t index = 1;
  std::int64_t count = 1;
  bool owns(std::size_t position) const { return static_cast<std::int64_t>(position % count) == index - 1; }
};
// Parses "K/N"; qx::Error names the text unless 1 <= K <= N.
Shard parse_shard(const std::string& text);

// Reports to a summary, the database and the console, and to `extra_sinks` after them.
RunSummary run_ptq_experiment(const config::PtqExperiment& experiment, const PluginHost& host,
                              const RunOverrides& overrides, const Shard& shard = {},
                              const std::vector<CellSink*>& extra_sinks = {});

// Whether the session's database already holds every one of `cells` finished and the histograms
// the experiment asks for. A run that finds so writes nothing, not even its experiment row, so
// that the main job on a clone leaves the committed database byte for byte as committed.
bool nothing_to_write(const ExperimentSession& session, const std::vector<const PlannedCell*>& cells);

}  // namespace qx::run
