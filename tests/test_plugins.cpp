// Plugin discovery and the checked boundary.
#include <functional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "qx/core/error.h"
#include "qx/host/plugin_host.h"
#include "support.h"

namespace qx::test {
namespace {

using ::testing::HasSubstr;

TEST(PluginHost, DiscoversTheModelPlugin) {
  PluginHost host(QX_PLUGIN_DIR);
  ASSERT_FALSE(host.plugins().empty());
  bool found = false;
  for (const auto& plugin : host.plugins()) {
    if (plugin.name != "resnet20") continue;
    found = true;
    EXPECT_TRUE(plugin.accepted()) << plugin.rejection;
    EXPECT_EQ(plugin.kind, "model");
    EXPECT_EQ(plugin.version, "1.3.0");
    EXPECT_EQ(plugin.file.filename(), "libqx_model_resnet20.so");
    EXPECT_THAT(plugin.provides, ::testing::ElementsAre("resnet20", "resnet56"));
  }
  EXPECT_TRUE(found);
}

TEST(PluginHost, RefusesAbiMismatchNamingFileAndBothVersions) {
  PluginHost host(QX_TEST_PLUGIN_DIR);
  ASSERT_EQ(host.plugins().size(), 1u);
  const auto& record = host.plugins().front();
  EXPECT_FALSE(record.accepted());
  EXPECT_EQ(record.name, "abi_mismatch");
  EXPECT_TRUE(record.provides.empty()) << "a refused plugin must never be initialised";
  try {
    host.create_model("abi_mismatch", Options());
    FAIL() << "expected the mismatched plugin to be refused";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_THAT(message, HasSubstr("libqx_model_abi_mismatch.so"));
    EXPECT_THAT(message, HasSubstr(fmt::format("built for qx plugin ABI {}", QX_PLUGIN_ABI_VERSION + 1)));
    EXPECT_THAT(message, HasSubstr(fmt::format("this qx has plugin ABI {}", QX_PLUGIN_ABI_VERSION)));
  }
}

TEST(PluginHost, ChecksEveryFieldOfTheInfo) {
  const auto valid = [] {
    PluginInfo info = host_plugin_info();
    info.kind = "observer";
    info.name = "minmax";
    info.version = "1.0.0";
    return info;
  };
  EXPECT_EQ(check_plugin_info(valid(), "p.so"), "");
  // One field changed from a valid record, and what the host answers: the whole line, or a part.
  struct Case {
    std::function<void(PluginInfo&)> change;
    std::string message;
    bool whole = false;
  };
  const std::vector<Case> cases = {
      {[](PluginInfo& i) { i.torch_version = "0.0.1"; }, "built against LibTorch 0.0.1"},
      {[](PluginInfo& i) { i.compiler = "other-compiler"; }, "built with compiler 'other-compiler'"},
      {[](PluginInfo& i) { i.magic = 0; }, "not a qx plugin"},
      // What fuzzing the record found (tests/fuzz/regressions/plugin_info/): fields the host
      // cannot use, and foreign text that would break the one-line message.
      {[](PluginInfo& i) { i.kind = nullptr; },
       "plugin p.so: unknown plugin kind '(null)' (expected model, observer, quantizer or pass)", true},
      {[](PluginInfo& i) { i.kind = "exporter"; }, "unknown plugin kind 'exporter'"},
      {[](PluginInfo& i) { i.name = ""; }, "plugin name '' is not a lower-case identifier"},
      {[](PluginInfo& i) { i.name = "Min Max"; }, "plugin name 'Min Max' is not a lower-case identifier"},
      {[](PluginInfo& i) { i.version = nullptr; }, "plugin p.so: the info record has no version", true},
      {[](PluginInfo& i) { i.compiler = "gcc\nsecond line"; }, "built with compiler 'gcc\\nsecond line'"},
  };
  for (const auto& c : cases) {
    PluginInfo info = valid();
    c.change(info);
    if (c.whole) {
      EXPECT_EQ(check_plugin_info(info, "p.so"), c.message);
    } else {
      EXPECT_THAT(check_plugin_info(info, "p.so"), HasSubstr(c.message));
    }
  }
}

TEST(PluginHost, UnknownModelListsWhatExists) {
  PluginHost host(QX_PLUGIN_DIR);
  try {
    host.create_model("resnet21", Options());
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("unknown model plugin 'resnet21'"));
    EXPECT_THAT(std::string(e.what()), HasSubstr("resnet20, resnet56"));
  }
}

TEST(PluginHost, UnknownOptionIsAnError) {
  PluginHost host(QX_PLUGIN_DIR);
  Options options("model 'resnet20'");
  options.set("num_clases", std::int64_t{10}, "e.toml:3:1");
  try {
    host.create_model("resnet20", options);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "e.toml:3:1: unknown option 'num_clases' for model 'resnet20'");
  }
}

TEST(PluginHost, MissingDirectory) {
  EXPECT_THROW(PluginHost("/nonexistent/plugins"), Error);
}

TEST(PluginHost, ModelsKeepTheirLibraryAlive) {
  std::shared_ptr<QuantizableModel> model;
  {
    PluginHost host(QX_PLUGIN_DIR);
    model = host.create_model("resnet20", Options());
  }
  // The host is gone; the model's code must still be mapped.
  model->eval();
  EXPECT_EQ(model->forward(torch::zeros({1, 3, 32, 32})).size(1), 10);
}

// The model contract (qx/nn/model_contract.h) is checked when a model is created: each broken
// model of the test plugin is refused with one line that names it and what it breaks.
TEST(PluginHost, ChecksTheModelContractWhenAModelIsCreated) {
  PluginHost host(QX_BAD_MODEL_PLUGIN_DIR);
  EXPECT_NO_THROW(host.create_model("good_small", Options()));
  const std::vector<std::pair<std::string, std::string>> broken = {
      {"feeds_unknown_layer",
       "model plugin 'feeds_unknown_layer': quant point 'input_q' feeds 'conv9', which is not a Conv2d or Linear "
       "layer of the model"},
      {"unfed_layer", "model plugin 'unfed_layer': no quant point feeds weight layer 'conv'"},
      {"flat_logits",
       "model plugin 'flat_logits': forward() maps images [2, 3, 32, 32] to [20], expected logits [2, classes]"},
  };
  for (const auto& [name, message] : broken) {
    try {
      host.create_model(name, Options());
      ADD_FAILURE() << name << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), message);
    }
  }
}

}  // namespace
}  // namespace qx::test
