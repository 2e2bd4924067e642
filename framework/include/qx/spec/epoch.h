#pragma once
// One training epoch's figures as plain numbers: the trainer produces them and the store keeps
// them (the runs' train_epochs table), neither knowing the other.
#include <cstdint>

namespace qx::spec {

struct EpochRecord {
  std::int64_t epoch = 0;  // 1-based
  double train_loss = 0, train_top1 = 0;
  double test_loss = 0, test_top1 = 0, test_top5 = 0;
  double lr = 0;  // learning rate at the epoch's last iteration
  double seconds = 0, data_seconds = 0, images_per_second = 0;
};

}  // namespace qx::spec
