// The CIFAR-10 batch reader. The first byte picks how many records the file must hold (0-3), the
// rest is the file, read through the function `qx train`, `qx run` and `qx data verify` use.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_support.h"
#include "qx/data/cifar10.h"

namespace {

void write_seeds(const std::filesystem::path& dir) {
  for (std::uint8_t records = 1; records <= 3; ++records) {
    std::vector<std::uint8_t> bytes{records};
    for (std::uint8_t r = 0; r < records; ++r) {
      bytes.push_back(static_cast<std::uint8_t>(r * 3 % qx::data::kCifarClasses));  // the label
      for (std::int64_t i = 0; i < qx::data::kCifarImageBytes; ++i) bytes.push_back(static_cast<std::uint8_t>(i * 7 + r));
    }
    qx::fuzz::write_file(dir / ("records-" + std::to_string(records) + ".bin"), bytes.data(), bytes.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  qx::fuzz::write_seeds_if_asked(write_seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::int64_t records = data[0] % 4;
  const auto file = qx::fuzz::scratch_dir() / "data_batch_1.bin";
  qx::fuzz::write_file(file, data + 1, size - 1);
  try {
    const auto batch = qx::data::read_cifar10_file(file, records);
    // Accepted: exactly `records` records, every label 0-9.
    if (batch.size() != records || (records > 0 && batch.labels.max().item<std::int64_t>() >= 10)) std::abort();
  } catch (const qx::Error& error) {
    qx::fuzz::expect_one_line(error);
  }
  return 0;
}
