#include "common/text.h"

#include <fmt/format.h>

#include <cstdint>
#include <cstring>

namespace binlog {

size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto b = static_cast<unsigned char>(s[i]);
  size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  if (n == 1) return 1;
  uint32_t cp = b & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) {
    auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    // Nearly all text is ASCII: skip it eight bytes at a time (byte by byte, this check was a
    // sixth of the syncer reader's CPU).
    while (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, s.data() + i, 8);
      if ((word & 0x8080808080808080ull) != 0) break;
      i += 8;
    }
    if (i >= n) break;
    size_t len = Utf8SequenceLength(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string Printable(std::string_view text, size_t max_bytes) {
  std::string_view shown = text.substr(0, max_bytes);
  std::string out;
  out.reserve(shown.size());
  for (size_t i = 0; i < shown.size();) {
    size_t len = Utf8SequenceLength(shown, i);
    auto byte = static_cast<unsigned char>(shown[i]);
    // C1 controls (U+0080..U+009F) are two bytes, C2 80..C2 9F.
    bool c1 = len == 2 && byte == 0xC2 && static_cast<unsigned char>(shown[i + 1]) < 0xA0;
    if (len > 1 && !c1) {
      out.append(shown.substr(i, len));
      i += len;
    } else if (len == 1 && byte >= 0x20 && byte < 0x7f && byte != '\\') {
      out += shown[i++];
    } else if (byte == '\\') {
      out += "\\\\";
      ++i;
    } else if (byte == '\t') {
      out += "\\t";
      ++i;
    } else {
      out += fmt::format("\\x{:02x}", byte);
      ++i;
    }
  }
  if (text.size() > max_bytes) out += fmt::format("... ({} bytes in all)", text.size());
  return out;
}

}  // namespace binlog
