#pragma once
// The boundary between qx and its plugins.
//
// Every plugin exports two entry points through Boost.DLL aliases:
//   qx_plugin_info      -> const qx::PluginInfo*   plain data the host reads before anything else
//   qx_plugin_register  -> void(qx::Registrar&)    called only once the info has been accepted
//
// Plugins exchange torch::Tensor and std::function with the host, which is a C++ ABI, so the host
// demands an exact match of the qx plugin ABI, the LibTorch version and the compiler tag, and names
// both values when one differs. `magic` and `abi_version` lead the record and never move, so even
// a plugin built against a different layout can be recognised and refused in plain words.
#include <cstdint>

#include <boost/config.hpp>
#include <boost/dll/alias.hpp>
#include <torch/version.h>

// Bump whenever PluginInfo, Registrar or anything a plugin links against changes incompatibly.
#define QX_PLUGIN_ABI_VERSION 8u
#define QX_PLUGIN_MAGIC 0x4C505851u  // "QXPL", little-endian

#define QX_STRINGIFY_IMPL(x) #x
#define QX_STRINGIFY(x) QX_STRINGIFY_IMPL(x)

#if defined(__clang__)
#define QX_COMPILER_TAG "clang-" __clang_version__ " cxx11abi=" QX_STRINGIFY(_GLIBCXX_USE_CXX11_ABI)
#elif defined(__GNUC__)
#define QX_COMPILER_TAG "gcc-" __VERSION__ " cxx11abi=" QX_STRINGIFY(_GLIBCXX_USE_CXX11_ABI)
#else
#define QX_COMPILER_TAG "unknown"
#endif

namespace qx {

class Registrar;

struct PluginInfo {
  std::uint32_t magic;        // QX_PLUGIN_MAGIC
  std::uint32_t abi_version;  // QX_PLUGIN_ABI_VERSION the plugin was compiled with
  const char* torch_version;  // TORCH_VERSION the plugin was compiled with
  const char* compiler;       // QX_COMPILER_TAG the plugin was compiled with
  const char* kind;           // "model", "observer", "quantizer", "pass"
  const char* name;           // unique within its kind
  const char* version;        // the plugin's own version
};

// What this qx binary expects; the host compares every plugin against it.
inline PluginInfo host_plugin_info() {
  return PluginInfo{QX_PLUGIN_MAGIC, QX_PLUGIN_ABI_VERSION, TORCH_VERSION, QX_COMPILER_TAG, "", "", ""};
}

using PluginInfoFunction = const PluginInfo*();
using PluginRegisterFunction = void(Registrar&);

}  // namespace qx

// Declares a plugin. Follow it with the body of its registration function:
//
//   QX_PLUGIN(model, resnet20, "1.0.0", registrar) {
//     registrar.add_model("resnet20", ...);
//   }
#define QX_PLUGIN(kind_, name_, version_, registrar_)                                       \
  static const qx::PluginInfo* qx_plugin_info_impl() {                                      \
    static const qx::PluginInfo info{QX_PLUGIN_MAGIC, QX_PLUGIN_ABI_VERSION, TORCH_VERSION, \
                                     QX_COMPILER_TAG, #kind_, #name_, version_};            \
    return &info;                                                                           \
  }                                                                                         \
  static void qx_plugin_register_impl(qx::Registrar& registrar_);                           \
  BOOST_DLL_ALIAS(qx_plugin_info_impl, qx_plugin_info)                                      \
  BOOST_DLL_ALIAS(qx_plugin_register_impl, qx_plugin_register)                              \
  void qx_plugin_register_impl(qx::Registrar& registrar_)
