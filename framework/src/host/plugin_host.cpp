#include "qx/host/plugin_host.h"

#include <algorithm>
#include <cstdlib>
#include <tuple>
#include <utility>

#include <boost/dll/shared_library.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "qx/core/error.h"
#include "qx/core/text.h"
#include "qx/nn/model_contract.h"
#include "qx/plugin/registrar.h"

#ifndef QX_DEFAULT_PLUGIN_DIR
#define QX_DEFAULT_PLUGIN_DIR "plugins"
#endif
#ifndef QX_INSTALLED_PLUGIN_DIR
#define QX_INSTALLED_PLUGIN_DIR "lib/qx/plugins"
#endif

namespace qx {
namespace fs = std::filesystem;

namespace {

std::string safe(const char* text) { return text ? std::string(text) : std::string("(null)"); }

// Keeps `library` loaded for as long as `object` is referenced: the holder releases the object
// first (members are destroyed in reverse order), then the library.
template <typename T>
std::shared_ptr<T> tie_to_library(std::shared_ptr<T> object, std::shared_ptr<boost::dll::shared_library> library) {
  struct Holder {
    std::shared_ptr<boost::dll::shared_library> library;
    std::shared_ptr<T> object;
  };
  auto holder = std::make_shared<Holder>(Holder{std::move(library), object});
  return std::shared_ptr<T>(holder, object.get());
}

// Collects what one plugin registers, checking that it registers only its own kind; the host
// merges it into its catalogs once registration has returned.
class HostRegistrar : public Registrar {
 public:
  explicit HostRegistrar(PluginRecord& record) : record_(record) {}

  void add_model(const std::string& name, ModelFactory factory) override {
    add("model", name, std::move(factory), models);
  }
  void add_observer(const std::string& name, quant::ObserverFactory factory) override {
    add("observer", name, std::move(factory), observers);
  }
  void add_quantizer(const std::string& name, quant::QuantizerFactory factory) override {
    add("quantizer", name, std::move(factory), quantizers);
  }
  void add_pass(const std::string& name, passes::PassFactory factory) override {
    add("pass", name, std::move(factory), passes);
  }

  std::vector<std::pair<std::string, ModelFactory>> models;
  std::vector<std::pair<std::string, quant::ObserverFactory>> observers;
  std::vector<std::pair<std::string, quant::QuantizerFactory>> quantizers;
  std::vector<std::pair<std::string, passes::PassFactory>> passes;

 private:
  template <typename Factory>
  void add(const char* kind, const std::string& name, Factory factory,
           std::vector<std::pair<std::string, Factory>>& into) {
    if (record_.kind != kind) {
      fail("plugin {}: a '{}' plugin may not register {} '{}'", record_.file.string(), record_.kind, kind, name);
    }
    into.emplace_back(name, std::move(factory));
    record_.provides.push_back(name);
  }

  PluginRecord& record_;
};

template <typename Factory>
void merge(std::vector<std::pair<std::string, Factory>>& registered, PluginHost::Catalog<Factory>& catalog,
           const std::shared_ptr<boost::dll::shared_library>& library, const fs::path& file, const char* kind) {
  for (auto& [name, factory] : registered) {
    if (catalog.entries.count(name)) {
      fail("plugin {}: {} '{}' is already provided by another plugin", file.string(), kind, name);
    }
    catalog.entries[name] = {std::move(factory), library};
  }
}

}  // namespace

namespace {

bool is_identifier(const char* text) {
  if (!text || !*text) return false;
  for (const char* c = text; *c; ++c) {
    if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_')) return false;
  }
  return true;
}

// A field of a foreign record, quoted in a message: escaped and cut to a sane length.
std::string quoted(const char* text) { return printable(safe(text), 80); }

}  // namespace

std::string check_plugin_info(const PluginInfo& plugin, const std::string& file) {
  const PluginInfo host = host_plugin_info();
  if (plugin.magic != host.magic) {
    return fmt::format("plugin {}: not a qx plugin (bad magic 0x{:08x}, expected 0x{:08x})", file, plugin.magic,
                       host.magic);
  }
  if (plugin.abi_version != host.abi_version) {
    return fmt::format("plugin {}: built for qx plugin ABI {}, but this qx has plugin ABI {}; rebuild the plugin",
                       file, plugin.abi_version, host.abi_version);
  }
  if (safe(plugin.torch_version) != host.torch_version) {
    return fmt::format("plugin {}: built against LibTorch {}, but this qx uses LibTorch {}; rebuild the plugin", file,
                       quoted(plugin.torch_version), host.torch_version);
  }
  if (safe(plugin.compiler) != host.compiler) {
    return fmt::format("plugin {}: built with compiler '{}', but this qx was built with '{}'; rebuild the plugin",
                       file, quoted(plugin.compiler), host.compiler);
  }
  // Found by fuzzing the record (tests/fuzz/fuzz_plugin_info.cpp): a record that passed the
  // checks above could still carry a null or unknown kind, or no name, and was accepted.
  const std::string kind = safe(plugin.kind);
  if (kind != "model" && kind != "observer" && kind != "quantizer" && kind != "pass") {
    return fmt::format("plugin {}: unknown plugin kind '{}' (expected model, observer, quantizer or pass)", file,
                       quoted(plugin.kind));
  }
  if (!is_identifier(plugin.name)) {
    return fmt::format("plugin {}: plugin name '{}' is not a lower-case identifier ([a-z0-9_]+)", file,
                       quoted(plugin.name));
  }
  if (!plugin.version || !*plugin.version) return fmt::format("plugin {}: the info record has no version", file);
  return {};
}

PluginHost::PluginHost(fs::path directory) : directory_(std::move(directory)) {
  std::error_code error;
  if (!fs::exists(directory_, error)) {
    fail("plugin directory '{}' does not exist (set it with --plugins DIR or QX_PLUGIN_DIR)", directory_.string());
  }
  if (!fs::is_directory(directory_, error)) fail("plugin directory '{}' is not a directory", directory_.string());
  // Only this folder is searched, never the working directory or the loader's path.
  std::vector<fs::path> files;
  fs::directory_iterator entries(directory_, error);
  if (error) fail("plugin directory '{}' cannot be read: {}", directory_.string(), error.message());
  for (const auto& entry : entries) {
    const auto name = entry.path().filename().string();
    if (entry.is_regular_file() && name.rfind("libqx_", 0) == 0 && entry.path().extension() == ".so") {
      files.push_back(fs::absolute(entry.path()));
    }
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) load(file);
}

// Members go in reverse order: the factories (code in the libraries) before the libraries.
PluginHost::~PluginHost() = default;

namespace {

// "libqx_observer_mse.so" -> {"observer", "mse"}: what a file that is no plugin at all meant to
// be, so that asking for it names the file and why it was refused.
std::pair<std::string, std::string> kind_and_name_from_file(const fs::path& file) {
  const auto stem = file.stem().string().substr(std::string("libqx_").size());
  for (const char* kind : {"model", "observer", "quantizer", "pass"}) {
    const std::string prefix = std::string(kind) + "_";
    if (stem.rfind(prefix, 0) == 0) return {kind, stem.substr(prefix.size())};
  }
  return {};
}

}  // namespace

void PluginHost::load(const fs::path& file) {
  PluginRecord record;
  record.file = file;
  std::tie(record.kind, record.name) = kind_and_name_from_file(file);
  auto library = std::make_shared<boost::dll::shared_library>();
  boost::dll::fs::error_code error;
  library->load(file.string(), boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, error);
  if (error) {
    record.rejection = fmt::format("plugin {}: cannot be loaded: {}", file.string(), error.message());
    records_.push_back(std::move(record));
    return;
  }
  if (!library->has("qx_plugin_info") || !library->has("qx_plugin_register")) {
    record.rejection = fmt::format("plugin {}: missing entry point qx_plugin_info or qx_plugin_register", file.string());
    records_.push_back(std::move(record));
    return;
  }
  const PluginInfo* info = library->get_alias<PluginInfoFunction>("qx_plugin_info")();
  record.rejection = check_plugin_info(*info, file.string());
  if (info->magic == QX_PLUGIN_MAGIC) {
    // Kind, name and version are read only once the magic says the record is ours.
    record.kind = safe(info->kind);
    record.name = safe(info->name);
    record.version = safe(info->version);
  }
  if (!record.accepted()) {
    records_.push_back(std::move(record));
    return;
  }
  HostRegistrar registrar(record);
  try {
    library->get_alias<PluginRegisterFunction>("qx_plugin_register")(registrar);
  } catch (const std::exception& e) {
    fail("plugin {}: qx_plugin_register failed: {}", file.string(), e.what());
  }
  merge(registrar.models, models_, library, file, "model");
  merge(registrar.observers, observers_, library, file, "observer");
  merge(registrar.quantizers, quantizers_, library, file, "quantizer");
  merge(registrar.passes, passes_, library, file, "pass");
  libraries_.push_back(library);
  records_.push_back(std::move(record));
}

template <typename Factory>
const typename PluginHost::Catalog<Factory>::Entry& PluginHost::find(const Catalog<Factory>& catalog,
                                                                     const std::string& kind,
                                                                     const std::string& name) const {
  auto it = catalog.entries.find(name);
  if (it != catalog.entries.end()) return it->second;
  for (const auto& record : records_) {
    if (!record.accepted() && record.kind == kind && record.name == name) throw Error(record.rejection);
  }
  const auto known = catalog.names();
  fail("unknown {} plugin '{}' (found in {}: {})", kind, name, directory_.string(),
       known.empty() ? std::string("none") : fmt::format("{}", fmt::join(known, ", ")));
}

template <typename Factory, typename... Args>
auto PluginHost::create(const Catalog<Factory>& catalog, const std::string& kind, const std::string& name,
                        const Options& options, Args&&... args) const {
  const auto& entry = find(catalog, kind, name);
  using Object = typename decltype(entry.factory(options, args...))::element_type;  // unique or shared
  std::shared_ptr<Object> object = entry.factory(options, std::forward<Args>(args)...);
  options.check_all_used();
  if (!object) fail("{} plugin '{}' returned no {}", kind, name, kind);
  return tie_to_library(std::move(object), entry.library);
}

std::shared_ptr<QuantizableModel> PluginHost::create_model(const std::string& name, const Options& options) const {
  auto model = create(models_, "model", name, options);
  nn::check_model_contract(*model, name);
  return model;
}

std::shared_ptr<quant::Observer> PluginHost::create_observer(const std::string& name, const Options& options,
                                                             const quant::ObserverContext& context) const {
  return create(observers_, "observer", name, options, context);
}

std::shared_ptr<quant::Quantizer> PluginHost::create_quantizer(const std::string& name, const Options& options) const {
  return create(quantizers_, "quantizer", name, options);
}

std::shared_ptr<passes::Pass> PluginHost::create_pass(const std::string& name, const Options& options) const {
  return create(passes_, "pass", name, options);
}

std::string PluginHost::plugin_version(const std::string& kind, const std::string& name) const {
  for (const auto& record : records_) {
    if (record.accepted() && record.kind == kind &&
        std::find(record.provides.begin(), record.provides.end(), name) != record.provides.end()) {
      return record.version;
    }
  }
  return {};
}

fs::path resolve_plugin_dir(const std::string& from_cli, const std::string& from_experiment) {
  if (!from_cli.empty()) return from_cli;
  if (const char* env = std::getenv("QX_PLUGIN_DIR"); env && *env) return env;
  if (!from_experiment.empty()) return from_experiment;
  // An installed qx (<prefix>/bin/qx) uses the plugins installed with it; a qx in its build tree,
  // that tree's. The program's own path decides, never the working directory.
  std::error_code error;
  const fs::path program = fs::read_symlink("/proc/self/exe", error);
  if (!error && program.filename() == "qx") {
    const fs::path installed = program.parent_path().parent_path() / QX_INSTALLED_PLUGIN_DIR;
    if (fs::is_directory(installed, error)) return installed;
  }
  return QX_DEFAULT_PLUGIN_DIR;
}

}  // namespace qx
