#include "qx/train/pickle_scan.h"

#include <cstdint>

#include <fmt/format.h>

namespace qx::train {

namespace {

// Little-endian unsigned integer of `width` bytes at `at`.
std::uint64_t little_endian(std::string_view bytes, std::size_t at, int width) {
  std::uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i) value = value << 8 | static_cast<unsigned char>(bytes[at + i]);
  return value;
}

struct Argument {
  enum Kind { kNone, kFixed, kCounted, kLine, kTwoLines, kUnknown } kind;
  int width = 0;       // kFixed: the argument's bytes; kCounted: the count's bytes
  const char* name = "";
};

// Pickle protocols 0 to 5 (Python's pickletools): what follows each opcode.
Argument argument_of(unsigned char op) {
  switch (op) {
    // no argument
    case '(': case '.': case '0': case '1': case '2': case 'N': case 'Q': case 'R': case 'a': case 'b':
    case 'd': case 'e': case 'l': case 'o': case 's': case 't': case 'u': case '}': case ']': case ')':
    case 0x81: case 0x85: case 0x86: case 0x87: case 0x88: case 0x89: case 0x8f: case 0x90: case 0x91:
    case 0x92: case 0x93: case 0x94: case 0x97: case 0x98:
      return {Argument::kNone};
    // fixed-width arguments
    case 0x80: case 'K': case 'h': case 'q': case 0x82: return {Argument::kFixed, 1};
    case 'M': case 0x83: return {Argument::kFixed, 2};
    case 'J': case 'j': case 'r': case 0x84: return {Argument::kFixed, 4};
    case 'G': case 0x95: return {Argument::kFixed, 8};
    // a count, then that many bytes
    case 'U': return {Argument::kCounted, 1, "SHORT_BINSTRING"};
    case 'C': return {Argument::kCounted, 1, "SHORT_BINBYTES"};
    case 0x8c: return {Argument::kCounted, 1, "SHORT_BINUNICODE"};
    case 0x8a: return {Argument::kCounted, 1, "LONG1"};
    case 'T': return {Argument::kCounted, 4, "BINSTRING"};
    case 'B': return {Argument::kCounted, 4, "BINBYTES"};
    case 'X': return {Argument::kCounted, 4, "BINUNICODE"};
    case 0x8b: return {Argument::kCounted, 4, "LONG4"};
    case 0x8d: return {Argument::kCounted, 8, "BINUNICODE8"};
    case 0x8e: return {Argument::kCounted, 8, "BINBYTES8"};
    case 0x96: return {Argument::kCounted, 8, "BYTEARRAY8"};
    // text up to a newline
    case 'I': case 'L': case 'S': case 'V': case 'F': case 'p': case 'g': case 'P':
      return {Argument::kLine};
    case 'c': case 'i': return {Argument::kTwoLines};
    default: return {Argument::kUnknown};
  }
}

}  // namespace

std::string check_pickle_lengths(std::string_view pickle) {
  std::size_t at = 0;
  while (at < pickle.size()) {
    const std::size_t start = at;
    const auto op = static_cast<unsigned char>(pickle[at++]);
    if (op == '.') return {};  // STOP
    const Argument argument = argument_of(op);
    const std::size_t remaining = pickle.size() - at;
    switch (argument.kind) {
      case Argument::kNone: break;
      case Argument::kFixed:
        if (remaining < static_cast<std::size_t>(argument.width)) return fmt::format("the pickle ends inside opcode 0x{:02x} at byte {}", op, start);
        // The unpickler sizes its memo to the slot LONG_BINPUT names; slots are numbered from 0
        // as objects are stored, so a real one is smaller than the byte it is stored at.
        if (op == 'r' && little_endian(pickle, at, 4) > start) {
          return fmt::format("LONG_BINPUT at byte {} names memo slot {}, more than the pickle can hold", start,
                             little_endian(pickle, at, 4));
        }
        at += argument.width;
        break;
      case Argument::kCounted: {
        if (remaining < static_cast<std::size_t>(argument.width)) return fmt::format("the pickle ends inside {} at byte {}", argument.name, start);
        const std::uint64_t count = little_endian(pickle, at, argument.width);
        at += argument.width;
        if (count > pickle.size() - at) {
          return fmt::format("{} at byte {} declares {} bytes, {} remain", argument.name, start, count, pickle.size() - at);
        }
        at += count;
        break;
      }
      case Argument::kLine:
      case Argument::kTwoLines:
        for (int line = argument.kind == Argument::kLine ? 1 : 2; line > 0; --line) {
          const auto end = pickle.find('\n', at);
          if (end == std::string_view::npos) return fmt::format("the pickle ends inside opcode 0x{:02x} at byte {}", op, start);
          at = end + 1;
        }
        break;
      case Argument::kUnknown:
        return {};  // not ours to judge: the unpickler reports it
    }
  }
  return "the pickle has no STOP opcode";
}

}  // namespace qx::train
