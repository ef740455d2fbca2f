// Statements shortened for messages, and which error numbers a retry may cure.
#include <errmsg.h>
#include <gtest/gtest.h>
#include <mysqld_error.h>

#include "mysql/mysql.h"

namespace binlog::mysql {
namespace {

TEST(ElideStatementTest, ShortStatementsAreWhole) {
  EXPECT_EQ(ElideStatement("SELECT 1"), "SELECT 1");
  std::string exact(300, 'a');
  EXPECT_EQ(ElideStatement(exact), exact);
}

TEST(ElideStatementTest, KeepsTheHeadAndTheTail) {
  std::string sql = "INSERT INTO t VALUES " + std::string(5000, '0') + " ON DUPLICATE KEY";
  std::string e = ElideStatement(sql);
  EXPECT_EQ(e, sql.substr(0, 200) + "..." + sql.substr(sql.size() - 100));
  e = ElideStatement(sql, 30);
  EXPECT_EQ(e,
            "INSERT INTO t VALUES"
            "...LICATE KEY");
}

// Values may be binary: control bytes and non-UTF-8 come out escaped, and a cut never splits a
// UTF-8 character into escaped halves.
TEST(ElideStatementTest, IsPrintable) {
  EXPECT_EQ(ElideStatement(std::string("'\0\x1b[2J\xff\\'", 9)), "'\\x00\\x1b[2J\\xff\\\\'");
  std::string sql = std::string(199, 'h') + "\xc3\xa9" + std::string(1000, 'm') + "\xe2\x82\xac" +
                    std::string(98, 't');
  std::string e = ElideStatement(sql);
  EXPECT_EQ(e, std::string(199, 'h') + "..." + std::string(98, 't')) << e;
  EXPECT_EQ(e.find("\\x"), std::string::npos) << e;
}

TEST(IsTransientErrorTest, ConnectionLocksAndShutdownAreTransient) {
  for (int err : {CR_SERVER_LOST, CR_SERVER_GONE_ERROR, CR_CONN_HOST_ERROR, CR_CONNECTION_ERROR,
                  CR_SERVER_LOST_EXTENDED, CR_COMMANDS_OUT_OF_SYNC, ER_SERVER_SHUTDOWN,
                  ER_CONNECTION_KILLED, ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT, ER_CON_COUNT_ERROR,
                  ER_NET_READ_ERROR, ER_NET_READ_INTERRUPTED, ER_NET_ERROR_ON_WRITE}) {
    EXPECT_TRUE(IsTransientError(static_cast<unsigned>(err))) << err;
  }
}

TEST(IsTransientErrorTest, WhatNeedsAnOperatorIsPermanent) {
  for (int err : {0, ER_PARSE_ERROR, ER_DUP_ENTRY, ER_NO_SUCH_TABLE, ER_ACCESS_DENIED_ERROR,
                  ER_DBACCESS_DENIED_ERROR, ER_NET_PACKET_TOO_LARGE, ER_OPTION_PREVENTS_STATEMENT,
                  ER_STATEMENT_TIMEOUT, CR_SSL_CONNECTION_ERROR, ER_HOST_IS_BLOCKED}) {
    EXPECT_FALSE(IsTransientError(static_cast<unsigned>(err))) << err;
  }
}

}  // namespace
}  // namespace binlog::mysql
