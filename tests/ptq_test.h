#pragma once
// The fixture of the end-to-end experiment tests: synthetic full-size CIFAR-10 files and an
// untrained ResNet20 checkpoint shared by the suite, and experiment files written beside a
// scratch results database.
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "qx/config/ptq_config.h"
#include "qx/host/plugin_host.h"
#include "qx/run/experiment_session.h"
#include "qx/store/sqlite.h"
#include "qx/train/checkpoint.h"
#include "support.h"

namespace qx::test {

class PtqTest : public SeededTest {
 protected:
  static void SetUpTestSuite() {
    shared_ = std::make_unique<ScratchDir>();
    write_cifar_dir(*shared_ / "data", data::kCifarRecordsPerFile);
    PluginHost host(QX_PLUGIN_DIR);
    torch::manual_seed(0);
    auto model = host.create_model("resnet20", Options("model 'resnet20'"));
    train::Checkpoint checkpoint;
    checkpoint.model = "resnet20";
    checkpoint.state_dict = train::model_state(*model);
    checkpoint.run_uid = "test";
    checkpoint.history = torch::zeros({0, 10}, torch::kFloat64);
    train::save_checkpoint(checkpoint, *shared_ / "model.pt");
  }
  static void TearDownTestSuite() { shared_.reset(); }

  // An experiment in the scratch dir with `body` appended to the common settings.
  void write(const std::string& body, const std::string& name = "e.toml", const std::string& experiment = "test") {
    std::ofstream(scratch_ / name) << "name = \"" << experiment << "\"\n"
                                   << "[model]\ncheckpoint = \"" << (*shared_ / "model.pt").string() << "\"\n"
                                   << "[data]\ndir = \"" << (*shared_ / "data").string() << "\"\n"
                                   << "[calibration]\nbatches = 2\nbatch_size = 8\n"
                                   << "[evaluation]\nimages = 200\nbatch_size = 100\nthreads = 1\n"
                                   << "[output]\ndatabase = \"results.sqlite\"\n"
                                   << body;
  }
  std::int64_t count(const std::string& sql) {
    store::Database db((scratch_ / "results.sqlite").string());
    store::Statement query(db, sql);
    query.step();
    return query.column_int(0);
  }

  // The data and checkpoint every test of the suite reads, written once per suite.
  inline static std::unique_ptr<ScratchDir> shared_;
  ScratchDir scratch_;
};

// A session over the cells of `cells` (an experiment file's [[cells]]), for tests that compute cells
// one at a time and look at their simulation (the ONNX export, the integer judges).
class SessionTest : public PtqTest {
 protected:
  void start_session(const std::string& cells) {
    write(cells);
    experiment_ = config::load_ptq_experiment((scratch_ / "e.toml").string());
    host_ = std::make_unique<PluginHost>(QX_PLUGIN_DIR);
    session_ = std::make_unique<run::ExperimentSession>(experiment_, *host_, run::RunOverrides{});
  }

  config::PtqExperiment experiment_;
  std::unique_ptr<PluginHost> host_;
  std::unique_ptr<run::ExperimentSession> session_;
};

inline const char* const kSmallGrid =
    "[grid]\nobservers = [\"minmax\", \"percentile\"]\nquantizers = [\"asymmetric\", \"per_channel\"]\n"
    "bits = [8, 4]\n[observers.percentile]\npercentile = 99.9\n[[cells]]\nname = \"fp32\"\nquantize = false\n";

}  // namespace qx::test
