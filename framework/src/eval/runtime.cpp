#include "qx/eval/runtime.h"

#include <malloc.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

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

std::string describe_machine() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, model = "unknown CPU";
  std::set<std::string> flags;
  while (std::getline(cpuinfo, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto key = line.substr(0, colon);
    key.erase(key.find_last_not_of(" \t") + 1);
    const auto value = colon + 2 <= line.size() ? line.substr(colon + 2) : std::string();
    if (key == "model name" && model == "unknown CPU") model = value;
    if (key == "flags" && flags.empty()) {
      std::istringstream words(value);
      for (std::string flag; words >> flag;) flags.insert(flag);
    }
  }
  std::vector<std::string> present, absent;
  for (const char* flag : {"avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile"}) {
    (flags.count(flag) ? present : absent).push_back(flag);
  }
  return fmt::format("{}, {} cores, {}{}{}", model, std::max(1u, std::thread::hardware_concurrency()),
                     fmt::join(present, " "), absent.empty() ? "" : "; no ", fmt::join(absent, " "));
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
