// What a query event's statement is, as far as archiving it needs to know: the few that frame a
// transaction, and a data change the server logged as text (a session with binlog_format
// STATEMENT or MIXED), which an archive must not hold: replayed, it would run again against
// whatever data is there then. Everything else is DDL or an account statement, kept as text.
#pragma once

#include <string_view>

namespace binlog::syncer {

enum class StatementKind {
  kBegin,
  kCommit,
  kRollback,             // the whole transaction
  kRollbackToSavepoint,  // ROLLBACK [WORK] TO [SAVEPOINT] name
  kSavepoint,            // SAVEPOINT, RELEASE SAVEPOINT
  kXa,
  kDataChange,  // INSERT, UPDATE, DELETE, REPLACE, LOAD DATA, CREATE TABLE ... SELECT, ...
  kOther,       // DDL, GRANT, CREATE USER, ...
};

// Looks past comments, parentheses and MariaDB's executable comments (/*!50100 ... */) for the
// statement's keywords. A DELETE of a whole table without any condition (what a server writes
// to empty a MEMORY table after its restart) has the same effect on any data: kOther.
StatementKind ClassifyStatement(std::string_view query);

const char* StatementKindName(StatementKind kind);

}  // namespace binlog::syncer
