// `qx data fetch` in a build configured with -DQX_WITH_DOWNLOAD=OFF (no libcurl, libarchive or
// OpenSSL on that machine): the command exists and says why it cannot run.
#include "qx/core/error.h"
#include "qx/data/fetch.h"

namespace qx::data {

namespace {
[[noreturn]] void unavailable() {
  fail("this qx was built without download support (-DQX_WITH_DOWNLOAD=OFF); fetch {} elsewhere and pass --data",
       kCifarUrl);
}
}  // namespace

std::filesystem::path fetch_cifar10(const FetchRequest&) { unavailable(); }

}  // namespace qx::data
