#pragma once
// What a plugin's registration function receives. The plugin adds factories through it and
// never touches host globals. A new plugin kind (quantizer, pass) adds a method here and bumps
// QX_PLUGIN_ABI_VERSION. A plugin may register only its own kind.
//
// The kinds' interfaces are only declared here, so that a plugin includes this boundary and its
// own kind's header, not every kind's. The factory types repeat the kinds' own declarations
// (quant/observer.h, quant/quantizer.h, passes/pass.h); C++ allows an alias to be redeclared to
// the same type, and a mismatch would not compile.
#include <functional>
#include <memory>
#include <string>

#include "qx/core/options.h"

namespace qx {
class QuantizableModel;
}
namespace qx::quant {
class Observer;
struct ObserverContext;
class Quantizer;
using ObserverFactory = std::function<std::unique_ptr<Observer>(const Options&, const ObserverContext&)>;
using QuantizerFactory = std::function<std::unique_ptr<Quantizer>(const Options&)>;
}  // namespace qx::quant
namespace qx::passes {
class Pass;
using PassFactory = std::function<std::unique_ptr<Pass>(const Options&)>;
}  // namespace qx::passes

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
