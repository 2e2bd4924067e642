#pragma once
// BatchNorm folding, a model transform: for every (conv, bn) pair the model names,
//   w' = w * g / sqrt(var + eps),   b' = beta - mean * g / sqrt(var + eps)
// The folded weights go into the convolution; the BatchNorm becomes "add b'" (g = 1,
// beta = b', mean = 0, var = 1 - eps), so the graph and all names stay as they are.
// Valid in eval mode, where BatchNorm uses its running statistics.
#include "qx/nn/model.h"

namespace qx {

void fold_batch_norms(QuantizableModel& model);

}  // namespace qx
