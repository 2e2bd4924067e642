#pragma once
// The one clock of qx's timings: progress lines, ETAs and the database's seconds columns. Steady,
// so a wall-clock step (NTP, a suspended VM) never makes a duration negative.
#include <chrono>

namespace qx {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace qx
