#include "qx/data/fetch.h"

#include <cstdio>
#include <fstream>
#include <memory>
#include <random>

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include "qx/core/error.h"
#include "qx/data/cifar10.h"
#include "qx/data/digest.h"

namespace qx::data {
namespace fs = std::filesystem;

namespace {

// Removes the staging folder unless the fetch succeeded and released it.
class StagingDir {
 public:
  explicit StagingDir(fs::path path) : path_(std::move(path)) { fs::create_directories(path_); }
  ~StagingDir() {
    std::error_code ignored;
    if (!released_) fs::remove_all(path_, ignored);
  }
  StagingDir(const StagingDir&) = delete;
  StagingDir& operator=(const StagingDir&) = delete;
  const fs::path& path() const { return path_; }
  void release() { released_ = true; }

 private:
  fs::path path_;
  bool released_ = false;
};

size_t write_to_stream(char* data, size_t size, size_t count, void* stream) {
  auto* out = static_cast<std::ofstream*>(stream);
  out->write(data, static_cast<std::streamsize>(size * count));
  return out->good() ? size * count : 0;
}

void download(const std::string& url, const fs::path& file) {
  std::ofstream out(file, std::ios::binary);
  if (!out) fail("cannot write {}", file.string());
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) fail("download of {} failed: libcurl did not initialise", url);
  char error_text[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, write_to_stream);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &out);
  const CURLcode code = curl_easy_perform(curl.get());
  if (code != CURLE_OK) {
    fail("download of {} failed: {}", url, error_text[0] ? error_text : curl_easy_strerror(code));
  }
}

void extract(const fs::path& archive_file, const fs::path& into) {
  std::unique_ptr<archive, decltype(&archive_read_free)> reader(archive_read_new(), archive_read_free);
  archive_read_support_filter_gzip(reader.get());
  archive_read_support_format_tar(reader.get());
  if (archive_read_open_filename(reader.get(), archive_file.c_str(), 1 << 16) != ARCHIVE_OK) {
    fail("{}: not a readable tar.gz: {}", archive_file.string(), archive_error_string(reader.get()));
  }
  archive_entry* entry = nullptr;
  int status;
  while ((status = archive_read_next_header(reader.get(), &entry)) == ARCHIVE_OK) {
    const fs::path relative = fs::path(archive_entry_pathname(entry)).lexically_normal();
    if (relative.is_absolute() || relative.string().rfind("..", 0) == 0) {
      fail("{}: refusing archive entry outside the target: {}", archive_file.string(), relative.string());
    }
    const fs::path target = into / relative;
    if (archive_entry_filetype(entry) == AE_IFDIR) {
      fs::create_directories(target);
      continue;
    }
    fs::create_directories(target.parent_path());
    std::ofstream out(target, std::ios::binary);
    const void* block;
    size_t size;
    la_int64_t offset;
    int read_status;
    while ((read_status = archive_read_data_block(reader.get(), &block, &size, &offset)) == ARCHIVE_OK) {
      out.write(static_cast<const char*>(block), static_cast<std::streamsize>(size));
    }
    if (read_status != ARCHIVE_EOF || !out) {
      fail("{}: extracting {} failed: {}", archive_file.string(), relative.string(), archive_error_string(reader.get()));
    }
  }
  if (status != ARCHIVE_EOF) fail("{}: corrupt archive: {}", archive_file.string(), archive_error_string(reader.get()));
}

}  // namespace

fs::path fetch_cifar10(const FetchRequest& request) {
  const fs::path destination = request.dir / kCifarFolder;
  if (fs::exists(destination)) {
    fail("{} already exists; remove it to fetch again", destination.string());
  }
  fs::create_directories(request.dir);
  const std::string suffix = fmt::format(".partial-{:08x}", std::random_device{}());
  StagingDir staging(request.dir / (std::string(kCifarFolder) + suffix));

  const fs::path archive_file = staging.path() / "cifar-10-binary.tar.gz";
  spdlog::info("downloading {}", request.url);
  download(request.url, archive_file);
  const std::string md5 = file_digest(archive_file, DigestKind::kMd5);
  if (md5 != request.md5) {
    fail("checksum mismatch for {}: MD5 {} but expected {}", request.url, md5, request.md5);
  }
  const fs::path unpacked = staging.path() / "unpacked";
  extract(archive_file, unpacked);
  const fs::path folder = unpacked / kCifarFolder;
  load_cifar10(folder, Split::kTrain);  // validates sizes and labels
  load_cifar10(folder, Split::kTest);
  fs::rename(folder, destination);
  spdlog::info("CIFAR-10 verified (MD5 {}) and unpacked to {}", md5, destination.string());
  return destination;  // staging (the archive and leftovers) is removed on scope exit
}

}  // namespace qx::data
