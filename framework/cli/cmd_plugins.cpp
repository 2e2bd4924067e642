#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.h"
#include "qx/host/plugin_host.h"

namespace qx::cli {

void add_plugins_command(CLI::App& app, const GlobalOptions& global) {
  auto* command = app.add_subcommand("plugins", "list the plugins found, and why any was refused");
  command->callback([&global] {
    PluginHost host(resolve_plugin_dir(global.plugin_dir, ""));
    std::cout << fmt::format("plugins in {}\n", host.directory().string());
    std::cout << fmt::format("{:<10} {:<16} {:<9} {:<22} {}\n", "KIND", "NAME", "VERSION", "PROVIDES", "FILE");
    for (const auto& plugin : host.plugins()) {
      std::cout << fmt::format("{:<10} {:<16} {:<9} {:<22} {}\n", plugin.kind.empty() ? "?" : plugin.kind,
                               plugin.name.empty() ? "?" : plugin.name, plugin.version.empty() ? "?" : plugin.version,
                               plugin.accepted() ? fmt::format("{}", fmt::join(plugin.provides, ", ")) : "REFUSED",
                               plugin.file.filename().string());
      if (!plugin.accepted()) std::cout << "    " << plugin.rejection << '\n';
    }
  });
}

}  // namespace qx::cli
