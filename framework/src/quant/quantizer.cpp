#include "qx/quant/quantizer.h"

namespace qx::quant {

const char* role_name(TensorRole role) { return role == TensorRole::kWeight ? "weight" : "activation"; }

}  // namespace qx::quant
