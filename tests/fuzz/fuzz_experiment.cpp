// The experiment loaders: a PTQ grid (`qx run`) and a training recipe (`qx train`), from the
// same text, through the functions the commands call. Seeds: experiments/*.toml (tools/fuzz.sh).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.h"
#include "qx/config/ptq_config.h"
#include "qx/config/train_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    qx::config::load_ptq_experiment_text(text, "fuzz.toml");
  } catch (const qx::Error& error) {
    qx::fuzz::expect_one_line(error);
  }
  try {
    qx::config::load_train_config_text(text, "fuzz.toml");
  } catch (const qx::Error& error) {
    qx::fuzz::expect_one_line(error);
  }
  return 0;
}
