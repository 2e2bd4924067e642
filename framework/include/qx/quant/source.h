#pragma once
// What provides the observers and quantizers a cell names. The simulation asks for them through
// this interface and never sees where they come from: the plugin host implements it from its
// libraries, and a test may implement it directly.
#include <memory>
#include <string>

#include "qx/core/options.h"
#include "qx/quant/observer.h"
#include "qx/quant/quantizer.h"

namespace qx::quant {

class ObserverQuantizerSource {
 public:
  virtual ~ObserverQuantizerSource() = default;
  virtual std::shared_ptr<Observer> create_observer(const std::string& name, const Options& options,
                                                    const ObserverContext& context) const = 0;
  virtual std::shared_ptr<Quantizer> create_quantizer(const std::string& name, const Options& options) const = 0;
};

}  // namespace qx::quant
