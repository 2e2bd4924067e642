#pragma once
// Runs a PTQ experiment: validates every cell before the first one starts, then quantizes and
// evaluates each cell on a freshly restored copy of the checkpoint's model, writing each result
// in one transaction. Cells whose key is already finished in the database are skipped, so an
// interrupted run resumes where it stopped and two runs on one database share the work.
#include <cstdint>
#include <string>

#include "qx/config/ptq_config.h"
#include "qx/plugin/host.h"

namespace qx::run {

struct RunOverrides {
  std::string database;    // --db
  std::string data_dir;    // --data
  std::string checkpoint;  // --checkpoint
  std::string device;      // --device: where the cells run is not part of their key
};

struct RunSummary {
  std::int64_t cells = 0;
  std::int64_t skipped = 0;   // finished earlier
  std::int64_t finished = 0;  // by this run
  std::int64_t failed = 0;
  std::string first_error;
  double seconds = 0;
};

RunSummary run_ptq_experiment(const config::PtqExperiment& experiment, const PluginHost& host,
                              const RunOverrides& overrides);

}  // namespace qx::run
