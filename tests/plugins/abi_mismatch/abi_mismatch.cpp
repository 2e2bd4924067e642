// A deliberately incompatible plugin: it claims a qx plugin ABI one newer than the host's.
// The host must refuse it before calling qx_plugin_register, which would otherwise register a
// model the tests could see.
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"

static const qx::PluginInfo* mismatched_info() {
  static const qx::PluginInfo info{QX_PLUGIN_MAGIC, QX_PLUGIN_ABI_VERSION + 1, TORCH_VERSION, QX_COMPILER_TAG,
                                   "model",         "abi_mismatch",            "0.0.1"};
  return &info;
}

static void register_anyway(qx::Registrar& registrar) {
  registrar.add_model("abi_mismatch", [](const qx::Options&) -> std::shared_ptr<qx::QuantizableModel> {
    return nullptr;
  });
}

BOOST_DLL_ALIAS(mismatched_info, qx_plugin_info)
BOOST_DLL_ALIAS(register_anyway, qx_plugin_register)
