// The Connector/C wrapper against a real MariaDB: rows and bytes, multi-statements, and
// errors classed transient (IOError) or permanent (InvalidArgument).
#include <errmsg.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <mysqld_error.h>

#include <thread>

#include "mysql/mysql.h"
#include "testutil/mariadb_server.h"
#include "testutil/testutil.h"

namespace binlog::mysql {
namespace {

using binlog::testing::MariaDBServer;
using binlog::testing::SharedMariaDB;

ConnectOptions RootOptions(const MariaDBServer* server, const std::string& database = "") {
  ConnectOptions o;
  o.host = server->host();
  o.port = server->port();
  o.user = "root";
  o.database = database;
  o.connect_timeout_seconds = 5;
  return o;
}

// A fresh database on the shared server, and a root connection to it.
std::unique_ptr<Connection> OpenFresh(const std::string& database) {
  MariaDBServer* server = SharedMariaDB();
  if (server == nullptr) return nullptr;
  Status s =
      server->Exec(fmt::format("DROP DATABASE IF EXISTS {0}; CREATE DATABASE {0}", database));
  EXPECT_TRUE(s.ok()) << s.ToString();
  Result<std::unique_ptr<Connection>> c = Connection::Open(RootOptions(server, database));
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(*c) : nullptr;
}

bool HasControlBytes(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

TEST(ConnectionTest, RoundTripsNullBinaryAndText) {
  std::unique_ptr<Connection> c = OpenFresh("mysql_rt");
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->mariadb()) << c->server_version();
  ASSERT_OK(c->Execute("CREATE TABLE t (id INT PRIMARY KEY, b BLOB, s VARCHAR(40))"));
  const std::string binary("a\0b'c\"d\\e\n\r\x1a\xff\xfe\x80", 15);
  const std::string text = "caf\xc3\xa9 \xf0\x9f\x90\xac 'quoted' \\";
  ASSERT_OK(c->Execute(fmt::format("INSERT INTO t VALUES (1, '{}', '{}'), (2, NULL, NULL)",
                                   c->Escape(binary), c->Escape(text))));
  EXPECT_EQ(c->affected_rows(), 2u);
  ASSERT_OK_AND_ASSIGN(std::vector<Row> rows, c->Query("SELECT id, b, s FROM t ORDER BY id"));
  ASSERT_EQ(rows.size(), 2u);
  ASSERT_EQ(rows[0].size(), 3u);
  EXPECT_EQ(rows[0][0], "1");
  EXPECT_EQ(rows[0][1], binary);
  EXPECT_EQ(rows[0][2], text);
  EXPECT_EQ(rows[1][1], std::nullopt);
  EXPECT_EQ(rows[1][2], std::nullopt);
  ASSERT_OK_AND_ASSIGN(rows, c->Query("SELECT '' FROM t WHERE id = 1"));
  EXPECT_EQ(rows[0][0], "") << "an empty string is not NULL";
  // A statement without a result set: no rows, no error.
  ASSERT_OK_AND_ASSIGN(rows, c->Query("DO 1"));
  EXPECT_TRUE(rows.empty());
}

// Escape follows the session: with NO_BACKSLASH_ESCAPES a backslash is an ordinary character
// and quotes are doubled.
TEST(ConnectionTest, EscapeFollowsNoBackslashEscapes) {
  std::unique_ptr<Connection> c = OpenFresh("mysql_nobs");
  ASSERT_NE(c, nullptr);
  ASSERT_OK(c->Execute("SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'"));
  ASSERT_OK(c->Execute("CREATE TABLE t (id INT PRIMARY KEY, b BLOB)"));
  const std::string binary("x\\'y\0z\\", 7);
  ASSERT_OK(c->Execute(fmt::format("INSERT INTO t VALUES (1, '{}')", c->Escape(binary))));
  ASSERT_OK_AND_ASSIGN(std::vector<Row> rows, c->Query("SELECT b FROM t"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], binary);
}

TEST(ConnectionTest, AffectedRowsCountMatchedRows) {
  std::unique_ptr<Connection> c = OpenFresh("mysql_affected");
  ASSERT_NE(c, nullptr);
  ASSERT_OK(c->Execute("CREATE TABLE t (id INT PRIMARY KEY, v INT)"));
  ASSERT_OK(c->Execute("INSERT INTO t VALUES (1, 10), (2, 20), (3, 30)"));
  EXPECT_EQ(c->affected_rows(), 3u);
  ASSERT_OK(c->Execute("UPDATE t SET v = 10 WHERE id = 1"));
  EXPECT_EQ(c->affected_rows(), 1u) << "the row was there, unchanged";
  ASSERT_OK(c->Execute("DELETE FROM t WHERE id = 9"));
  EXPECT_EQ(c->affected_rows(), 0u);
  // A multi-statement: the last statement's count.
  ASSERT_OK(c->Execute("DELETE FROM t WHERE id = 1; DELETE FROM t WHERE id > 1"));
  EXPECT_EQ(c->affected_rows(), 2u);
  // Each statement's count, as far as the statements succeed.
  std::vector<uint64_t> each;
  ASSERT_OK(c->Execute("INSERT INTO t VALUES (1, 1), (2, 2); UPDATE t SET v = 5 WHERE id = 9; "
                       "DELETE FROM t",
                       &each));
  EXPECT_EQ(each, (std::vector<uint64_t>{2, 0, 2}));
  each.clear();
  EXPECT_FALSE(c->Execute("INSERT INTO t VALUES (1, 1); INSERT INTO t VALUES (1, 1); DO 1", &each)
                   .ok());
  EXPECT_EQ(each, (std::vector<uint64_t>{1}));
}

TEST(ConnectionTest, MultiStatementLeavesTheConnectionUsable) {
  std::unique_ptr<Connection> c = OpenFresh("mysql_multi");
  ASSERT_NE(c, nullptr);
  ASSERT_OK(c->Execute(
      "CREATE TABLE t (id INT PRIMARY KEY); SELECT 1; INSERT INTO t VALUES (1); SELECT * FROM "
      "t; INSERT INTO t VALUES (2)"));
  ASSERT_OK_AND_ASSIGN(std::vector<Row> rows, c->Query("SELECT COUNT(*) FROM t"));
  EXPECT_EQ(rows[0][0], "2");

  // A later statement fails: that failure is reported, the rest is not run, and the
  // connection still works.
  Status s = c->Execute(
      "INSERT INTO t VALUES (3); INSERT INTO t VALUES (1); INSERT INTO t "
      "VALUES (4)");
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ(c->last_errno(), static_cast<unsigned>(ER_DUP_ENTRY));
  ASSERT_OK_AND_ASSIGN(rows, c->Query("SELECT GROUP_CONCAT(id ORDER BY id) FROM t"));
  EXPECT_EQ(rows[0][0], "1,2,3");
  EXPECT_EQ(c->last_errno(), 0u) << "a success clears it";

  // Query returns the first result set and reads the others.
  ASSERT_OK_AND_ASSIGN(rows, c->Query("SELECT 'first'; SELECT 'second'; SELECT 'third'"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "first");
  ASSERT_OK_AND_ASSIGN(rows, c->Query("SELECT 'next'"));
  EXPECT_EQ(rows[0][0], "next");
}

TEST(ConnectionTest, SyntaxErrorIsPermanentAndNamesTheStatement) {
  std::unique_ptr<Connection> c = OpenFresh("mysql_syntax");
  ASSERT_NE(c, nullptr);
  // Long, with bytes a terminal must not receive: the message keeps its head and tail,
  // escaped.
  std::string sql = "SELEC 'head-marker', '\x1b[2J" + std::string(1000, 'x') + "', 'tail-marker'";
  Status s = c->Execute(sql);
  ASSERT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ(c->last_errno(), static_cast<unsigned>(ER_PARSE_ERROR));
  EXPECT_NE(s.message().find("(error 1064)"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("SQL syntax"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("SELEC 'head-marker', '\\x1b[2J"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("'tail-marker'"), std::string::npos) << s.message();
  EXPECT_NE(
      s.message().find(fmt::format("{}:{}", SharedMariaDB()->host(), SharedMariaDB()->port())),
      std::string::npos)
      << s.message();
  EXPECT_FALSE(HasControlBytes(s.message())) << s.message();
  EXPECT_LT(s.message().size(), 1000u) << s.message();

  Result<std::vector<Row>> q = c->Query("SELECT * FROM no_such_table");
  ASSERT_FALSE(q.ok());
  EXPECT_TRUE(q.status().IsInvalidArgument()) << q.status().ToString();
  EXPECT_EQ(c->last_errno(), static_cast<unsigned>(ER_NO_SUCH_TABLE));
  EXPECT_NE(q.status().message().find("no_such_table"), std::string::npos);
}

TEST(ConnectionTest, DuplicateKeyIsPermanent) {
  std::unique_ptr<Connection> c = OpenFresh("mysql_dup");
  ASSERT_NE(c, nullptr);
  ASSERT_OK(c->Execute("CREATE TABLE t (id INT PRIMARY KEY)"));
  ASSERT_OK(c->Execute("INSERT INTO t VALUES (7)"));
  Status s = c->Execute("INSERT INTO t VALUES (7)");
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ(c->last_errno(), static_cast<unsigned>(ER_DUP_ENTRY));
  EXPECT_NE(s.message().find("Duplicate entry '7'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("INSERT INTO t VALUES (7)"), std::string::npos) << s.message();
}

TEST(ConnectionTest, LockWaitTimeoutIsTransient) {
  std::unique_ptr<Connection> a = OpenFresh("mysql_lockwait");
  ASSERT_NE(a, nullptr);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Connection> b,
                       Connection::Open(RootOptions(SharedMariaDB(), "mysql_lockwait")));
  ASSERT_OK(a->Execute("CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 0)"));
  ASSERT_OK(a->Execute("BEGIN; UPDATE t SET v = 1 WHERE id = 1"));
  ASSERT_OK(b->Execute("SET SESSION innodb_lock_wait_timeout = 1"));
  Status s = b->Execute("UPDATE t SET v = 2 WHERE id = 1");
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(b->last_errno(), static_cast<unsigned>(ER_LOCK_WAIT_TIMEOUT));
  ASSERT_OK(a->Execute("COMMIT"));
  // The retry the classification promises works.
  ASSERT_OK(b->Execute("UPDATE t SET v = 2 WHERE id = 1"));
}

TEST(ConnectionTest, DeadlockIsTransient) {
  std::unique_ptr<Connection> a = OpenFresh("mysql_deadlock");
  ASSERT_NE(a, nullptr);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Connection> b,
                       Connection::Open(RootOptions(SharedMariaDB(), "mysql_deadlock")));
  ASSERT_OK(
      a->Execute("CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 0), "
                 "(2, 0)"));
  ASSERT_OK(a->Execute("BEGIN; UPDATE t SET v = 1 WHERE id = 1"));
  ASSERT_OK(b->Execute("BEGIN; UPDATE t SET v = 2 WHERE id = 2"));
  // Each now asks for the other's row: whichever asks second closes the cycle.
  Status a_status;
  std::thread crossing([&] { a_status = a->Execute("UPDATE t SET v = 1 WHERE id = 2"); });
  Status b_status = b->Execute("UPDATE t SET v = 2 WHERE id = 1");
  crossing.join();
  // InnoDB rolls one of them back; the other gets its lock.
  ASSERT_NE(a_status.ok(), b_status.ok()) << a_status.ToString() << " / " << b_status.ToString();
  Connection* victim = a_status.ok() ? b.get() : a.get();
  const Status& failed = a_status.ok() ? b_status : a_status;
  EXPECT_TRUE(failed.IsIOError()) << failed.ToString();
  EXPECT_EQ(victim->last_errno(), static_cast<unsigned>(ER_LOCK_DEADLOCK));
  EXPECT_NE(failed.message().find("Deadlock"), std::string::npos) << failed.message();
  ASSERT_OK((a_status.ok() ? a : b)->Execute("COMMIT"));
}

TEST(ConnectionTest, AccessDeniedNamesTheUserAndIsNotRetried) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  ConnectOptions o = RootOptions(server);
  o.user = "mysql_test_nobody";
  o.password = "wrong";
  o.connect_attempts = 3;
  Result<std::unique_ptr<Connection>> c = Connection::Open(o);
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.status().IsInvalidArgument()) << c.status().ToString();
  const std::string& msg = c.status().message();
  EXPECT_NE(msg.find("as mysql_test_nobody"), std::string::npos) << msg;
  EXPECT_NE(msg.find(fmt::format("{}:{}", server->host(), server->port())), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("(error 1045)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("password"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("attempts"), std::string::npos) << "a permanent error is not retried: " << msg;
}

TEST(ConnectionTest, InitStatementsRunInOrder) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  ConnectOptions o = RootOptions(server);
  o.init_statements = {"SET SESSION time_zone = '+05:00'", "SET SESSION time_zone = '+00:00'",
                       "SET @mysql_test_marker = 'set'"};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Connection> c, Connection::Open(o));
  ASSERT_OK_AND_ASSIGN(std::vector<Row> rows,
                       c->Query("SELECT @@session.time_zone, @mysql_test_marker, "
                                "@@character_set_client"));
  EXPECT_EQ(rows[0][0], "+00:00");
  EXPECT_EQ(rows[0][1], "set");
  EXPECT_EQ(rows[0][2], "utf8mb4");

  o.init_statements = {"SET SESSION time_zone = 'Nowhere/Else'"};
  Result<std::unique_ptr<Connection>> bad = Connection::Open(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().IsInvalidArgument()) << bad.status().ToString();
  EXPECT_NE(bad.status().message().find("init statement"), std::string::npos)
      << bad.status().message();
  EXPECT_NE(bad.status().message().find("Nowhere/Else"), std::string::npos)
      << bad.status().message();
}

TEST(ConnectionTest, ReadTimeoutIsTransient) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  ConnectOptions o = RootOptions(server);
  o.read_timeout_seconds = 1;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Connection> c, Connection::Open(o));
  Status s = c->Execute("SELECT SLEEP(5)");
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_TRUE(IsTransientError(c->last_errno())) << c->last_errno();
}

// A crash: the next statement fails transiently, and an Open with attempts to spare outlasts
// the restart.
TEST(ConnectionTest, ServerKilledThenRestarted) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<MariaDBServer> server, MariaDBServer::Start());
  ConnectOptions o = RootOptions(server.get());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Connection> c, Connection::Open(o));
  ASSERT_OK(c->Execute("SELECT 1"));
  ASSERT_OK(server->Kill());
  Status s = c->Execute("SELECT 1");
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_TRUE(c->last_errno() == CR_SERVER_LOST || c->last_errno() == CR_SERVER_GONE_ERROR)
      << c->last_errno();
  s = c->Execute("SELECT 1");
  EXPECT_TRUE(s.IsIOError()) << "still gone: " << s.ToString();

  Result<std::unique_ptr<Connection>> refused = Connection::Open(o);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().IsIOError()) << refused.status().ToString();

  o.connect_attempts = 8;  // 0.5 + 1 + 2 + 4 + 5 + 5 + 5 s of patience
  Result<std::unique_ptr<Connection>> reopened = Status::Aborted("not run");
  std::thread opener([&] { reopened = Connection::Open(o); });
  Status restarted = server->Restart();
  opener.join();
  ASSERT_OK(restarted);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  ASSERT_OK((*reopened)->Execute("SELECT 1"));
}

TEST(ConnectionTest, HandleErrorsAreClassedLikeStatements) {
  std::unique_ptr<Connection> c = OpenFresh("mysql_handle");
  ASSERT_NE(c, nullptr);
  ASSERT_NE(mysql_select_db(c->handle(), "mysql_no_such_db"), 0);
  Status s = c->Error("select the database");
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ(c->last_errno(), static_cast<unsigned>(ER_BAD_DB_ERROR));
  EXPECT_NE(s.message().find("select the database on "), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("(error 1049)"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace binlog::mysql
