#include "replay/filter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "testutil/testutil.h"

namespace binlog::replay {
namespace {

// FilterRules built field by field (designated initializers that leave some out do not pass
// -Wmissing-field-initializers).
struct Rules {
  FilterRules r;
  Rules& DoDbs(std::vector<std::string> v) {
    r.do_dbs = std::move(v);
    return *this;
  }
  Rules& DoTables(std::vector<TableRule> v) {
    r.do_tables = std::move(v);
    return *this;
  }
  Rules& IgnoreDbs(std::vector<std::string> v) {
    r.ignore_dbs = std::move(v);
    return *this;
  }
  Rules& IgnoreTables(std::vector<TableRule> v) {
    r.ignore_tables = std::move(v);
    return *this;
  }
  Rules& IgnoreSchemas(std::vector<std::string> v) {
    r.ignore_schemas = std::move(v);
    return *this;
  }
};

Filter MakeFilter(const Rules& rules) {
  Result<Filter> f = Filter::Make(rules.r);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return std::move(f).value();
}

DdlTarget Database(std::string name) {
  DdlTarget t;
  t.schema = std::move(name);
  t.database_level = true;
  return t;
}

DdlTarget Table(std::string db, std::string table) {
  DdlTarget t;
  t.schema = std::move(db);
  t.table = std::move(table);
  return t;
}

TEST(FilterTest, NoRulesAcceptEverything) {
  Filter f = MakeFilter(Rules());
  EXPECT_TRUE(f.empty());
  EXPECT_TRUE(f.Accepts("shop", "orders"));
  EXPECT_TRUE(f.Accepts("mysql", "user"));
  EXPECT_TRUE(f.Accepts("", ""));
  EXPECT_TRUE(f.AcceptsDdl(Database("x")));
}

// TiDB-Binlog's own cases (pkg/filter/filter_test.go), with the same answers.
TEST(FilterTest, TidbBinlogCases) {
  Rules rules;
  rules.DoDbs({"fulldb", "~fulldb_re.*"}).DoTables({{"db", "table"}, {"db2", "~table"}});
  Filter f = MakeFilter(rules);
  EXPECT_FALSE(f.empty());
  EXPECT_TRUE(f.Accepts("Fulldb", "t1"));
  EXPECT_TRUE(f.Accepts("fulldb_re_x", ""));
  EXPECT_FALSE(f.Accepts("db", "table_skip"));
  EXPECT_TRUE(f.Accepts("db2", "table"));

  rules.IgnoreDbs({"db2"});
  f = MakeFilter(rules);
  EXPECT_TRUE(f.Accepts("Fulldb", "t1"));
  EXPECT_TRUE(f.Accepts("fulldb_re_x", ""));
  EXPECT_FALSE(f.Accepts("db", "table_skip"));
  EXPECT_FALSE(f.Accepts("db2", "table"));

  f = MakeFilter(Rules().IgnoreTables({{"ignore", "ignore"}}));
  EXPECT_FALSE(f.Accepts("ignore", "ignore"));
  EXPECT_TRUE(f.Accepts("not_ignore", "not_ignore"));
}

TEST(FilterTest, NamesCompareCaseInsensitively) {
  Filter f = MakeFilter(Rules().DoDbs({"Shop", "~^EU_"}).DoTables({{"CRM", "Users"}}));
  EXPECT_TRUE(f.Accepts("shop", "t"));
  EXPECT_TRUE(f.Accepts("SHOP", "t"));
  EXPECT_TRUE(f.Accepts("eu_west", "t"));
  EXPECT_TRUE(f.Accepts("Eu_West", "t"));
  EXPECT_TRUE(f.Accepts("crm", "USERS"));
  EXPECT_FALSE(f.Accepts("crm", "accounts"));
  EXPECT_FALSE(f.Accepts("shops", "t"));
  EXPECT_FALSE(f.Accepts("sho", "t"));
}

TEST(FilterTest, NonAsciiNamesFoldTheirCase) {
  Filter f =
      MakeFilter(Rules().DoDbs({"\xc3\x9c"
                                "ber"}));  // "Über"
  EXPECT_TRUE(
      f.Accepts("\xc3\xbc"
                "ber",
                "t"));  // "über"
  EXPECT_TRUE(
      f.Accepts("\xc3\x9c"
                "BER",
                "t"));
  EXPECT_FALSE(
      f.Accepts("\xc3\xbc"
                "bers",
                "t"));
  EXPECT_FALSE(f.Accepts("uber", "t"));
}

// As in TiDB-Binlog (Go's regexp.MatchString): a '~' rule matches anywhere in the name.
TEST(FilterTest, RegularExpressionsAreUnanchored) {
  Filter f = MakeFilter(Rules().DoDbs({"~shop"}));
  EXPECT_TRUE(f.Accepts("shop", "t"));
  EXPECT_TRUE(f.Accepts("eshop_1", "t"));
  EXPECT_FALSE(f.Accepts("sho_p", "t"));
  f = MakeFilter(Rules().DoDbs({"~^shop$"}));
  EXPECT_TRUE(f.Accepts("shop", "t"));
  EXPECT_FALSE(f.Accepts("eshop_1", "t"));
  f = MakeFilter(Rules().DoDbs({"~"}));  // the empty expression matches every name
  EXPECT_TRUE(f.Accepts("anything", "t"));
}

TEST(FilterTest, PlainNamesAreNotRegularExpressions) {
  Filter f = MakeFilter(Rules().DoDbs({"a.b", "c$d", "e*"}));
  EXPECT_TRUE(f.Accepts("a.b", "t"));
  EXPECT_FALSE(f.Accepts("axb", "t"));
  EXPECT_TRUE(f.Accepts("c$d", "t"));
  EXPECT_TRUE(f.Accepts("e*", "t"));
  EXPECT_FALSE(f.Accepts("ee", "t"));
  EXPECT_FALSE(f.Accepts("e", "t"));
}

TEST(FilterTest, DoDbsAndDoTablesEachSelect) {
  Filter f = MakeFilter(Rules().DoDbs({"shop"}).DoTables({{"crm", "users"}}));
  EXPECT_TRUE(f.Accepts("shop", "anything"));
  EXPECT_TRUE(f.Accepts("crm", "users"));
  EXPECT_FALSE(f.Accepts("crm", "accounts"));
  EXPECT_FALSE(f.Accepts("other", "users"));
}

TEST(FilterTest, IgnoreListsRemoveWhatTheDoListsSelect) {
  Filter f = MakeFilter(
      Rules().DoDbs({"shop", "crm"}).IgnoreDbs({"crm"}).IgnoreTables({{"shop", "~^tmp_"}}));
  EXPECT_TRUE(f.Accepts("shop", "orders"));
  EXPECT_FALSE(f.Accepts("shop", "tmp_orders"));
  EXPECT_FALSE(f.Accepts("crm", "users"));
  EXPECT_FALSE(f.Accepts("other", "orders"));  // not selected

  // Without a do-list everything not ignored is accepted.
  f = MakeFilter(Rules().IgnoreDbs({"~^test"}).IgnoreTables({{"shop", "log"}}));
  EXPECT_TRUE(f.Accepts("shop", "orders"));
  EXPECT_FALSE(f.Accepts("shop", "LOG"));
  EXPECT_TRUE(f.Accepts("crm", "log"));
  EXPECT_FALSE(f.Accepts("test_1", "t"));
}

TEST(FilterTest, IgnoreSchemasAreIgnoredDatabases) {
  Filter f = MakeFilter(
      Rules().IgnoreSchemas({"INFORMATION_SCHEMA", "PERFORMANCE_SCHEMA", "mysql", "~^tmp"}));
  EXPECT_FALSE(f.empty());
  EXPECT_FALSE(f.Accepts("mysql", "user"));
  EXPECT_FALSE(f.Accepts("information_schema", "tables"));
  EXPECT_FALSE(f.Accepts("Performance_Schema", "x"));
  EXPECT_FALSE(f.Accepts("tmp1", "x"));
  EXPECT_TRUE(f.Accepts("shop", "orders"));
  EXPECT_FALSE(f.AcceptsDdl(Database("mysql")));

  // Also when a do-rule selects the schema.
  f = MakeFilter(Rules().DoDbs({"mysql"}).IgnoreSchemas({"mysql"}));
  EXPECT_FALSE(f.Accepts("mysql", "user"));
}

TEST(FilterTest, BadRulesAreRefusedByName) {
  Result<Filter> f = Filter::Make(Rules().DoDbs({"~(shop"}).r);
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(f.status().IsInvalidArgument());
  EXPECT_NE(f.status().message().find("replicate-do-db"), std::string::npos)
      << f.status().message();
  EXPECT_NE(f.status().message().find("\"~(shop\""), std::string::npos) << f.status().message();
  EXPECT_NE(f.status().message().find("missing )"), std::string::npos) << f.status().message();

  f = Filter::Make(Rules().IgnoreTables({{"shop", "~[\x01"}}).r);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("replicate-ignore-table tbl-name \"~[\\x01\""),
            std::string::npos)
      << f.status().message();

  f = Filter::Make(Rules().DoTables({{"", "t"}}).r);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().message(), "replicate-do-table db-name: an empty name");
  f = Filter::Make(Rules().IgnoreSchemas({"mysql", ""}).r);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().message(), "ignore-schemas: an empty name");
  f = Filter::Make(Rules().IgnoreDbs({"\xff"}).r);  // not UTF-8: RE2 refuses it
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("replicate-ignore-db \"\\xff\""), std::string::npos)
      << f.status().message();
}

TEST(FilterTest, DatabaseStatementsFollowTheDbRules) {
  const auto db = Database;
  Filter f = MakeFilter(
      Rules().DoDbs({"shop"}).DoTables({{"~^crm", "users"}}).IgnoreTables({{"shop", "secret"}}));
  EXPECT_TRUE(f.AcceptsDdl(db("shop")));
  EXPECT_TRUE(f.AcceptsDdl(db("CRM_eu")));  // a do-table rule selects its database
  EXPECT_FALSE(f.AcceptsDdl(db("other")));
  // An ignore-table rule does not drop the database its other tables live in.
  f = MakeFilter(Rules().IgnoreTables({{"shop", "secret"}}));
  EXPECT_TRUE(f.AcceptsDdl(db("shop")));
  f = MakeFilter(Rules().IgnoreDbs({"shop"}));
  EXPECT_FALSE(f.AcceptsDdl(db("shop")));
  EXPECT_TRUE(f.AcceptsDdl(db("crm")));
}

TEST(FilterTest, TableStatementsNeedEveryTableAccepted) {
  Filter f = MakeFilter(Rules().DoDbs({"shop"}).IgnoreTables({{"shop", "secret"}}));
  EXPECT_TRUE(f.AcceptsDdl(Table("shop", "orders")));
  EXPECT_FALSE(f.AcceptsDdl(Table("shop", "secret")));
  EXPECT_FALSE(f.AcceptsDdl(Table("crm", "orders")));

  DdlTarget drop = Table("shop", "a");
  drop.tables = {{"shop", "a"}, {"shop", "b"}};
  EXPECT_TRUE(f.AcceptsDdl(drop));
  drop.tables.push_back({"shop", "secret"});
  EXPECT_FALSE(f.AcceptsDdl(drop));

  DdlTarget rename = Table("shop", "a");
  rename.renames = {{{"shop", "a"}, {"shop", "b"}}};
  EXPECT_TRUE(f.AcceptsDdl(rename));
  rename.renames.push_back({{"shop", "c"}, {"crm", "c"}});  // moved out of what is applied
  EXPECT_FALSE(f.AcceptsDdl(rename));
  rename.renames.back() = {{"crm", "c"}, {"shop", "c"}};  // moved in
  EXPECT_FALSE(f.AcceptsDdl(rename));
}

TEST(FilterTest, MovedFilterKeepsItsRules) {
  Filter a = MakeFilter(Rules().DoDbs({"~^shop"}));
  Filter b = std::move(a);
  EXPECT_TRUE(b.Accepts("shop1", "t"));
  EXPECT_FALSE(b.Accepts("crm", "t"));
  Filter c = MakeFilter(Rules());
  c = std::move(b);
  EXPECT_TRUE(c.Accepts("shop1", "t"));
  EXPECT_FALSE(c.Accepts("crm", "t"));
}

// The cached answers are the computed ones, from several threads at once, and past the cache's
// bound; names differing in case or split differently are different keys.
TEST(FilterTest, CachedAnswersFromManyThreads) {
  Filter f = MakeFilter(Rules().DoTables({{"~^db", "~[02468]$"}}).IgnoreTables({{"db7", "~.*"}}));
  const auto expected = [](int d, int t) { return d != 7 && t % 2 == 0; };
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int round = 0; round < 2; ++round) {
        for (int d = 0; d < 10; ++d) {
          for (int t = 0; t < 8000; ++t) {
            const int tt = (t + k * 1000) % 8000;
            if (f.Accepts("db" + std::to_string(d), "t" + std::to_string(tt)) != expected(d, tt)) {
              ++wrong;
            }
          }
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_TRUE(f.Accepts("DB1", "T2"));
  EXPECT_FALSE(f.Accepts("db7", "t2"));
  EXPECT_TRUE(f.Accepts("db", "7t2"));  // not the answer for db7.t2
}

}  // namespace
}  // namespace binlog::replay
