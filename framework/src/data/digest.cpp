#include "qx/data/digest.h"

#include <fstream>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "qx/core/error.h"

#ifdef QX_HAVE_OPENSSL
#include <openssl/evp.h>
#endif

namespace qx::data {

#ifdef QX_HAVE_OPENSSL
std::string file_digest(const std::filesystem::path& file, DigestKind kind) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot read {}", file.string());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(context.get(), kind == DigestKind::kMd5 ? EVP_md5() : EVP_sha256(), nullptr);
  std::vector<char> buffer(1 << 16);
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
    EVP_DigestUpdate(context.get(), buffer.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) fail("cannot read {}: I/O error", file.string());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context.get(), digest, &length);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}
#else
std::string file_digest(const std::filesystem::path& file, DigestKind) {
  fail("cannot checksum {}: this qx was built without OpenSSL", file.string());
}
#endif

}  // namespace qx::data
