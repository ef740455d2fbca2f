// ParseDdlTarget (filter.h): the names a DDL statement changes, from its first few tokens.
//
// Shapes (keywords case-insensitive, [] optional, MariaDB's forms included):
//   CREATE [OR REPLACE] [TEMPORARY] TABLE [IF NOT EXISTS] t ...
//   ALTER [ONLINE] [IGNORE] TABLE [IF EXISTS] t [WAIT n|NOWAIT] spec, ...
//       where a spec RENAME [TO|AS] u moves the table, and EXCHANGE PARTITION p WITH TABLE u
//       and MariaDB's CONVERT ... TABLE u change u too
//   DROP [TEMPORARY] TABLE[S] [IF EXISTS] t [, t ...] ...
//   RENAME TABLE[S] [IF EXISTS] a [WAIT n|NOWAIT] TO b [, c TO d ...]
//   TRUNCATE [TABLE] t ...
//   CREATE [OR REPLACE] [ONLINE|OFFLINE] [UNIQUE|FULLTEXT|SPATIAL] INDEX [IF NOT EXISTS] i
//       [USING type] ON t ...
//   DROP [ONLINE|OFFLINE] INDEX [IF EXISTS] i ON t ...
//   CREATE [OR REPLACE] DATABASE|SCHEMA [IF NOT EXISTS] d ...
//   ALTER DATABASE|SCHEMA [d] ...          (no name: the current database)
//   DROP DATABASE|SCHEMA [IF EXISTS] d
// A name is `quoted`, "quoted" (ANSI_QUOTES) or bare, and may be qualified: d.t; an unqualified
// one is in the current database (also the new name of a RENAME, as in MySQL). Past the names
// (and an ALTER TABLE's specs) the statement is not checked, except that it is one statement:
// nothing but ';' may follow a ';'.
#include <fmt/format.h>

#include "common/text.h"
#include "replay/ddl_lexer.h"
#include "replay/filter.h"

namespace binlog::replay {
namespace {

using ddl::Token;
using ddl::TokenKind;

constexpr std::string_view kShapes =
    "CREATE/ALTER/DROP/RENAME/TRUNCATE TABLE, CREATE/ALTER/DROP DATABASE, CREATE/DROP INDEX";

class Parser {
 public:
  Parser(std::vector<Token> tokens, std::string_view current_schema)
      : t_(std::move(tokens)), current_(current_schema) {}

  Result<DdlTarget> Parse() {
    RETURN_IF_ERROR(OneStatement());
    if (t_.empty()) return Fail("an empty statement");
    if (Keyword("CREATE")) return Create();
    if (Keyword("ALTER")) return Alter();
    if (Keyword("DROP")) return Drop();
    if (Keyword("RENAME")) return Rename();
    if (Keyword("TRUNCATE")) return Truncate();
    return Unknown();
  }

 private:
  // Drops the statement's trailing ';' (and empty statements after it); refuses a second one.
  Status OneStatement() {
    for (size_t k = 0; k < t_.size(); ++k) {
      if (!t_[k].IsPunct(';')) continue;
      for (size_t j = k + 1; j < t_.size(); ++j) {
        if (!t_[j].IsPunct(';')) return Fail("more than one statement");
      }
      t_.resize(k);
      break;
    }
    return Status::OK();
  }

  const Token* Peek(size_t ahead = 0) const {
    return p_ + ahead < t_.size() ? &t_[p_ + ahead] : nullptr;
  }
  bool PeekKeyword(std::string_view kw, size_t ahead = 0) const {
    const Token* t = Peek(ahead);
    return t != nullptr && t->IsKeyword(kw);
  }
  bool Keyword(std::string_view kw) {
    if (!PeekKeyword(kw)) return false;
    ++p_;
    return true;
  }
  bool Keywords(std::string_view a, std::string_view b) {
    if (!PeekKeyword(a) || !PeekKeyword(b, 1)) return false;
    p_ += 2;
    return true;
  }
  bool Keywords(std::string_view a, std::string_view b, std::string_view c) {
    if (!PeekKeyword(a) || !PeekKeyword(b, 1) || !PeekKeyword(c, 2)) return false;
    p_ += 3;
    return true;
  }
  bool Punct(char c) {
    if (Peek() == nullptr || !Peek()->IsPunct(c)) return false;
    ++p_;
    return true;
  }

  static Status Fail(std::string_view what) { return Status::InvalidArgument(what); }
  Status Unknown() const {
    return Fail(fmt::format("not a statement whose tables this build knows ({})", kShapes));
  }

  bool PeekName() const {
    const Token* t = Peek();
    return t != nullptr && (t->kind == TokenKind::kWord || t->kind == TokenKind::kIdent ||
                            (t->kind == TokenKind::kString && t->quote == '"'));
  }
  Result<std::string> Name(std::string_view what) {
    if (!PeekName()) {
      const Token* t = Peek();
      return Fail(t == nullptr ? fmt::format("the statement ends where {} should be", what)
                               : fmt::format("expected {} at byte {}", what, t->offset));
    }
    const Token& t = t_[p_++];
    if (t.text.empty()) return Fail(fmt::format("the name at byte {} is empty", t.offset));
    return t.text;
  }
  // A database name, or the current database when there is none to qualify a table.
  Result<std::string> Current(std::string_view table) const {
    if (!current_.empty()) return std::string(current_);
    return Fail(fmt::format("table \"{}\" has no database and the statement ran in none",
                            Printable(table)));
  }
  Result<TableRule> TableName() {
    ASSIGN_OR_RETURN(std::string first, Name("a table name"));
    if (!Punct('.')) {
      ASSIGN_OR_RETURN(std::string db, Current(first));
      return TableRule{std::move(db), std::move(first)};
    }
    ASSIGN_OR_RETURN(std::string table, Name("a table name"));
    return TableRule{std::move(first), std::move(table)};
  }
  // [WAIT n | NOWAIT] (MariaDB's lock wait).
  void SkipWait() {
    if (Keyword("NOWAIT")) return;
    if (PeekKeyword("WAIT") && Peek(1) != nullptr && Peek(1)->kind == TokenKind::kWord) p_ += 2;
  }

  Result<DdlTarget> Table(TableRule t) {
    DdlTarget target;
    target.schema = t.db;
    target.table = t.table;
    target.tables.push_back(std::move(t));
    return target;
  }
  Result<DdlTarget> Database(std::string name) {
    DdlTarget target;
    target.schema = std::move(name);
    target.database_level = true;
    return target;
  }

  Result<DdlTarget> Create() {
    Keywords("OR", "REPLACE");
    if (Keyword("DATABASE") || Keyword("SCHEMA")) {
      Keywords("IF", "NOT", "EXISTS");
      ASSIGN_OR_RETURN(std::string db, Name("a database name"));
      return Database(std::move(db));
    }
    Keyword("TEMPORARY");
    if (Keyword("TABLE")) {
      Keywords("IF", "NOT", "EXISTS");
      ASSIGN_OR_RETURN(TableRule t, TableName());
      return Table(std::move(t));
    }
    if (!Keyword("ONLINE")) Keyword("OFFLINE");
    if (!Keyword("UNIQUE") && !Keyword("FULLTEXT")) Keyword("SPATIAL");
    if (Keyword("INDEX")) {
      Keywords("IF", "NOT", "EXISTS");
      ASSIGN_OR_RETURN(std::string index, Name("an index name"));
      if (Keyword("USING")) RETURN_IF_ERROR(Name("an index type").status());
      return OnTable();
    }
    return Unknown();
  }

  Result<DdlTarget> OnTable() {
    if (!Keyword("ON")) return Fail("expected ON and the table after the index name");
    ASSIGN_OR_RETURN(TableRule t, TableName());
    return Table(std::move(t));
  }

  Result<DdlTarget> Alter() {
    if (Keyword("DATABASE") || Keyword("SCHEMA")) return AlterDatabase();
    Keyword("ONLINE");
    Keyword("IGNORE");
    if (!Keyword("TABLE")) return Unknown();
    Keywords("IF", "EXISTS");
    ASSIGN_OR_RETURN(TableRule t, TableName());
    SkipWait();
    ASSIGN_OR_RETURN(DdlTarget target, Table(std::move(t)));
    RETURN_IF_ERROR(AlterSpecs(&target));
    return target;
  }

  // ALTER DATABASE's name is optional: what follows it is an option (CHARACTER SET, COLLATE,
  // COMMENT, UPGRADE DATA DIRECTORY NAME, ...), which a bare name cannot be.
  Result<DdlTarget> AlterDatabase() {
    static constexpr std::string_view kOptions[] = {
        "DEFAULT", "CHARACTER", "CHARSET", "COLLATE", "COMMENT", "UPGRADE", "READ", "ENCRYPTION"};
    bool named = PeekName();
    for (std::string_view kw : kOptions) named = named && !PeekKeyword(kw);
    if (named) {
      ASSIGN_OR_RETURN(std::string db, Name("a database name"));
      return Database(std::move(db));
    }
    if (current_.empty()) return Fail("ALTER DATABASE names no database and ran in none");
    return Database(std::string(current_));
  }

  // The specs of an ALTER TABLE that name another table. RENAME and TABLE are reserved words,
  // so where they stand unquoted they are these clauses:
  //   RENAME [TO|AS] u (not RENAME COLUMN|INDEX|KEY ...)
  //   EXCHANGE PARTITION p WITH TABLE u, CONVERT PARTITION p TO TABLE u, CONVERT TABLE u TO ...
  Status AlterSpecs(DdlTarget* target) {
    while (p_ < t_.size()) {
      if (PeekKeyword("RENAME") && !PeekKeyword("COLUMN", 1) && !PeekKeyword("INDEX", 1) &&
          !PeekKeyword("KEY", 1)) {
        ++p_;
        if (!Keyword("TO")) Keyword("AS");
        ASSIGN_OR_RETURN(TableRule to, TableName());
        target->renames.emplace_back(target->tables.front(), to);
        target->tables.push_back(std::move(to));
      } else if (Keyword("TABLE")) {
        ASSIGN_OR_RETURN(TableRule other, TableName());
        target->tables.push_back(std::move(other));
      } else {
        ++p_;
      }
    }
    return Status::OK();
  }

  Result<DdlTarget> Drop() {
    if (Keyword("DATABASE") || Keyword("SCHEMA")) {
      Keywords("IF", "EXISTS");
      ASSIGN_OR_RETURN(std::string db, Name("a database name"));
      return Database(std::move(db));
    }
    if (!Keyword("ONLINE")) Keyword("OFFLINE");
    if (Keyword("INDEX")) {
      Keywords("IF", "EXISTS");
      ASSIGN_OR_RETURN(std::string index, Name("an index name"));
      return OnTable();
    }
    Keyword("TEMPORARY");
    if (!Keyword("TABLE") && !Keyword("TABLES")) return Unknown();
    Keywords("IF", "EXISTS");
    DdlTarget target;
    do {
      ASSIGN_OR_RETURN(TableRule t, TableName());
      target.tables.push_back(std::move(t));
    } while (Punct(','));
    target.schema = target.tables.front().db;
    target.table = target.tables.front().table;
    return target;
  }

  Result<DdlTarget> Rename() {
    if (!Keyword("TABLE") && !Keyword("TABLES")) return Unknown();
    Keywords("IF", "EXISTS");
    DdlTarget target;
    do {
      ASSIGN_OR_RETURN(TableRule from, TableName());
      SkipWait();
      if (!Keyword("TO")) return Fail("expected TO and the new name in RENAME TABLE");
      ASSIGN_OR_RETURN(TableRule to, TableName());
      target.tables.push_back(from);
      target.tables.push_back(to);
      target.renames.emplace_back(std::move(from), std::move(to));
    } while (Punct(','));
    target.schema = target.renames.front().first.db;
    target.table = target.renames.front().first.table;
    return target;
  }

  Result<DdlTarget> Truncate() {
    Keyword("TABLE");
    ASSIGN_OR_RETURN(TableRule t, TableName());
    return Table(std::move(t));
  }

  std::vector<Token> t_;
  std::string_view current_;
  size_t p_ = 0;
};

}  // namespace

Result<DdlTarget> ParseDdlTarget(std::string_view query, std::string_view current_schema) {
  auto tokens = ddl::Tokenize(query);
  Result<DdlTarget> target = tokens.ok() ? Parser(std::move(tokens).value(), current_schema).Parse()
                                         : Result<DdlTarget>(tokens.status());
  if (target.ok()) return target;
  return Status::InvalidArgument(
      fmt::format("DDL \"{}\": {}", Printable(query), target.status().message()));
}

}  // namespace binlog::replay
