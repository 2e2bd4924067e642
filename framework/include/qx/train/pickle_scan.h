#pragma once
// A walk over a pickle's opcodes that checks every length and memo slot it declares against the
// pickle's own size, before LibTorch's unpickler reads it. LibTorch 1.13's unpickler sizes its
// memo to whatever slot LONG_BINPUT names, so a corrupt checkpoint could ask for 32 GB (found by
// fuzzing, tests/fuzz/regressions/checkpoint/); a declared length is checked the same way.
#include <string>
#include <string_view>

namespace qx::train {

// Empty when every length and slot fits (or the walk met an opcode it does not know and left the
// rest to the unpickler); else why not, e.g. "BINUNICODE at byte 57 declares 4294967295 bytes,
// 12 remain".
std::string check_pickle_lengths(std::string_view pickle);

}  // namespace qx::train
