// Strict experiment-file reading: every mistake is one line with file:line:col.
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "qx/config/toml_reader.h"
#include "qx/config/train_config.h"
#include "qx/core/error.h"
#include "support.h"

namespace qx::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const char* const kValid = R"(name = "t"
[model]
plugin = "resnet20"
[data]
dir = "data"
[train]
epochs = 3
batch_size = 32
[schedule]
warmup_epochs = 1.0
[output]
dir = "runs/t"
)";

std::string error_of(const std::string& text) {
  ScratchDir dir;
  const auto file = dir / "experiment.toml";
  std::ofstream(file) << text;
  try {
    config::load_train_config(file.string());
  } catch (const Error& e) {
    const std::string message = e.what();
    // Errors name the file; strip the scratch path so tests read well.
    const auto at = message.find("experiment.toml");
    return at == std::string::npos ? message : message.substr(at);
  }
  return "";
}

TEST(TrainConfig, ReadsValidFileWithDefaults) {
  ScratchDir dir;
  std::ofstream(dir / "e.toml") << kValid;
  const auto config = config::load_train_config((dir / "e.toml").string());
  EXPECT_EQ(config.model.plugin, "resnet20");
  EXPECT_EQ(config.epochs, 3);
  EXPECT_EQ(config.batch_size, 32);
  EXPECT_DOUBLE_EQ(config.optimizer.lr, 0.1);
  EXPECT_EQ(config.schedule.kind, "cosine");
  EXPECT_EQ(config.source_text, kValid);
}

TEST(TrainConfig, UnknownKeyNamesPositionAndSuggestion) {
  std::string text = kValid;
  text.replace(text.find("epochs = 3"), 10, "epohcs = 3");
  EXPECT_EQ(error_of(text), "experiment.toml:7:1: unknown key 'epohcs' in [train]; did you mean 'epochs'?");
}

TEST(TrainConfig, UnknownSectionIsRejected) {
  EXPECT_THAT(error_of(std::string(kValid) + "[trian]\nx = 1\n"),
              HasSubstr("unknown key 'trian' at the top level; did you mean 'train'?"));
}

TEST(TrainConfig, WrongTypeNamesKeyAndTypes) {
  std::string text = kValid;
  text.replace(text.find("batch_size = 32"), 15, "batch_size = \"32\"");
  EXPECT_EQ(error_of(text), "experiment.toml:8:14: 'train.batch_size' must be an integer, not string");
}

TEST(TrainConfig, OutOfRangeValue) {
  std::string text = kValid;
  text.replace(text.find("epochs = 3"), 10, "epochs = 0");
  EXPECT_THAT(error_of(text), HasSubstr("experiment.toml:7:10: 'train.epochs' = 0 is out of range"));
}

TEST(TrainConfig, SyntaxErrorHasLineAndColumn) {
  EXPECT_THAT(error_of("[model]\nplugin = \"resnet20\n"), HasSubstr("experiment.toml:2:"));
  EXPECT_THAT(error_of("[model]\nplugin = \"resnet20\n"), HasSubstr("TOML syntax error"));
}

TEST(TrainConfig, MissingRequiredKey) {
  std::string text = kValid;
  text.replace(text.find("plugin = \"resnet20\""), 19, "");
  EXPECT_THAT(error_of(text), HasSubstr("missing required key 'model.plugin'"));
}

TEST(TrainConfig, BadChoiceListsAlternatives) {
  std::string text = kValid;
  text.replace(text.find("warmup_epochs = 1.0"), 19, "kind = \"linear\"");
  EXPECT_THAT(error_of(text), HasSubstr("'schedule.kind' = \"linear\" is not one of: cosine, multistep"));
}

TEST(TrainConfig, ErrorsAreOneLine) {
  std::string text = kValid;
  text.replace(text.find("epochs = 3"), 10, "epohcs = 3");
  EXPECT_THAT(error_of(text), Not(HasSubstr("\n")));
}

TEST(EditDistance, Basics) {
  EXPECT_EQ(config::edit_distance("epochs", "epochs"), 0u);
  EXPECT_EQ(config::edit_distance("epohcs", "epochs"), 2u);
  EXPECT_EQ(config::edit_distance("", "abc"), 3u);
}

}  // namespace
}  // namespace qx::test
