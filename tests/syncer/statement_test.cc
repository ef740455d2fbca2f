// Query events: a data change a session logged as a statement is refused, naming the position
// and the statement; DDL and account statements stay statements.
#include "syncer/statement.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "syncer/syncer_test_util.h"

namespace binlog::syncer::testing {
namespace {

using binlog::testing::SharedMariaDB;
using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(ClassifyStatementTest, KnowsTheWordsThatMatter) {
  struct Case {
    const char* query;
    StatementKind kind;
  };
  const Case cases[] = {
      {"BEGIN", StatementKind::kBegin},
      {"COMMIT", StatementKind::kCommit},
      {"ROLLBACK", StatementKind::kRollback},
      {"ROLLBACK TO SAVEPOINT s1", StatementKind::kRollbackToSavepoint},
      {"rollback work to s1", StatementKind::kRollbackToSavepoint},
      {"SAVEPOINT s1", StatementKind::kSavepoint},
      {"RELEASE SAVEPOINT s1", StatementKind::kSavepoint},
      {"XA START 'x'", StatementKind::kXa},
      {"INSERT INTO t VALUES (1)", StatementKind::kDataChange},
      {"  /* app:42 */ insert into t values (1)", StatementKind::kDataChange},
      {"-- a comment\nUPDATE t SET a = 1", StatementKind::kDataChange},
      {"# hash comment\nDELETE FROM t WHERE id = 1", StatementKind::kDataChange},
      {"(UPDATE t SET a = 1)", StatementKind::kDataChange},
      {"/*!40000 REPLACE INTO t VALUES (1) */", StatementKind::kDataChange},
      {"LOAD DATA INFILE '/tmp/x' INTO TABLE t", StatementKind::kDataChange},
      {"WITH c AS (SELECT 1) UPDATE t, c SET t.a = 1", StatementKind::kDataChange},
      {"CREATE TABLE t2 SELECT * FROM t1", StatementKind::kDataChange},
      {"CREATE OR REPLACE TABLE t2 AS (SELECT * FROM t1)", StatementKind::kDataChange},
      {"DELETE FROM t LIMIT 1", StatementKind::kDataChange},
      {"DELETE QUICK FROM t", StatementKind::kDataChange},
      // A whole table emptied, as a server does to a MEMORY table after a restart: the same
      // effect on any data.
      {"DELETE FROM `db`.`mem`", StatementKind::kOther},
      {"TRUNCATE TABLE t", StatementKind::kOther},
      {"CREATE TABLE t (id INT, note VARCHAR(20) DEFAULT 'select')", StatementKind::kOther},
      {"CREATE VIEW v AS SELECT * FROM t", StatementKind::kOther},
      {"ALTER TABLE t ADD COLUMN c INT", StatementKind::kOther},
      {"GRANT SELECT ON db.* TO 'u'@'%'", StatementKind::kOther},
      {"CREATE USER 'u'@'%' IDENTIFIED BY 'x'", StatementKind::kOther},
      {"/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`%`*/ /*!50003 TRIGGER tr BEFORE INSERT ON t "
       "FOR EACH ROW SET NEW.a = 1 */",
       StatementKind::kOther},
      {"", StatementKind::kOther},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(StatementKindName(ClassifyStatement(c.query)), StatementKindName(c.kind)) << c.query;
  }
}

class StatementEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = SharedMariaDB();
    ASSERT_NE(server_, nullptr);
    ASSERT_OK(server_->Exec("CREATE DATABASE IF NOT EXISTS stm"));
    ASSERT_OK(server_->Exec("DROP TABLE IF EXISTS stm.t, stm.t2, stm.t3"));
    ASSERT_OK(server_->Exec("CREATE TABLE stm.t (id INT PRIMARY KEY, a INT)"));
  }
  MariaDBServer* server_ = nullptr;
};

TEST_F(StatementEventsTest, AStatementLoggedInsertIsRefusedWithPositionAndStatement) {
  BinlogPosition from = EndOfBinlog(server_);
  ASSERT_OK(
      server_->Exec("SET SESSION binlog_format = 'STATEMENT'; INSERT INTO stm.t VALUES (1, 2); "
                    "SET SESSION binlog_format = 'ROW'"));
  Result<std::vector<pb::Binlog>> out = ReadTransactions(server_, from, 1, 5);
  ASSERT_FALSE(out.ok()) << "archived as: "
                         << (out.ok() && !out->empty() ? (*out)[0].ddl_query() : std::string());
  EXPECT_TRUE(out.status().IsUnsupported()) << out.status().ToString();
  EXPECT_THAT(
      out.status().message(),
      AllOf(HasSubstr("logged as a statement"), HasSubstr("INSERT INTO stm.t VALUES (1, 2)"),
            HasSubstr("Query event at " + from.name + ":"), HasSubstr("binlog_format")));
}

TEST_F(StatementEventsTest, StatementLoggedUpdateDeleteAndCreateSelectAreRefused) {
  ASSERT_OK(server_->Exec("INSERT INTO stm.t VALUES (1, 1), (2, 2)"));
  for (const char* dml :
       {"UPDATE stm.t SET a = a + 1 WHERE id = 1", "DELETE FROM stm.t WHERE id = 2",
        "REPLACE INTO stm.t VALUES (3, 3)", "CREATE TABLE stm.t2 SELECT * FROM stm.t"}) {
    SCOPED_TRACE(dml);
    BinlogPosition from = EndOfBinlog(server_);
    ASSERT_OK(server_->Exec(fmt::format(
        "SET SESSION binlog_format = 'STATEMENT'; {}; SET SESSION binlog_format = 'ROW'", dml)));
    Result<std::vector<pb::Binlog>> out = ReadTransactions(server_, from, 1, 5);
    ASSERT_FALSE(out.ok());
    EXPECT_THAT(out.status().message(), HasSubstr(dml));
  }
}

TEST_F(StatementEventsTest, DdlAccountStatementsAndRowCreateSelectStayArchived) {
  BinlogPosition from = EndOfBinlog(server_);
  ASSERT_OK(server_->Exec("DROP USER IF EXISTS 'stm_u'@'%'"));
  from = EndOfBinlog(server_);
  ASSERT_OK(server_->Exec(
      "CREATE USER 'stm_u'@'%' IDENTIFIED BY 'pw'; GRANT SELECT ON stm.* TO 'stm_u'@'%'; "
      "ALTER TABLE stm.t ADD COLUMN b INT; CREATE TABLE stm.t3 SELECT id FROM stm.t; "
      "DROP USER 'stm_u'@'%'"));
  ASSERT_OK_AND_ASSIGN(auto txns, ReadTransactions(server_, from, 5, 10));
  ASSERT_EQ(txns.size(), 5u);
  EXPECT_THAT(txns[0].ddl_query(), HasSubstr("CREATE USER"));
  EXPECT_THAT(txns[1].ddl_query(), HasSubstr("GRANT SELECT"));
  EXPECT_THAT(txns[2].ddl_query(), HasSubstr("ADD COLUMN b"));
  // In ROW format the server logs the CREATE TABLE alone, the rows as row events.
  EXPECT_THAT(txns[3].ddl_query(), HasSubstr("CREATE TABLE"));
  EXPECT_THAT(txns[3].ddl_query(), ::testing::Not(HasSubstr("SELECT")));
  EXPECT_THAT(txns[4].ddl_query(), HasSubstr("DROP USER"));
}

}  // namespace
}  // namespace binlog::syncer::testing
