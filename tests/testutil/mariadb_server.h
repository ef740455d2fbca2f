// A private MariaDB server for tests: its own datadir in a temp dir, a free loopback port, ROW
// binlog with FULL row image and FULL row metadata, utf8mb4 as the server charset, and a
// replication user. The destructor kills it and removes the directory.
//
// Starting costs ~0.3 s: the datadir is copied from a template that mariadb-install-db builds
// once per build tree (under the build dir, shared by test processes). Test binaries share one
// server through SharedMariaDB(); restart and configuration tests start their own.
//
// Usable by any module's tests (the syncer's, the drainer's MySQL sink): link
// binlog_testutil_mariadb.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "mysql/mysql.h"

namespace binlog::testing {

// One result row; nullopt is SQL NULL.
using SqlRow = mysql::Row;

// A client connection (a mysql::Connection with the tests' session settings), closed on
// destruction. Not thread-safe. Errors are the module's: IOError when transient,
// InvalidArgument otherwise.
class MariaDBConnection {
 public:
  // database may be empty. The session uses utf8mb4 and time_zone '+00:00', so TIMESTAMP values
  // read back in UTC text.
  static Result<std::unique_ptr<MariaDBConnection>> Open(const std::string& host, int port,
                                                         const std::string& user,
                                                         const std::string& password,
                                                         const std::string& database = "");
  ~MariaDBConnection() = default;
  MariaDBConnection(const MariaDBConnection&) = delete;
  MariaDBConnection& operator=(const MariaDBConnection&) = delete;

  // Runs one statement (or several separated by ';'), discarding any result set.
  Status Exec(std::string_view sql);
  // Runs one statement and returns its rows as text, as the client protocol sends them.
  Result<std::vector<SqlRow>> Query(std::string_view sql);
  // The first column of the first row (InvalidArgument when there is none or it is NULL).
  Result<std::string> QueryValue(std::string_view sql);
  MYSQL* handle() { return conn_->handle(); }

 private:
  explicit MariaDBConnection(std::unique_ptr<mysql::Connection> conn) : conn_(std::move(conn)) {}
  std::unique_ptr<mysql::Connection> conn_;
};

struct MariaDBOptions {
  // Appended to the server's command line after the defaults, so they can override them:
  // {"--binlog-format=STATEMENT"}, {"--binlog-row-metadata=NO_LOG"}.
  std::vector<std::string> extra_args;
};

class MariaDBServer {
 public:
  // The replication user every server has: REPLICATION SLAVE and BINLOG MONITOR (REPLICATION
  // CLIENT), plus SELECT for the tests that read data through it.
  static constexpr const char* kReplUser = "repl";
  static constexpr const char* kReplPassword = "repl-pw";

  // Starts a server and waits (bounded) until it accepts connections.
  static Result<std::unique_ptr<MariaDBServer>> Start(const MariaDBOptions& options = {});
  ~MariaDBServer();
  MariaDBServer(const MariaDBServer&) = delete;
  MariaDBServer& operator=(const MariaDBServer&) = delete;

  const std::string& host() const { return host_; }
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  std::string datadir() const { return dir_ + "/data"; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // Clean shutdown (SIGTERM, waits for the exit).
  Status Stop();
  // SIGKILL: a crash.
  Status Kill();
  // Starts it again on the same datadir and port (after Stop or Kill). The server gets SIGKILL
  // when the thread that started it exits (PR_SET_PDEATHSIG): call this from the test's thread.
  Status Restart();

  // A new root connection.
  Result<std::unique_ptr<MariaDBConnection>> Connect(const std::string& database = "") const;
  // Runs SQL as root on a connection kept by the server object (reopened after a restart).
  Status Exec(std::string_view sql);
  Result<std::vector<SqlRow>> Query(std::string_view sql);
  Result<std::string> QueryValue(std::string_view sql);

 private:
  MariaDBServer() = default;
  Status Launch();
  Status WaitReady();
  std::string LogTail() const;

  MariaDBOptions options_;
  std::string host_ = "127.0.0.1";
  int port_ = 0;
  std::string dir_;
  pid_t pid_ = -1;
  std::unique_ptr<MariaDBConnection> root_;
};

// The server shared by the tests of one process, started on first use and killed at exit.
// Tests that share it use their own databases. Fails the calling test when it cannot start.
MariaDBServer* SharedMariaDB();

}  // namespace binlog::testing
