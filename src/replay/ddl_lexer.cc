// Tokenize (ddl_lexer.h).
#include "replay/ddl_lexer.h"

#include <fmt/format.h>

namespace binlog::replay::ddl {
namespace {

bool IsWordByte(char c) {
  const auto b = static_cast<unsigned char>(c);
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
         c == '$' || b >= 0x80;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

char Upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

class Lexer {
 public:
  explicit Lexer(std::string_view sql) : s_(sql) {}

  Result<std::vector<Token>> Run() {
    while (i_ < s_.size()) {
      RETURN_IF_ERROR(Step());
    }
    if (exec_comment_at_ != kNone) {
      return Status::InvalidArgument(
          fmt::format("the executable comment at byte {} is not closed", exec_comment_at_));
    }
    return std::move(tokens_);
  }

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);

  char At(size_t k) const { return k < s_.size() ? s_[k] : '\0'; }

  Status Step() {
    const char c = s_[i_];
    if (IsSpace(c)) {
      ++i_;
    } else if (c == '#' ||
               (c == '-' && At(i_ + 1) == '-' &&
                (i_ + 2 == s_.size() || static_cast<unsigned char>(s_[i_ + 2]) <= ' '))) {
      const size_t end = s_.find('\n', i_);
      i_ = end == std::string_view::npos ? s_.size() : end + 1;
    } else if (c == '/' && At(i_ + 1) == '*') {
      return Comment();
    } else if (c == '*' && At(i_ + 1) == '/' && exec_comment_at_ != kNone) {
      exec_comment_at_ = kNone;
      i_ += 2;
    } else if (c == '`') {
      return Quoted(TokenKind::kIdent, '`');
    } else if (c == '\'' || c == '"') {
      return Quoted(TokenKind::kString, c);
    } else if (IsWordByte(c)) {
      const size_t start = i_;
      while (i_ < s_.size() && IsWordByte(s_[i_])) ++i_;
      tokens_.push_back(
          Token{TokenKind::kWord, std::string(s_.substr(start, i_ - start)), 0, start});
    } else {
      tokens_.push_back(Token{TokenKind::kPunct, std::string(1, c), 0, i_});
      ++i_;
    }
    return Status::OK();
  }

  // At "/*": an executable comment's content is tokenized (its "*/" closes it), any other
  // comment skipped. They do not nest.
  Status Comment() {
    const size_t start = i_;
    size_t k = i_ + 2;
    if (At(k) == 'M' && At(k + 1) == '!') ++k;
    if (At(k) == '!' && exec_comment_at_ == kNone) {
      ++k;
      for (int digits = 0; digits < 6 && At(k) >= '0' && At(k) <= '9'; ++digits) ++k;
      exec_comment_at_ = start;
      i_ = k;
      return Status::OK();
    }
    const size_t end = s_.find("*/", i_ + 2);
    if (end == std::string_view::npos) {
      return Status::InvalidArgument(fmt::format("the comment at byte {} is not closed", start));
    }
    i_ = end + 2;
    return Status::OK();
  }

  // A quoted identifier or string: a doubled quote stands for one; in a string a backslash
  // escapes the next byte (kept as written).
  Status Quoted(TokenKind kind, char q) {
    const size_t start = i_;
    std::string text;
    for (size_t k = i_ + 1; k < s_.size(); ++k) {
      const char c = s_[k];
      if (c == q) {
        if (At(k + 1) == q) {
          text.push_back(q);
          ++k;
          continue;
        }
        tokens_.push_back(
            Token{kind, std::move(text), kind == TokenKind::kString ? q : '\0', start});
        i_ = k + 1;
        return Status::OK();
      }
      if (c == '\\' && kind == TokenKind::kString && k + 1 < s_.size()) {
        text.push_back(c);
        text.push_back(s_[++k]);
        continue;
      }
      text.push_back(c);
    }
    return Status::InvalidArgument(fmt::format("the {} at byte {} is not closed",
                                               kind == TokenKind::kIdent ? "quoted name" : "string",
                                               start));
  }

  std::string_view s_;
  size_t i_ = 0;
  size_t exec_comment_at_ = kNone;
  std::vector<Token> tokens_;
};

}  // namespace

bool Token::IsKeyword(std::string_view kw) const {
  if (kind != TokenKind::kWord || text.size() != kw.size()) return false;
  for (size_t i = 0; i < kw.size(); ++i) {
    if (Upper(text[i]) != kw[i]) return false;
  }
  return true;
}

Result<std::vector<Token>> Tokenize(std::string_view sql) { return Lexer(sql).Run(); }

}  // namespace binlog::replay::ddl
