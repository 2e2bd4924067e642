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
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"

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

class PluginHost {
 public:
  explicit PluginHost(std::filesystem::path directory);
  ~PluginHost();
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  const std::filesystem::path& directory() const { return directory_; }
  const std::vector<PluginRecord>& plugins() const { return records_; }

  std::shared_ptr<QuantizableModel> create_model(const std::string& name, const Options& options) const;
  std::vector<std::string> model_names() const;

 private:
  struct Loaded;
  void load(const std::filesystem::path& file);
  [[noreturn]] void unknown(const std::string& kind, const std::string& name) const;

  std::filesystem::path directory_;
  std::vector<PluginRecord> records_;
  std::vector<std::shared_ptr<boost::dll::shared_library>> libraries_;
  struct ModelEntry {
    ModelFactory factory;
    std::shared_ptr<boost::dll::shared_library> library;
  };
  std::map<std::string, ModelEntry> models_;
};

// Where plugins are looked for: --plugins, else $QX_PLUGIN_DIR, else the experiment file's
// [plugins] dir, else the build tree's plugin folder.
std::filesystem::path resolve_plugin_dir(const std::string& from_cli, const std::string& from_experiment);

// Compares a plugin's info with this binary's; returns "" when they match, else the reason.
std::string check_plugin_info(const PluginInfo& plugin, const std::string& file);

}  // namespace qx
