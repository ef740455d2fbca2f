// A group's statements: merged across transactions only where the end state allows.
#include "replay/group.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testutil/testutil.h"

namespace binlog::replay {
namespace {

using ::testing::ElementsAre;

// t(id INT PRIMARY KEY, v INT)
std::shared_ptr<const TableSchema> Keyed() {
  auto t = std::make_shared<TableSchema>();
  t->db = "db";
  t->table = "t";
  t->columns = {{"id", false, "", "int"}, {"v", true, "", "int"}};
  t->unique_keys = {{"PRIMARY", {0}, true}};
  t->row_key = 0;
  return t;
}

pb::Binlog Txn(uint64_t ts, std::initializer_list<std::pair<pb::MutationType, int64_t>> rows) {
  pb::Binlog b;
  b.set_tp(pb::COMMIT);
  b.set_commit_ts(static_cast<int64_t>(ts));
  pb::TableChanges* t = b.add_tables();
  t->set_schema_name("db");
  t->set_table_name("t");
  t->add_columns()->set_name("id");
  t->add_columns()->set_name("v");
  for (const auto& [type, id] : rows) {
    pb::TableMutation* m = t->add_mutations();
    m->set_type(type);
    pb::Row* image = type == pb::UPDATE ? m->mutable_before() : m->mutable_row();
    image->add_columns()->set_int64_value(id);
    image->add_columns()->set_int64_value(0);
    if (type == pb::UPDATE) {
      m->mutable_row()->add_columns()->set_int64_value(id);
      m->mutable_row()->add_columns()->set_int64_value(1);
    }
  }
  return b;
}

std::vector<std::string> Plan(const std::vector<pb::Binlog>& txns, bool merge) {
  std::vector<const pb::Binlog*> group;
  for (const pb::Binlog& b : txns) group.push_back(&b);
  auto table = Keyed();
  std::vector<PlannedStatement> out;
  Status s = PlanGroup(
      group, [&](const pb::TableChanges&) { return Result<std::shared_ptr<const TableSchema>>(table); },
      SqlOptions{}, merge, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::vector<std::string> sql;
  for (const PlannedStatement& p : out) sql.push_back(p.statement.sql);
  return sql;
}

TEST(PlanGroupTest, TransactionsOnDifferentRowsShareStatements) {
  std::vector<pb::Binlog> txns = {Txn(1, {{pb::INSERT, 1}}), Txn(2, {{pb::UPDATE, 7}}),
                                  Txn(3, {{pb::DELETE, 8}}), Txn(4, {{pb::INSERT, 2}}),
                                  Txn(5, {{pb::DELETE, 9}})};
  EXPECT_THAT(Plan(txns, true),
              ElementsAre("INSERT INTO `db`.`t` (`id`, `v`) VALUES (1, 0), (2, 0)",
                          "UPDATE `db`.`t` SET `v` = 1 WHERE `id` = 7",
                          "DELETE FROM `db`.`t` WHERE `id` IN (8, 9)"));
  EXPECT_EQ(Plan(txns, false).size(), 5u) << "one by one, to name the statement that fails";
}

// Delete 1, insert 1 again, delete 2: moving the second delete next to the first would be
// harmless here, but the group touches row 1 twice, so its order is kept (neighbours merge).
TEST(PlanGroupTest, ARowTouchedTwiceKeepsTheOrder) {
  std::vector<pb::Binlog> txns = {Txn(1, {{pb::DELETE, 1}}), Txn(2, {{pb::INSERT, 1}}),
                                  Txn(3, {{pb::DELETE, 2}}), Txn(4, {{pb::DELETE, 3}})};
  EXPECT_THAT(Plan(txns, true),
              ElementsAre("DELETE FROM `db`.`t` WHERE `id` IN (1)",
                          "INSERT INTO `db`.`t` (`id`, `v`) VALUES (1, 0)",
                          "DELETE FROM `db`.`t` WHERE `id` IN (2, 3)"));
}

// A transaction of several statements keeps their order; others may join its statements.
TEST(PlanGroupTest, AMultiStatementTransactionKeepsItsOrder) {
  std::vector<pb::Binlog> txns = {Txn(1, {{pb::INSERT, 1}, {pb::UPDATE, 5}, {pb::INSERT, 2}}),
                                  Txn(2, {{pb::INSERT, 3}})};
  EXPECT_THAT(Plan(txns, true),
              ElementsAre("INSERT INTO `db`.`t` (`id`, `v`) VALUES (1, 0)",
                          "UPDATE `db`.`t` SET `v` = 1 WHERE `id` = 5",
                          "INSERT INTO `db`.`t` (`id`, `v`) VALUES (2, 0), (3, 0)"));
}

}  // namespace
}  // namespace binlog::replay
