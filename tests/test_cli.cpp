// `qx` itself on bad input: a one-line error naming the cause, a non-zero exit, no crash and no
// results written.
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli_support.h"
#include "qx/host/plugin_host.h"
#include "qx/train/checkpoint.h"
#include "support.h"

namespace qx::test {
namespace {

using ::testing::HasSubstr;

class CliTest : public ::testing::Test {
 protected:
  // An experiment file in the scratch dir; `data_dir` and extra lines vary per test.
  void write_experiment(const std::string& data_dir, const std::string& plugin = "resnet20",
                        const std::string& extra = "") {
    std::ofstream(scratch_ / "e.toml") << "[model]\nplugin = \"" << plugin << "\"\n"
                                       << "[data]\ndir = \"" << data_dir << "\"\n"
                                       << "[train]\nepochs = 1\n" << extra << "[schedule]\nwarmup_epochs = 0.0\n"
                                       << "[output]\ndir = \"run\"\ndatabase = \"results.sqlite\"\n";
  }
  void expect_no_results() const {
    EXPECT_FALSE(std::filesystem::exists(scratch_ / "results.sqlite"));
    EXPECT_FALSE(std::filesystem::exists(scratch_ / "run"));
  }
  ScratchDir scratch_;
};

TEST_F(CliTest, MissingDataDirectory) {
  write_experiment("no-such-dir");
  expect_clean_failure(run_qx("train e.toml", scratch_), "CIFAR-10 data directory 'no-such-dir' does not exist");
  expect_no_results();
}

TEST_F(CliTest, TruncatedBatchFile) {
  write_cifar_dir(scratch_ / "data", 3);  // 3 records per file instead of 10,000
  write_experiment("data");
  expect_clean_failure(run_qx("train e.toml", scratch_), "data_batch_1.bin has 9219 bytes, expected 30730000");
  expect_no_results();
}

TEST_F(CliTest, BadLabel) {
  std::filesystem::create_directories(scratch_ / "data");
  write_cifar_file(scratch_ / "data" / "data_batch_1.bin", data::kCifarRecordsPerFile, /*bad_label_at=*/123);
  write_experiment("data");
  expect_clean_failure(run_qx("train e.toml", scratch_), "record 123 has label 10, expected 0-9");
  expect_no_results();
}

TEST_F(CliTest, UnknownTomlKey) {
  write_experiment("data", "resnet20", "batch_sise = 64\n");
  expect_clean_failure(run_qx("train e.toml", scratch_),
                       "e.toml:7:1: unknown key 'batch_sise' in [train]; did you mean 'batch_size'?");
  expect_no_results();
}

TEST_F(CliTest, WrongTomlType) {
  write_experiment("data", "resnet20", "seed = \"zero\"\n");
  expect_clean_failure(run_qx("train e.toml", scratch_), "e.toml:7:8: 'train.seed' must be an integer, not string");
  expect_no_results();
}

TEST_F(CliTest, MalformedToml) {
  std::ofstream(scratch_ / "e.toml") << "[model\nplugin = 1\n";
  expect_clean_failure(run_qx("train e.toml", scratch_), "e.toml:1:");
}

TEST_F(CliTest, UnknownPlugin) {
  write_experiment("data", "resnet21");
  expect_clean_failure(run_qx("train e.toml", scratch_), "unknown model plugin 'resnet21'");
  expect_no_results();
}

TEST_F(CliTest, PluginAbiMismatch) {
  write_experiment("data", "abi_mismatch");
  const auto outcome = run_qx(std::string("--plugins '") + QX_TEST_PLUGIN_DIR + "' train e.toml", scratch_);
  expect_clean_failure(outcome, "libqx_model_abi_mismatch.so: built for qx plugin ABI");
  EXPECT_THAT(outcome.err, HasSubstr("but this qx has plugin ABI"));
  expect_no_results();
}

TEST_F(CliTest, MissingCheckpoint) {
  expect_clean_failure(run_qx("eval --checkpoint nope.pt --data data", scratch_), "checkpoint nope.pt: no such file");
}

TEST_F(CliTest, CorruptCheckpoint) {
  std::ofstream(scratch_ / "bad.pt") << "PK\x03\x04 this is not a checkpoint";
  expect_clean_failure(run_qx("eval --checkpoint bad.pt --data data", scratch_), "checkpoint bad.pt: not a readable");
}

TEST_F(CliTest, CheckpointOfAnotherArchitecture) {
  // ResNet56's weights under ResNet20's name: every ResNet20 tensor is there, with its shape,
  // and 36 blocks' worth more.
  PluginHost host(QX_PLUGIN_DIR);
  train::Checkpoint checkpoint;
  checkpoint.model = "resnet20";
  checkpoint.state_dict = train::model_state(*host.create_model("resnet56", Options("model 'resnet56'")));
  checkpoint.run_uid = "other-architecture";
  train::save_checkpoint(checkpoint, scratch_ / "resnet56.pt");
  expect_clean_failure(run_qx("eval --checkpoint resnet56.pt --data data", scratch_),
                       "checkpoint resnet56.pt: holds 216 tensors the model does not have, 'layer1.3.bn1.bias' first");
}

TEST_F(CliTest, CheckpointWithAnotherClassifierShape) {
  PluginHost host(QX_PLUGIN_DIR);
  Options options("model 'resnet20'");
  options.set("num_classes", std::int64_t{100}, "test");
  train::Checkpoint checkpoint;
  checkpoint.model = "resnet20";
  checkpoint.state_dict = train::model_state(*host.create_model("resnet20", options));
  train::save_checkpoint(checkpoint, scratch_ / "cifar100.pt");
  expect_clean_failure(run_qx("eval --checkpoint cifar100.pt --data data", scratch_),
                       "tensor 'fc.weight' has shape [100, 64], the model expects [10, 64]");
}

TEST_F(CliTest, UnknownDevice) {
  expect_clean_failure(run_qx("eval --checkpoint x.pt --device tpu", scratch_), "unknown device 'tpu'");
}

TEST_F(CliTest, FetchWithoutNetworkLeavesNoDirectory) {
  expect_clean_failure(run_qx("data fetch --dir fetched --url http://127.0.0.1:9/c.tar.gz", scratch_),
                       "fetching CIFAR-10 from http://127.0.0.1:9/c.tar.gz failed: the source cannot be read");
  EXPECT_TRUE(!std::filesystem::exists(scratch_ / "fetched") || std::filesystem::is_empty(scratch_ / "fetched"));
}

TEST_F(CliTest, PluginsListsTheModel) {
  const auto outcome = run_qx("plugins", scratch_);
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_THAT(outcome.out, HasSubstr("resnet20, resnet56"));
  EXPECT_THAT(outcome.out, HasSubstr("libqx_model_resnet20.so"));
}

TEST_F(CliTest, PluginsShowsWhyOneWasRefused) {
  const auto outcome = run_qx(std::string("--plugins '") + QX_TEST_PLUGIN_DIR + "' plugins", scratch_);
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_THAT(outcome.out, HasSubstr("REFUSED"));
  EXPECT_THAT(outcome.out, HasSubstr("built for qx plugin ABI"));
}

}  // namespace
}  // namespace qx::test
