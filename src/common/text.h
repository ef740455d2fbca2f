// Text whose bytes are not trusted: UTF-8 validity, and quoting in messages.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace binlog {

// The length of the well-formed UTF-8 sequence at s[i] (1 for ASCII), or 0 when the bytes
// there are not one (overlong forms, surrogates and code points past U+10FFFF included).
size_t Utf8SequenceLength(std::string_view s, size_t i);
bool IsValidUtf8(std::string_view s);

// Untrusted text (a config file, a statement, a name from a binlog) quoted in a message: at most
// max_bytes of it, printable characters as they are (UTF-8 included), control characters and
// bytes that are not UTF-8 as \xNN, so a garbage file cannot put control characters or pages of
// bytes on an operator's terminal.
std::string Printable(std::string_view text, size_t max_bytes = 80);

}  // namespace binlog
