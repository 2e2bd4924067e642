#pragma once
// Finds plugins in a directory, checks their boundary and hands out what they registered.
//
// A library whose PluginInfo disagrees with this binary (magic, ABI, LibTorch, compiler) is kept
// in the list as rejected and never initialised; asking for something it provides raises the
// rejection as a one-line error that names the file and both values. Libraries stay loaded for
// the host's lifetime and objects they create hold a reference to their library, so no code is
// unmapped while an object that needs it is alive.
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "qx/core/options.h"
#include "qx/nn/model.h"
#include "qx/passes/pass.h"
#include "qx/passes/runner.h"
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"
#include "qx/quant/observer.h"
#include "qx/quant/quantizer.h"
#include "qx/quant/source.h"

namespace boost::dll {
class shared_library;
}

namespace qx {

struct PluginRecord {
  std::filesystem::path file;
  std::string kind, name, version;  // empty where the library carries no readable info
  std::vector<std::string> provides;  // names it registered, e.g. models
  std::string rejection;              // empty when accepted
  bool accepted() const { return rejection.empty(); }
};

// The observers, quantizers and passes it hands out are what the simulation and the pass runner
// ask their providers for (quant/source.h, passes/runner.h).
class PluginHost : public quant::ObserverQuantizerSource, public passes::PassSource {
 public:
  explicit PluginHost(std::filesystem::path directory);
  ~PluginHost() override;
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  const std::filesystem::path& directory() const { return directory_; }
  const std::vector<PluginRecord>& plugins() const { return records_; }

  std::shared_ptr<QuantizableModel> create_model(const std::string& name, const Options& options) const;
  std::shared_ptr<quant::Observer> create_observer(const std::string& name, const Options& options,
                                                   const quant::ObserverContext& context) const override;
  std::shared_ptr<quant::Quantizer> create_quantizer(const std::string& name, const Options& options) const override;
  std::shared_ptr<passes::Pass> create_pass(const std::string& name, const Options& options) const override;
  // The version of the plugin that provides `name` of `kind` ("" if none does).
  std::string plugin_version(const std::string& kind, const std::string& name) const;
  std::vector<std::string> model_names() const { return models_.names(); }
  std::vector<std::string> observer_names() const { return observers_.names(); }
  std::vector<std::string> quantizer_names() const { return quantizers_.names(); }
  std::vector<std::string> pass_names() const { return passes_.names(); }

  // What one kind of plugin registered, by name, with the library that holds its code.
  template <typename Factory>
  struct Catalog {
    struct Entry {
      Factory factory;
      std::shared_ptr<boost::dll::shared_library> library;
    };
    std::map<std::string, Entry> entries;
    std::vector<std::string> names() const {
      std::vector<std::string> out;
      for (const auto& item : entries) out.push_back(item.first);
      return out;
    }
  };

 private:
  void load(const std::filesystem::path& file);
  template <typename Factory>
  const typename Catalog<Factory>::Entry& find(const Catalog<Factory>& catalog, const std::string& kind,
                                               const std::string& name) const;
  // Calls the named factory, checks that it used every option and returned an object, and ties
  // the object's lifetime to the library that holds its code.
  template <typename Factory, typename... Args>
  auto create(const Catalog<Factory>& catalog, const std::string& kind, const std::string& name,
              const Options& options, Args&&... args) const;

  std::filesystem::path directory_;
  std::vector<PluginRecord> records_;
  std::vector<std::shared_ptr<boost::dll::shared_library>> libraries_;
  // Declared after libraries_, so destroyed before them: factories' code lives in the libraries.
  Catalog<ModelFactory> models_;
  Catalog<quant::ObserverFactory> observers_;
  Catalog<quant::QuantizerFactory> quantizers_;
  Catalog<passes::PassFactory> passes_;
};

// Where plugins are looked for: --plugins, else $QX_PLUGIN_DIR, else the experiment file's
// [plugins] dir, else, for an installed qx (<prefix>/bin/qx), <prefix>/lib/qx/plugins, else the
// build tree's plugin folder. Never the working directory.
std::filesystem::path resolve_plugin_dir(const std::string& from_cli, const std::string& from_experiment);

// Compares a plugin's info with this binary's; returns "" when they match, else the reason.
std::string check_plugin_info(const PluginInfo& plugin, const std::string& file);

}  // namespace qx
