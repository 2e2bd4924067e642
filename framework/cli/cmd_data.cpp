#include <iostream>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "qx/data/cifar10.h"
#include "qx/data/fetch.h"
#include "qx/data/verify.h"

namespace qx::cli {

void add_data_command(CLI::App& app) {
  auto* data = app.add_subcommand("data", "download and check CIFAR-10");
  data->require_subcommand(1);

  auto* fetch = data->add_subcommand("fetch", "download the official CIFAR-10 binary archive, verify its MD5, unpack");
  auto request = std::make_shared<data::FetchRequest>(data::fetch_request_from_environment());
  fetch->add_option("--dir", request->dir, "parent folder of cifar-10-batches-bin/")->capture_default_str();
  fetch->add_option("--url", request->url, "archive URL (a mirror, or file:// for a local copy; default $QX_DATA_URL)")
      ->capture_default_str();
  fetch->add_option("--md5", request->md5, "expected MD5 of the archive (default $QX_DATA_MD5)")->capture_default_str();
  auto quiet = std::make_shared<bool>(false);
  fetch->add_flag("--quiet", *quiet, "no progress bar");
  fetch->callback([request, quiet] {
    request->progress = !*quiet;
    data::fetch_cifar10(*request);
  });

  auto* where = data->add_subcommand(
      "where", "print the CIFAR-10 folder the other commands would use (--data, $QX_DATA_DIR, then the default places)");
  auto where_dir = std::make_shared<std::string>();
  where->add_option("--data", *where_dir, "a folder given as the other commands take it");
  where->callback([where_dir] {
    const auto folder = data::resolve_data_dir(*where_dir, "");
    data::load_cifar10(folder, data::Split::kTest);  // exists and reads, or the one-line reason
    std::cout << folder.string() << "\n";
  });

  auto* verify = data->add_subcommand(
      "verify", "check a CIFAR-10 binary folder: layout, sizes, labels, class balance, and SHA256SUMS when present");
  verify->alias("check");
  auto dir = std::make_shared<std::string>();
  auto dir_option = std::make_shared<std::string>();
  verify->add_option("dir", *dir, "the folder holding data_batch_*.bin and test_batch.bin (default: --data, $QX_DATA_DIR)");
  verify->add_option("--data", *dir_option, "the same folder, as the other commands take it");
  verify->callback([dir, dir_option] {
    const auto folder = data::resolve_data_dir(dir->empty() ? *dir_option : *dir, "");
    const auto report = data::verify_cifar10(folder);
    std::cout << fmt::format("{}: {} training and {} test images in 6 files of {} bytes, labels 0-9, {} and {} per class\n",
                             folder.string(), report.train.images, report.test.images, data::kCifarFileBytes,
                             report.train.per_class[0], report.test.per_class[0]);
    if (report.checksummed.empty()) {
      std::cout << fmt::format("{}: no {} in the folder; checksums not checked\n", folder.string(), data::kChecksumFile);
    } else {
      std::cout << fmt::format("{}: SHA-256 of {} files match {} ({})\n", folder.string(), report.checksummed.size(),
                               data::kChecksumFile, fmt::join(report.checksummed, ", "));
    }
  });
}

}  // namespace qx::cli
