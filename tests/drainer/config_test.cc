#include "drainer/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "testutil/testutil.h"

namespace binlog::drainer {
namespace {

Result<DrainerConfig> Load(const std::string& text) {
  DrainerConfig c;
  RETURN_IF_ERROR(ParseDrainerToml(text, "drainer.toml", &c));
  return c;
}

TEST(DrainerConfigTest, TheSeedsDrainerTomlLoads) {
  // ../shared/seeds/000: drainer.toml as the operator wrote it.
  ASSERT_OK_AND_ASSIGN(DrainerConfig c, Load(R"(
log-file="drainer.log"
[syncer]
db-type="mysql"
[syncer.to]
host="127.0.0.1"
user="root"
password=""
port=3306
)"));
  EXPECT_EQ(c.sink, SinkType::kMysql);
  EXPECT_EQ(c.to.host, "127.0.0.1");
  EXPECT_EQ(c.to.port, 3306);
  EXPECT_EQ(c.log_file, "drainer.log");
  EXPECT_EQ(c.addr, "127.0.0.1:8249");
  EXPECT_EQ(c.initial_commit_ts, -1);
  EXPECT_EQ(c.filter.ignore_schemas,
            (std::vector<std::string>{"INFORMATION_SCHEMA", "PERFORMANCE_SCHEMA", "mysql"}));
}

TEST(DrainerConfigTest, TiupDottedKeysLoad) {
  // ../shared/seeds/002: tiup's server_configs.drainer overrides, as TOML dotted keys.
  ASSERT_OK_AND_ASSIGN(DrainerConfig c, Load(R"(
data-dir = "/data/tidb-data/drainer-8249"
initial-commit-ts = -1
syncer.db-type = "mysql"
syncer.to.host = "192.168.169.45"
syncer.to.user = "root"
syncer.to.password = "123123"
syncer.to.port = 3306
syncer.relay.log-dir = "/data/tidb-data/drainer-8249/relay_log"
syncer.relay.max-file-size = 10485760
)"));
  EXPECT_EQ(c.to.host, "192.168.169.45");
  EXPECT_EQ(c.to.password, "123123");
  EXPECT_EQ(c.relay_dir, "/data/tidb-data/drainer-8249/relay_log");
  EXPECT_EQ(c.relay_max_file_size, 10485760u);
  EXPECT_TRUE(c.unknown_keys.empty());
}

TEST(DrainerConfigTest, TiDBBinlogsOwnDrainerTomlLoads) {
  // TiDB-Binlog's cmd/drainer/drainer.toml, its comments left out.
  ASSERT_OK_AND_ASSIGN(DrainerConfig c, Load(R"(
detect-interval = 10
data-dir = "data.drainer"
pd-urls = "http://127.0.0.1:2379"
compressor = ""
sql-mode = "STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION"
[syncer]
ignore-schemas = "INFORMATION_SCHEMA,PERFORMANCE_SCHEMA,mysql"
txn-batch = 20
worker-count = 16
disable-dispatch = false
safe-mode = false
db-type = "mysql"
[syncer.to]
host = "127.0.0.1"
user = "root"
password = ""
port = 3306
[syncer.to.checkpoint]
)"));
  EXPECT_EQ(c.sink, SinkType::kMysql);
  EXPECT_EQ(c.detect_interval_seconds, 10);
  // What it has that this drainer does not use is warned about, one key each.
  EXPECT_EQ(c.unknown_keys,
            (std::vector<std::string>{"compressor", "sql-mode", "syncer.disable-dispatch"}));
}

TEST(DrainerConfigTest, FiltersAndFileSinkKeys) {
  ASSERT_OK_AND_ASSIGN(DrainerConfig c, Load(R"(
[syncer]
db-type = "file"
ignore-schemas = "INFORMATION_SCHEMA, mysql"
replicate-do-db = ["~^shop", "test"]
[[syncer.replicate-do-table]]
db-name = "test"
tbl-name = "~^log_"
[[syncer.ignore-table]]
db-name = "shop"
tbl-name = "audit"
[syncer.to]
dir = "/backup/binlog"
retention-time = 7
)"));
  EXPECT_EQ(c.sink, SinkType::kFile);
  EXPECT_EQ(c.filter.ignore_schemas, (std::vector<std::string>{"INFORMATION_SCHEMA", "mysql"}));
  EXPECT_EQ(c.filter.do_dbs, (std::vector<std::string>{"~^shop", "test"}));
  ASSERT_EQ(c.filter.do_tables.size(), 1u);
  ASSERT_EQ(c.filter.ignore_tables.size(), 1u);
  EXPECT_EQ(c.filter.ignore_tables[0].table, "audit");
  EXPECT_EQ(c.to_dir, "/backup/binlog");
  EXPECT_EQ(c.retention_seconds, 7 * 86400.0);
}

TEST(DrainerConfigTest, ErrorsNameTheFileAndKey) {
  Result<DrainerConfig> c = Load("[syncer]\ndb-type = \"kafka\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("drainer.toml"), std::string::npos) << c.status().ToString();
  EXPECT_NE(c.status().message().find("syncer.db-type"), std::string::npos);
  c = Load("addr = \"x\"\n[syncer]\nworker-count = 0\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("syncer.worker-count"), std::string::npos);
  c = Load("[syncer.to]\nport = 70000\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("syncer.to.port"), std::string::npos);
  c = Load("[syncer.to]\nencrypted_password = \"abc\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("encrypted_password"), std::string::npos);
  // Another tool's config.
  c = Load("[dest-db]\nhost = \"h\"\nport = 1\n[storage]\nsync-log = true\n");
  ASSERT_FALSE(c.ok());
}

TEST(DrainerConfigTest, TheExampleConfigLoads) {
  std::ifstream in(std::string(BINLOG_SOURCE_DIR) + "/conf/drainer.toml");
  ASSERT_TRUE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  ASSERT_OK_AND_ASSIGN(DrainerConfig c, Load(text.str()));
  EXPECT_TRUE(c.unknown_keys.empty()) << c.unknown_keys.front();
}

TEST(DrainerConfigTest, FlagsOverrideTheFile) {
  binlog::testing::TempDir tmp;
  const std::string path = tmp.Sub("d.toml");
  std::ofstream(path) << "data-dir = \"a\"\n[syncer]\ndb-type = \"file\"\n";
  const char* argv[] = {"drainer", "-config", path.c_str(), "-data-dir", "b", "-dest-db-type",
                        "print", "-initial-commit-ts", "42"};
  DrainerConfig c;
  ASSERT_OK(LoadDrainerConfig(9, argv, &c).status());
  EXPECT_EQ(c.data_dir, "b");
  EXPECT_EQ(c.sink, SinkType::kPrint);
  EXPECT_EQ(c.initial_commit_ts, 42);
  const char* bad[] = {"drainer", "-no-such-flag"};
  EXPECT_FALSE(LoadDrainerConfig(2, bad, &c).ok());
}

}  // namespace
}  // namespace binlog::drainer
