// One wrapper of MariaDB Connector/C for every module that talks to a MariaDB/MySQL server (the
// syncer's upstream, the replay engine's destination): connect with timeouts, TLS and retries,
// run statements, read rows, and errors classed as transient or permanent.
//
// Errors: a transient failure (the connection lost or refused, the server shutting down or
// restarting, too many connections, a deadlock, a lock wait timeout) is IOError; retrying may
// cure it. Anything else the server refuses (syntax, a duplicate key, a missing table, access
// denied) is InvalidArgument: retrying will not help. Messages carry the server's text and
// error number, and the statement (elided past a length).
#pragma once

#include <mysql.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config.h"
#include "common/env.h"
#include "common/status.h"

namespace binlog::mysql {

struct TlsOptions {
  bool enabled = false;  // a server that offers no TLS is then refused, never used in clear text
  std::string ca;        // file of trusted CA certificates
  std::string cert;      // client certificate
  std::string key;       // its key
  bool verify_server_cert = false;
};

struct ConnectOptions {
  std::string host = "127.0.0.1";
  int port = 3306;
  std::string user = "root";
  std::string password;
  std::string database;  // empty: none
  TlsOptions tls;
  double connect_timeout_seconds = 10;
  // 0: none. A read that waits longer fails (transient): a vanished host sends no FIN.
  double read_timeout_seconds = 0;
  double write_timeout_seconds = 0;
  // Run after each connect, in order (SET SESSION time_zone = '+00:00', ...).
  std::vector<std::string> init_statements;
  // Connect attempts on a transient failure, with a backoff doubling from 0.5 s (1: no retry).
  int connect_attempts = 1;
};

// Reads host, port, user, password, ssl-ca, ssl-cert and ssl-key of `table` ("dest-db",
// "syncer.to") over the values *options holds; also encrypted_password (instead of password),
// decrypted with the key of LoadSecretKey (`secret-key-file` of the table). Errors name the file
// and key.
Status ReadConnectOptions(ConfigFile* file, std::string_view table, ConnectOptions* options);

// Passwords kept encrypted in config files, AES-256-GCM: there is no built-in key. The key (32
// bytes as 64 hex digits) comes from the environment variable BINLOG_SECRET_KEY, else from
// key_file (which only the service's user should be able to read).
inline constexpr char kSecretKeyEnv[] = "BINLOG_SECRET_KEY";
Result<std::string> LoadSecretKey(Env* env, const std::string& key_file);
Result<std::string> EncryptPassword(std::string_view plain, const std::string& key);
// InvalidArgument when the text is not one EncryptPassword made with this key.
Result<std::string> DecryptPassword(std::string_view encrypted, const std::string& key);

// One result row; nullopt is SQL NULL.
using Row = std::vector<std::optional<std::string>>;

// One session: never reconnected behind the caller's back (its settings and an open
// transaction would be lost silently). Not thread-safe.
class Connection {
 public:
  static Result<std::unique_ptr<Connection>> Open(const ConnectOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one statement (or several separated by ';'), discarding any result set.
  Status Execute(std::string_view sql);
  // The same, and the rows each statement changed or matched, in order (as affected_rows()):
  // as many as succeeded.
  Status Execute(std::string_view sql, std::vector<uint64_t>* affected);
  // Runs one statement and returns its rows as text.
  Result<std::vector<Row>> Query(std::string_view sql);
  // Rows changed, matched or inserted by the last statement of the last Execute
  // (mysql_affected_rows). The connection sets CLIENT_FOUND_ROWS: an UPDATE counts the rows it
  // matched, also those already holding the new values.
  uint64_t affected_rows() const { return affected_rows_; }
  // The error number of the last Execute or Query (0: it succeeded): the server's (1000-1999,
  // 3000 and up) or Connector/C's own (2000-2999, 5000 and up, e.g. CR_SERVER_LOST).
  unsigned last_errno() const { return last_errno_; }
  // "'...'"-free escaping for the connection's charset (mysql_real_escape_string).
  std::string Escape(std::string_view text) const;
  const std::string& server_version() const { return version_; }
  bool mariadb() const { return version_.find("MariaDB") != std::string::npos; }
  // For Connector/C APIs this wrapper does not cover (the replication API).
  MYSQL* handle() { return mysql_; }
  // The failure of a Connector/C call made through handle(), classed and worded like this
  // wrapper's own: "<what> on host:port: <server text> (error N)"; sets last_errno().
  Status Error(std::string_view what);

 private:
  Connection(MYSQL* mysql, std::string endpoint) : mysql_(mysql), endpoint_(std::move(endpoint)) {}
  static Result<std::unique_ptr<Connection>> OpenOnce(const ConnectOptions& options);
  Status SetOptions(const ConnectOptions& options);
  Status ConnectError(const ConnectOptions& options);
  // The failure of `sql`: the server's text and number, the statement elided.
  Status Fail(std::string_view sql);
  Status Classify(std::string message) const;
  // Reads and drops the results after the current one, so the connection is ready again.
  Status DrainResults(std::string_view sql);

  MYSQL* mysql_;
  std::string endpoint_;  // host:port, for messages
  unsigned last_errno_ = 0;
  uint64_t affected_rows_ = 0;
  std::string version_;
};

// Whether a server or client error number is transient (see above).
bool IsTransientError(unsigned err);
// A statement shortened for messages: its first and last bytes around "...".
std::string ElideStatement(std::string_view sql, size_t max_bytes = 300);

}  // namespace binlog::mysql
