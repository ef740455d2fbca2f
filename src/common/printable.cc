#include "common/printable.h"

#include <fmt/format.h>

namespace binlog {

std::string Printable(std::string_view text, size_t max_bytes) {
  std::string out;
  std::string_view shown = text.substr(0, max_bytes);
  out.reserve(shown.size());
  for (char c : shown) {
    auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f && c != '\\') {
      out += c;
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += fmt::format("\\x{:02x}", byte);
    }
  }
  if (text.size() > max_bytes) out += fmt::format("... ({} bytes in all)", text.size());
  return out;
}

}  // namespace binlog
