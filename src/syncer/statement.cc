#include "syncer/statement.h"

#include <cctype>
#include <string>
#include <vector>

namespace binlog::syncer {

namespace {

// The statement's words in order, upper-cased: identifiers and keywords only. Quoted strings
// and `identifiers` become one placeholder token each, comments are dropped, and an executable
// comment's text is read as code.
class Tokens {
 public:
  explicit Tokens(std::string_view q) : q_(q) {}

  // The next word, or "" at the end. A quoted string or identifier is the quote character
  // alone ("'", "\"" or "`"), an operator "?".
  std::string Next() {
    while (i_ < q_.size()) {
      char c = q_[i_];
      if (std::isspace(static_cast<unsigned char>(c)) || c == '(' || c == ')' || c == ',' ||
          c == ';' || c == '=' || c == '.') {
        ++i_;
      } else if (Starts("/*!") || Starts("/*M!")) {
        i_ += Starts("/*!") ? 3 : 4;
        while (i_ < q_.size() && std::isdigit(static_cast<unsigned char>(q_[i_]))) ++i_;
      } else if (Starts("/*")) {
        size_t end = q_.find("*/", i_ + 2);
        i_ = end == std::string_view::npos ? q_.size() : end + 2;
      } else if (Starts("*/")) {
        i_ += 2;  // the end of an executable comment
      } else if (c == '#' ||
                 (Starts("--") &&
                  (i_ + 2 == q_.size() || std::isspace(static_cast<unsigned char>(q_[i_ + 2]))))) {
        size_t end = q_.find('\n', i_);
        i_ = end == std::string_view::npos ? q_.size() : end + 1;
      } else if (c == '\'' || c == '"' || c == '`') {
        SkipQuoted(c);
        return std::string(1, c);
      } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' ||
                 static_cast<unsigned char>(c) >= 0x80) {
        std::string word;
        while (i_ < q_.size() &&
               (std::isalnum(static_cast<unsigned char>(q_[i_])) || q_[i_] == '_' ||
                q_[i_] == '$' || static_cast<unsigned char>(q_[i_]) >= 0x80)) {
          word += static_cast<char>(std::toupper(static_cast<unsigned char>(q_[i_++])));
        }
        return word;
      } else {
        ++i_;  // operators, @, ...
        return "?";
      }
    }
    return "";
  }

 private:
  bool Starts(std::string_view s) const { return q_.substr(i_, s.size()) == s; }
  void SkipQuoted(char quote) {
    for (++i_; i_ < q_.size(); ++i_) {
      if (q_[i_] == '\\' && quote != '`') {
        ++i_;
      } else if (q_[i_] == quote) {
        if (i_ + 1 < q_.size() && q_[i_ + 1] == quote) {
          ++i_;  // a doubled quote stands for itself
        } else {
          ++i_;
          return;
        }
      }
    }
  }
  std::string_view q_;
  size_t i_ = 0;
};

std::vector<std::string> Words(std::string_view q, size_t max_words) {
  std::vector<std::string> out;
  Tokens t(q);
  for (std::string w = t.Next(); !w.empty() && out.size() < max_words; w = t.Next()) {
    out.push_back(std::move(w));
  }
  return out;
}

bool IsIdentifier(const std::string& w) { return w != "?" && w != "'" && w != "\""; }

// DELETE FROM name (or db.name), nothing after it.
bool IsWholeTableDelete(const std::vector<std::string>& w) {
  if (w.size() < 3 || w[1] != "FROM" || !IsIdentifier(w[2])) return false;
  return w.size() == 3 || (w.size() == 4 && IsIdentifier(w[3]));
}

// CREATE [OR REPLACE] [TEMPORARY] TABLE ... with a SELECT anywhere in it: in ROW format the
// server logs the CREATE TABLE alone and the rows as row events.
bool IsCreateTableSelect(std::string_view q) {
  std::vector<std::string> w = Words(q, SIZE_MAX);
  size_t i = 1;
  if (i + 1 < w.size() && w[i] == "OR" && w[i + 1] == "REPLACE") i += 2;
  if (i < w.size() && w[i] == "TEMPORARY") ++i;
  if (i >= w.size() || w[i] != "TABLE") return false;
  for (; i < w.size(); ++i) {
    if (w[i] == "SELECT") return true;
  }
  return false;
}

}  // namespace

StatementKind ClassifyStatement(std::string_view query) {
  std::vector<std::string> w = Words(query, 8);
  if (w.empty()) return StatementKind::kOther;
  const std::string& first = w[0];
  if (first == "BEGIN") return StatementKind::kBegin;
  if (first == "COMMIT") return StatementKind::kCommit;
  if (first == "XA") return StatementKind::kXa;
  if (first == "SAVEPOINT" || (first == "RELEASE" && w.size() > 1 && w[1] == "SAVEPOINT")) {
    return StatementKind::kSavepoint;
  }
  if (first == "ROLLBACK") {
    for (const std::string& word : w) {
      if (word == "TO") return StatementKind::kRollbackToSavepoint;
    }
    return StatementKind::kRollback;
  }
  if (first == "DELETE") {
    return IsWholeTableDelete(w) ? StatementKind::kOther : StatementKind::kDataChange;
  }
  if (first == "INSERT" || first == "UPDATE" || first == "REPLACE" || first == "LOAD" ||
      first == "WITH" || first == "SELECT" || first == "DO" || first == "CALL") {
    return StatementKind::kDataChange;
  }
  if (first == "CREATE" && IsCreateTableSelect(query)) return StatementKind::kDataChange;
  return StatementKind::kOther;
}

const char* StatementKindName(StatementKind kind) {
  switch (kind) {
    case StatementKind::kBegin:
      return "BEGIN";
    case StatementKind::kCommit:
      return "COMMIT";
    case StatementKind::kRollback:
      return "ROLLBACK";
    case StatementKind::kRollbackToSavepoint:
      return "ROLLBACK TO SAVEPOINT";
    case StatementKind::kSavepoint:
      return "SAVEPOINT";
    case StatementKind::kXa:
      return "XA";
    case StatementKind::kDataChange:
      return "a data change";
    case StatementKind::kOther:
      break;
  }
  return "DDL or an account statement";
}

}  // namespace binlog::syncer
