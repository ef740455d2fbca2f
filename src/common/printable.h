// Untrusted text (a config file, a path, a statement) quoted in a message: printable ASCII as
// is, every other byte as \xNN, and at most max_bytes of the input, so a garbage file cannot
// put control characters or pages of bytes on an operator's terminal.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace binlog {

std::string Printable(std::string_view text, size_t max_bytes = 80);

}  // namespace binlog
