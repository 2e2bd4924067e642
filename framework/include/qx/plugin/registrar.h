#pragma once
// What a plugin's registration function receives. The plugin adds factories through it and
// never touches host globals. A new plugin kind (quantizer, pass) adds a method here and bumps
// QX_PLUGIN_ABI_VERSION. A plugin may register only its own kind.
#include <functional>
#include <memory>
#include <string>

#include "qx/core/options.h"
#include "qx/nn/model.h"
#include "qx/passes/pass.h"
#include "qx/quant/observer.h"
#include "qx/quant/quantizer.h"

namespace qx {

using ModelFactory = std::function<std::shared_ptr<QuantizableModel>(const Options&)>;

class Registrar {
 public:
  virtual ~Registrar() = default;
  virtual void add_model(const std::string& name, ModelFactory factory) = 0;
  virtual void add_observer(const std::string& name, quant::ObserverFactory factory) = 0;
  virtual void add_quantizer(const std::string& name, quant::QuantizerFactory factory) = 0;
  virtual void add_pass(const std::string& name, passes::PassFactory factory) = 0;
};

}  // namespace qx
