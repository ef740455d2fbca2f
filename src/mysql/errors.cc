// Which failures a retry may cure, and statements shortened for messages.
#include <errmsg.h>
#include <mysqld_error.h>

#include "common/text.h"
#include "mysql/mysql.h"

namespace binlog::mysql {

// Transient: the connection is gone or was refused for now, or the server gave up on the
// statement because of other sessions (a lock). Permanent, on purpose:
//   ER_NET_PACKET_TOO_LARGE, ER_STATEMENT_TIMEOUT: the same statement hits the same limit;
//   ER_OPTION_PREVENTS_STATEMENT / ER_READ_ONLY_MODE (read_only), ER_HOST_IS_BLOCKED (needs
//   FLUSH HOSTS), access denied, CR_SSL_CONNECTION_ERROR (certificates, a server without TLS):
//   an operator has to act, and a retry loop would hide that;
//   ER_OUTOFMEMORY, ER_OUT_OF_RESOURCES: a statement that exhausts the server does so again.
bool IsTransientError(unsigned err) {
  switch (err) {
    // Connector/C: no connection, or it broke. CR_UNKNOWN_HOST: a DNS outage heals (a typo
    // does not, but the message names the host). CR_COMMANDS_OUT_OF_SYNC: this connection is
    // unusable but a new one is not; Execute and Query never leave results unread.
    case CR_SOCKET_CREATE_ERROR:
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_IPSOCK_ERROR:
    case CR_UNKNOWN_HOST:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_HANDSHAKE_ERR:
    case CR_SERVER_LOST:
    case CR_COMMANDS_OUT_OF_SYNC:
    case CR_SERVER_LOST_EXTENDED:
    case CR_ERR_NET_READ:
    case CR_ERR_NET_WRITE:
    // The server: shutting down, the session killed, too busy for another connection.
    case ER_CON_COUNT_ERROR:
    case ER_TOO_MANY_USER_CONNECTIONS:
    case ER_SERVER_SHUTDOWN:
    case ER_NORMAL_SHUTDOWN:
    case ER_CONNECTION_KILLED:
    case ER_QUERY_INTERRUPTED:  // KILL QUERY
    case ER_ABORTING_CONNECTION:
    case ER_NEW_ABORTING_CONNECTION:
    // The server's side of the network.
    case ER_NET_PACKETS_OUT_OF_ORDER:
    case ER_NET_READ_ERROR:
    case ER_NET_READ_INTERRUPTED:
    case ER_NET_ERROR_ON_WRITE:
    case ER_NET_WRITE_INTERRUPTED:
    // Other sessions held the locks. A deadlock rolled the whole transaction back; a lock wait
    // timeout only the statement (unless innodb_rollback_on_timeout): retry the transaction.
    case ER_LOCK_DEADLOCK:
    case ER_LOCK_WAIT_TIMEOUT:
    case ER_LOCK_ABORTED:
      return true;
    default:
      return false;
  }
}

namespace {

bool IsContinuationByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

}  // namespace

std::string ElideStatement(std::string_view sql, size_t max_bytes) {
  if (sql.size() <= max_bytes) return Printable(sql, sql.size());
  // Two thirds head (the verb and the table), one third tail (the end of the values, often
  // where a syntax error points). Cut between UTF-8 characters where the bytes are UTF-8.
  size_t head = max_bytes * 2 / 3;
  size_t tail = sql.size() - (max_bytes - head);
  for (int i = 0; i < 3 && head > 0 && IsContinuationByte(sql[head]); ++i) --head;
  for (int i = 0; i < 3 && tail < sql.size() && IsContinuationByte(sql[tail]); ++i) ++tail;
  std::string_view first = sql.substr(0, head);
  std::string_view last = sql.substr(tail);
  return Printable(first, first.size()) + "..." + Printable(last, last.size());
}

}  // namespace binlog::mysql
