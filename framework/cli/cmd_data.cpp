#include <iostream>

#include <spdlog/spdlog.h>

#include "commands.h"
#include "qx/data/cifar10.h"
#include "qx/data/fetch.h"

namespace qx::cli {

void add_data_command(CLI::App& app) {
  auto* data = app.add_subcommand("data", "download and check CIFAR-10");
  data->require_subcommand(1);

  auto* fetch = data->add_subcommand("fetch", "download the official CIFAR-10 binary archive, verify its MD5, unpack");
  auto request = std::make_shared<data::FetchRequest>();
  fetch->add_option("--dir", request->dir, "parent folder of cifar-10-batches-bin/")->capture_default_str();
  fetch->add_option("--url", request->url, "archive URL (a mirror, or file:// for a local copy)")
      ->capture_default_str();
  fetch->add_option("--md5", request->md5, "expected MD5 of the archive")->capture_default_str();
  fetch->callback([request] { data::fetch_cifar10(*request); });

  auto* check = data->add_subcommand("check", "validate a CIFAR-10 binary folder (sizes, labels)");
  auto dir = std::make_shared<std::string>();
  check->add_option("--data", *dir, "the folder holding data_batch_*.bin and test_batch.bin");
  check->callback([dir] {
    const auto folder = data::resolve_data_dir(*dir, "");
    const auto train = data::load_cifar10(folder, data::Split::kTrain);
    const auto test = data::load_cifar10(folder, data::Split::kTest);
    std::cout << fmt::format("{}: {} training and {} test images, labels 0-9, all files {} bytes\n", folder.string(),
                             train.size(), test.size(), data::kCifarFileBytes);
  });
}

}  // namespace qx::cli
