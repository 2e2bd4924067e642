#include "qx/core/runtime.h"

#include <malloc.h>

#include <thread>

#include "qx/core/error.h"

namespace qx {

int configure_threads(std::int64_t requested) {
  const int threads = requested > 0 ? static_cast<int>(requested)
                                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  return threads;
}

void configure_allocator() {
  constexpr int kMmapThreshold = 32 << 20;  // glibc's maximum on 64-bit
  constexpr int kTrimThreshold = 512 << 20;
  mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
}

torch::Device parse_device(const std::string& name) {
  if (name != "cpu" && name.rfind("cuda", 0) != 0) fail("unknown device '{}' (use cpu, cuda or cuda:N)", name);
  torch::Device device = torch::kCPU;
  try {
    device = torch::Device(name);
  } catch (const c10::Error&) {
    fail("unknown device '{}' (use cpu, cuda or cuda:N)", name);
  }
  if (device.is_cuda()) {
    if (!torch::cuda::is_available()) fail("device '{}' requested but CUDA is not available", name);
    at::globalContext().setDeterministicCuDNN(true);
    at::globalContext().setBenchmarkCuDNN(false);
  }
  return device;
}

}  // namespace qx
