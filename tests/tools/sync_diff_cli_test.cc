// sync-diff's tables, filters, flags and errors: a table on one side only or with other columns
// is a difference; the drainer's filter rules select what is compared; an unreachable server,
// a bad flag and a bad config exit 2 and say why.
#include "sync_diff_testutil.h"

namespace binlog::syncdiff::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

TEST_F(SyncDiffTest, ATableOnOneSideIsADifference) {
  Both("CREATE TABLE shared (id INT PRIMARY KEY)");
  ASSERT_OK(Source("CREATE TABLE only_src (id INT PRIMARY KEY); INSERT INTO only_src VALUES (1)"));
  ASSERT_OK(Target("CREATE TABLE only_dst (id INT PRIMARY KEY)"));
  DiffRun r = Diff({"-fix-sql", FixPath()});
  ASSERT_EQ(r.code, 1) << r.out << r.error;
  EXPECT_THAT(r.out, HasSubstr(".`only_src`: only in the source (missing in the target)"));
  EXPECT_THAT(r.out, HasSubstr(".`only_dst`: only in the target (extra in the target)"));
  EXPECT_THAT(r.out, HasSubstr(".`shared`: equal"));
  EXPECT_THAT(r.out, HasSubstr("3 tables: 1 equal, 2 differ (1 only in the source, 1 only in "
                               "the target, 0 with other columns, 0 with other rows)"));
  std::ifstream in(FixPath());
  std::string fix((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(fix, HasSubstr("-- `" + db_ +
                             "`.`only_src`: only in the source (missing in the "
                             "target): not fixed"));
}

TEST_F(SyncDiffTest, OtherColumnsAreReportedNotCompared) {
  ASSERT_OK(Source("CREATE TABLE t (id INT PRIMARY KEY, a INT, b INT)"));
  ASSERT_OK(Target("CREATE TABLE t (id INT PRIMARY KEY, a INT)"));
  ASSERT_OK(Source("CREATE TABLE u (id INT PRIMARY KEY, a INT)"));
  ASSERT_OK(Target("CREATE TABLE u (id INT PRIMARY KEY, a VARCHAR(5))"));
  // Generated columns are the server's to compute: not compared, not a difference.
  ASSERT_OK(Source("CREATE TABLE g (id INT PRIMARY KEY, a INT, twice INT AS (a * 2))"));
  ASSERT_OK(Target("CREATE TABLE g (id INT PRIMARY KEY, a INT)"));
  DiffRun r = Diff();
  ASSERT_EQ(r.code, 1) << r.out << r.error;
  EXPECT_THAT(r.out, HasSubstr(".`t`: the definitions differ, rows not compared: only the "
                               "source has column `b` int"));
  EXPECT_THAT(r.out, HasSubstr(".`u`: the definitions differ, rows not compared: column 2: `a` "
                               "int in the source, `a` varchar in the target"));
  EXPECT_THAT(r.out, HasSubstr(".`g`: equal"));
}

// The drainer's rules: do-db, do-table with regular expressions, ignore-db, ignore-table; the
// default ignore-schemas keep the servers' own schemas and tidb_binlog out.
TEST_F(SyncDiffTest, FiltersSelectWhatIsCompared) {
  for (const char* db : {"f_keep", "f_skip", "tidb_binlog"}) {
    ASSERT_OK(
        source_->Exec(fmt::format("CREATE DATABASE IF NOT EXISTS {0}; CREATE TABLE "
                                  "{0}.a1 (id INT PRIMARY KEY); CREATE TABLE {0}.b1 (id INT "
                                  "PRIMARY KEY); INSERT INTO {0}.b1 VALUES (1)",
                                  db)));
    ASSERT_OK(
        target_->Exec(fmt::format("CREATE DATABASE IF NOT EXISTS {0}; CREATE TABLE "
                                  "{0}.a1 (id INT PRIMARY KEY); CREATE TABLE {0}.b1 (id INT "
                                  "PRIMARY KEY)",
                                  db)));
  }
  // Everything but the defaults: the b1 tables of f_keep and f_skip differ.
  DiffRun all = Diff({}, false);
  EXPECT_EQ(all.code, 1) << all.out << all.error;
  EXPECT_THAT(all.out,
              AllOf(HasSubstr("`f_keep`.`b1`: differs"), HasSubstr("`f_skip`.`b1`: differs"),
                    Not(HasSubstr("tidb_binlog")), Not(HasSubstr("`mysql`."))));
  DiffRun only_a = Diff({"-do-table", "~^f_[a-z]+$.~^a", "-ignore-db", "f_skip"}, false);
  EXPECT_EQ(only_a.code, 0) << only_a.out << only_a.error;
  EXPECT_THAT(only_a.out, AllOf(HasSubstr("`f_keep`.`a1`: equal"), HasSubstr("1 tables")));
  DiffRun dbs = Diff({"-do-db", "f_keep,f_skip", "-ignore-table", "f_keep.b1,f_skip.b1"}, false);
  EXPECT_EQ(dbs.code, 0) << dbs.out;
  EXPECT_THAT(dbs.out, HasSubstr("2 tables: 2 equal"));
  // ignore-schemas replaces the default list: tidb_binlog is compared when asked for.
  DiffRun progress = Diff({"-do-db", "tidb_binlog", "-ignore-schemas", "mysql"}, false);
  EXPECT_EQ(progress.code, 1) << progress.out;
  EXPECT_THAT(progress.out, HasSubstr("`tidb_binlog`.`b1`: differs"));
}

// The same run from a TOML file (the keys of the flags, the servers in [source-db] and
// [target-db], the drainer's filter tables).
TEST_F(SyncDiffTest, ConfigFileHoldsTheSameKeys) {
  Both("CREATE TABLE t (id INT PRIMARY KEY); CREATE TABLE other (id INT PRIMARY KEY)");
  ASSERT_OK(Target("INSERT INTO other VALUES (1)"));
  const std::string path = tmp_.Sub("sync-diff.toml");
  std::ofstream(path) << fmt::format(
      "chunk-size = 5\ncheck-thread-count = 2\nfix-sql-file = \"{}\"\n"
      "[[replicate-do-table]]\ndb-name = \"{}\"\ntbl-name = \"t\"\n"
      "[source-db]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"root\"\n"
      "[target-db]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"root\"\npassword = \"\"\n",
      FixPath(), db_, source_->port(), target_->port());
  DiffRun r = Binary({"-config", path});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_THAT(r.out, AllOf(HasSubstr("1 tables: 1 equal"), Not(HasSubstr("`other`"))));
  std::ofstream(tmp_.Sub("bad.toml")) << "chunk-size = 0\n[source-db]\nport = 1\n";
  DiffRun bad = Binary({"-config", tmp_.Sub("bad.toml")});
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.out, HasSubstr("bad.toml: key \"chunk-size\""));
}

// Exit 2, naming the server that cannot be reached.
TEST_F(SyncDiffTest, AnUnreachableServerExitsTwoNamingIt) {
  ASSERT_OK_AND_ASSIGN(int closed, binlog::testing::FreeLoopbackPort());
  const std::string up = std::to_string(source_->port()), down = std::to_string(closed);
  DiffRun no_target = Binary({"-source-port", up, "-target-port", down});
  EXPECT_EQ(no_target.code, 2);
  EXPECT_THAT(no_target.out,
              HasSubstr("cannot connect to the target: connect to 127.0.0.1:" + down));
  DiffRun no_source = Binary({"-source-port", down, "-target-port", up});
  EXPECT_EQ(no_source.code, 2);
  EXPECT_THAT(no_source.out, HasSubstr("cannot connect to the source"));
  DiffRun denied = Binary({"-source-port", up, "-target-port", up, "-target-user", "nobody"});
  EXPECT_EQ(denied.code, 2);
  EXPECT_THAT(denied.out, HasSubstr("cannot connect to the target"));
}

TEST_F(SyncDiffTest, FlagsAreCheckedBeforeConnecting) {
  DiffRun help = Binary({"-h"});
  EXPECT_EQ(help.code, 0);
  EXPECT_THAT(help.out, AllOf(HasSubstr("-source-host"), HasSubstr("-target-port"),
                              HasSubstr("-chunk-size"), HasSubstr("-fix-sql")));
  DiffRun version = Binary({"-V"});
  EXPECT_EQ(version.code, 0);
  EXPECT_THAT(version.out, HasSubstr("sync-diff (binlog) "));
  EXPECT_EQ(Binary({"-no-such-flag"}).code, 2);
  DiffRun table = Binary({"-do-table", "nodot"});
  EXPECT_EQ(table.code, 2);
  EXPECT_THAT(table.out, HasSubstr("-do-table \"nodot\": expected db.table"));
  DiffRun regex = Binary({"-do-db", "~(unclosed"});
  EXPECT_EQ(regex.code, 2);
  EXPECT_THAT(regex.out, HasSubstr("not a regular expression"));
  EXPECT_EQ(Binary({"-threads", "0"}).code, 2);
  DiffRun fix = Diff({"-fix-sql", tmp_.Sub("no/such/dir/fix.sql")});
  EXPECT_EQ(fix.code, 2);
  EXPECT_THAT(fix.error, HasSubstr("cannot write the fix SQL file"));
}

}  // namespace
}  // namespace binlog::syncdiff::testing
