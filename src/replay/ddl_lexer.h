// The tokens of a MySQL/MariaDB statement, as far as ParseDdlTarget needs them (internal).
//
// Understood: backquoted identifiers (`a``b`), '...' and "..." (backslash escapes and doubled
// quotes), comments (# and "-- " to the end of the line, /* ... */), and executable comments
// (/*!NNNNN ... */, /*M!NNNNNN ... */) whose content is code whatever its version: the server
// that wrote the binlog ran the statement, and which version it was is not known here.
// Backslashes are escapes in strings (the default sql_mode, not NO_BACKSLASH_ESCAPES).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace binlog::replay::ddl {

enum class TokenKind {
  kWord,    // an unquoted identifier, keyword or number: [0-9A-Za-z_$] and bytes >= 0x80
  kIdent,   // a backquoted identifier, text unescaped
  kString,  // '...' or "..." (quote says which), text with doubled quotes undone
  kPunct,   // any other character, one at a time
};

struct Token {
  TokenKind kind;
  std::string text;
  char quote = 0;     // kString: ' or "
  size_t offset = 0;  // in the statement

  bool IsPunct(char c) const {
    return kind == TokenKind::kPunct && text.size() == 1 && text[0] == c;
  }
  // An unquoted word equal to kw (upper case) case-insensitively.
  bool IsKeyword(std::string_view kw) const;
};

// The statement's tokens; InvalidArgument for a quote or comment left open. Error messages say
// what is wrong and where (a byte offset); the caller adds the statement.
Result<std::vector<Token>> Tokenize(std::string_view sql);

}  // namespace binlog::replay::ddl
