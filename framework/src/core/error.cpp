#include "qx/core/error.h"

namespace qx {

Error::Error(const std::string& message) : std::runtime_error(message) {}

Error::~Error() = default;

}  // namespace qx
