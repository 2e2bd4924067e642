#pragma once
// Observers: the statistics half of quantization. An observer watches the stream of tensors that
// pass one quantization point (a weight once, or an activation over calibration batches) and,
// asked for a target grid, answers with the clipping range to quantize to. Turning that range
// into scale and zero point is the quantizer's job (quant/grid.h), not the observer's.
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include <torch/torch.h>

#include "qx/core/options.h"
#include "qx/quant/grid.h"
#include "qx/quant/qparams.h"

namespace qx::quant {

struct ObserverContext {
  // Per-channel statistics along this axis when >= 0 (weights), per-tensor otherwise.
  std::int64_t axis = -1;
  std::string point;  // the quantization point's name, for error messages
};

struct Range {
  torch::Tensor min;  // [] per tensor, [channels] per channel
  torch::Tensor max;
};

class Observer {
 public:
  virtual ~Observer() = default;
  virtual void observe(const torch::Tensor& x) = 0;
  // The range for `grid`. Histogram-based observers answer every bit width from one pass, and
  // score candidate ranges with grid.qparams(), the quantizer's own arithmetic.
  // Throws qx::Error naming the point when nothing was observed.
  virtual Range range(const Grid& grid) const = 0;
  virtual void reset() = 0;
};

using ObserverFactory = std::function<std::unique_ptr<Observer>(const Options&, const ObserverContext&)>;

// Fails unless the observer kept per-channel statistics exactly when `spec` asks for them.
void check_target(const ObserverContext& context, const QuantSpec& spec, const std::string& observer);

// Per-tensor or per-channel (along `axis`) minimum and maximum of one tensor.
Range tensor_min_max(const torch::Tensor& x, std::int64_t axis);

}  // namespace qx::quant
