#include "qx/data/fetch.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>

#include <unistd.h>

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

// The download's progress on stderr: a bar redrawn at most five times a second on a terminal; in
// a log (CI, nohup) a line at each tenth, so that the log stays short.
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled), terminal_(isatty(STDERR_FILENO) == 1) {}
  ~ProgressBar() {
    if (drawn_ && terminal_) std::fputc('\n', stderr);
  }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  static int on_transfer(void* self, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
    static_cast<ProgressBar*>(self)->update(static_cast<double>(total), static_cast<double>(now));
    return 0;  // non-zero would abort the transfer
  }

 private:
  void update(double total, double now) {
    if (!enabled_ || total <= 0) return;
    const auto clock = std::chrono::steady_clock::now();
    const double fraction = std::min(1.0, now / total);
    const int tenth = static_cast<int>(fraction * 10);
    if (terminal_) {
      if (drawn_ && fraction < 1.0 && clock - last_ < std::chrono::milliseconds(200)) return;
    } else if (tenth <= last_tenth_) {
      return;
    }
    last_ = clock;
    last_tenth_ = tenth;
    drawn_ = true;
    const double seconds = std::chrono::duration<double>(clock - start_).count();
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    const std::string bar = std::string(static_cast<std::size_t>(filled), '#') +
                            std::string(static_cast<std::size_t>(kWidth - filled), ' ');
    std::fprintf(stderr, "%s[%s] %3.0f%%  %.1f / %.1f MiB  %.1f MiB/s%s", terminal_ ? "\r" : "", bar.c_str(),
                 100 * fraction, now / (1 << 20), total / (1 << 20), seconds > 0 ? now / (1 << 20) / seconds : 0.0,
                 terminal_ ? "" : "\n");
    std::fflush(stderr);
  }

  bool enabled_, terminal_;
  bool drawn_ = false;
  int last_tenth_ = -1;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_ = start_;
};

void download(const std::string& url, const fs::path& file, bool progress) {
  std::ofstream out(file, std::ios::binary);
  if (!out) fail("cannot write {}", file.string());
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) fail("libcurl did not initialise");
  ProgressBar bar(progress);
  char error_text[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, 30L);
  // A stalled transfer (under 1 kB/s for a minute) ends instead of hanging the main job.
  curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, write_to_stream);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &out);
  curl_easy_setopt(curl.get(), CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl.get(), CURLOPT_XFERINFOFUNCTION, &ProgressBar::on_transfer);
  curl_easy_setopt(curl.get(), CURLOPT_XFERINFODATA, &bar);
  const CURLcode code = curl_easy_perform(curl.get());
  if (code != CURLE_OK) {
    const std::string reason = error_text[0] ? error_text : curl_easy_strerror(code);
    if (code == CURLE_PARTIAL_FILE) fail("the download was truncated ({})", reason);
    fail("the source cannot be read ({})", reason);
  }
}

// libarchive may have no message for a failure.
std::string reason(archive* reader) {
  const char* text = archive_error_string(reader);
  return text ? text : "no reason given";
}

void extract(const fs::path& archive_file, const fs::path& into) {
  std::unique_ptr<archive, decltype(&archive_read_free)> reader(archive_read_new(), archive_read_free);
  archive_read_support_filter_gzip(reader.get());
  archive_read_support_format_tar(reader.get());
  if (archive_read_open_filename(reader.get(), archive_file.c_str(), 1 << 16) != ARCHIVE_OK) {
    fail("the archive is not a readable tar.gz ({})", reason(reader.get()));
  }
  archive_entry* entry = nullptr;
  int status;
  while ((status = archive_read_next_header(reader.get(), &entry)) == ARCHIVE_OK) {
    const fs::path relative = fs::path(archive_entry_pathname(entry)).lexically_normal();
    if (relative.is_absolute() || relative.string().rfind("..", 0) == 0) {
      fail("the archive has an entry outside its folder, refused: {}", relative.string());
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
      fail("the archive is corrupt: extracting {} failed ({})", relative.string(), reason(reader.get()));
    }
  }
  if (status != ARCHIVE_EOF) fail("the archive is corrupt ({})", reason(reader.get()));
}

}  // namespace

fs::path fetch_cifar10(const FetchRequest& request) {
  const fs::path destination = request.dir / kCifarFolder;
  if (fs::exists(destination)) {
    fail("{} already exists; remove it to fetch again", destination.string());
  }
  // A parent folder this fetch creates goes again if the fetch fails.
  std::error_code ignored;
  const bool created_parent = !fs::exists(request.dir, ignored);
  try {
    fs::create_directories(request.dir);
    const std::string suffix = fmt::format(".partial-{:08x}", std::random_device{}());
    StagingDir staging(request.dir / (std::string(kCifarFolder) + suffix));

    const fs::path archive_file = staging.path() / "cifar-10-binary.tar.gz";
    spdlog::info("downloading {}", request.url);
    download(request.url, archive_file, request.progress);
    const std::string md5 = file_digest(archive_file, DigestKind::kMd5);
    if (md5 != request.md5) {
      fail("checksum mismatch: the archive's MD5 is {}, expected {} (a truncated or altered copy?)", md5, request.md5);
    }
    const fs::path unpacked = staging.path() / "unpacked";
    extract(archive_file, unpacked);
    const fs::path folder = unpacked / kCifarFolder;
    if (!fs::is_directory(folder)) fail("the archive holds no {}/ folder", kCifarFolder);
    load_cifar10(folder, Split::kTrain);  // validates sizes and labels
    load_cifar10(folder, Split::kTest);
    fs::rename(folder, destination);
    spdlog::info("CIFAR-10 verified (MD5 {}) and unpacked to {}", md5, destination.string());
    return destination;  // staging (the archive and leftovers) is removed on scope exit
  } catch (const std::exception& e) {
    if (created_parent) fs::remove_all(request.dir, ignored);
    fail("fetching CIFAR-10 from {} failed: {}; give the data with --data DIR or QX_DATA_DIR, or a mirror with "
         "`qx data fetch --url URL --md5 MD5` (or QX_DATA_URL and QX_DATA_MD5)",
         request.url, e.what());
  }
}

}  // namespace qx::data
