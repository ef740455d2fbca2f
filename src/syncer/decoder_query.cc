// The QUERY events of the stream: BEGIN, COMMIT and ROLLBACK frame a transaction (MySQL's, and
// MariaDB's non-transactional ones), DDL is archived as a statement, and a data change logged
// as a statement stops the syncer.
#include <fmt/format.h>

#include "common/logging.h"
#include "common/text.h"
#include "syncer/decoder.h"
#include "syncer/statement.h"

namespace binlog::syncer {

Status StreamDecoder::OnQuery(const Event& ev, std::vector<StreamItem>* out) {
  ASSIGN_OR_RETURN(QueryEvent q, ParseQuery(ev, fd_));
  StatementKind kind = ClassifyStatement(q.query);
  switch (kind) {
    case StatementKind::kBegin:
      if (!open_) Open(gtid_, false);
      return Status::OK();
    case StatementKind::kCommit:
      if (!open_) return Status::Corruption("COMMIT outside a transaction");
      Commit(ev, out);
      return Status::OK();
    case StatementKind::kRollback:
      // Logged only when changes to non-transactional tables could not be undone: those
      // changes happened upstream, so they are archived.
      if (!open_) return Status::OK();
      if (txn_rows_ > 0) {
        LOG_WARN("transaction ended with ROLLBACK after non-transactional changes: archived",
                 KV("gtid", gtid_), KV("rows", txn_rows_), KV("file", file_),
                 KV("pos", ev.header.log_pos));
      }
      Commit(ev, out);
      return Status::OK();
    case StatementKind::kSavepoint:
    case StatementKind::kRollbackToSavepoint:
      if (open_ && !standalone_) return Status::OK();  // transaction-internal
      break;
    case StatementKind::kXa:
      return Status::Unsupported(
          "XA transactions: the syncer does not archive XA PREPARE / COMMIT");
    case StatementKind::kDataChange:
      return Status::Unsupported(fmt::format(
          "a data change logged as a statement, not as rows (the session that ran it had "
          "binlog_format STATEMENT or MIXED): \"{}\". An archive must not hold it as text that a "
          "replay would run again against other data. Set binlog_format=ROW for every session "
          "(SET GLOBAL binlog_format=ROW, and take SUPER/BINLOG ADMIN from the applications), "
          "then restart the syncer from a full backup taken after this point",
          Printable(q.query, 200)));
    case StatementKind::kOther:
      break;
  }
  // Anything else is DDL (or an account statement), archived with its current database.
  if (!open_) Open(gtid_, true);
  if (parts_ > 0) {
    return Status::Unsupported(fmt::format(
        "a statement in transaction {} after {} parts of its row changes (\"{}\"): a DDL "
        "transaction is archived whole",
        gtid_, parts_, Printable(q.query, 80)));
  }
  if (!ddl_query_.empty()) {
    return Status::Unsupported(
        fmt::format("a second statement in transaction {} (\"{}\" after \"{}\")", gtid_,
                    Printable(q.query, 80), Printable(ddl_query_, 80)));
  }
  ddl_query_ = q.query;
  ddl_schema_ = q.database;
  if (standalone_) Commit(ev, out);
  return Status::OK();
}

}  // namespace binlog::syncer
