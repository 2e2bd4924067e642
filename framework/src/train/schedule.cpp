#include "qx/train/schedule.h"

#include <cmath>

namespace qx::train {

double cosine_annealing(double step, double steps) { return 0.5 * (1.0 + std::cos(M_PI * step / steps)); }

LrSchedule::LrSchedule(const config::ScheduleConfig& config, double peak_lr, std::int64_t epochs,
                       std::int64_t iterations_per_epoch)
    : config_(config),
      peak_lr_(peak_lr),
      iterations_per_epoch_(iterations_per_epoch),
      total_iterations_(epochs * iterations_per_epoch),
      warmup_iterations_(static_cast<std::int64_t>(std::llround(config.warmup_epochs * iterations_per_epoch))) {}

double LrSchedule::at(std::int64_t iteration) const {
  // Warm-up ends exactly at the peak: iteration w-1 uses peak * w / w.
  if (iteration < warmup_iterations_) {
    return peak_lr_ * static_cast<double>(iteration + 1) / static_cast<double>(warmup_iterations_);
  }
  if (config_.kind == "cosine") {
    const double span = static_cast<double>(total_iterations_ - warmup_iterations_);
    return span > 0 ? peak_lr_ * cosine_annealing(static_cast<double>(iteration - warmup_iterations_), span) : 0.0;
  }
  double lr = peak_lr_;
  const std::int64_t epoch = iteration / iterations_per_epoch_;
  for (const auto milestone : config_.milestones) {
    if (epoch >= milestone) lr *= config_.gamma;
  }
  return lr;
}

}  // namespace qx::train
