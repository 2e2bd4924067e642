#pragma once
// Learning rate as a function of the global iteration, so that a resumed run lands on exactly
// the value an uninterrupted run would have used.
#include <cstdint>

#include "qx/config/train_config.h"

namespace qx::train {

// The cosine schedule's fraction of the peak rate after `step` of `steps`: 1 at the start, 0 at
// the end (Loshchilov and Hutter 2017). The trainer, LSQ and the reconstruction passes all
// anneal with it.
double cosine_annealing(double step, double steps);

class LrSchedule {
 public:
  LrSchedule(const config::ScheduleConfig& config, double peak_lr, std::int64_t epochs,
             std::int64_t iterations_per_epoch);
  double at(std::int64_t iteration) const;

 private:
  config::ScheduleConfig config_;
  double peak_lr_;
  std::int64_t iterations_per_epoch_;
  std::int64_t total_iterations_;
  std::int64_t warmup_iterations_;
};

}  // namespace qx::train
