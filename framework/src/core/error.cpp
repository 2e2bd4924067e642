#include "qx/core/error.h"

#include "qx/core/text.h"

namespace qx {

// One line by construction: a message that carries outside text (a parser's description of the
// offending bytes, a plugin's strings) has its control characters escaped here.
Error::Error(const std::string& message) : std::runtime_error(printable(message)) {}

Error::~Error() = default;

}  // namespace qx
