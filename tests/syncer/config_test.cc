// syncer.toml: the seeds' file loads unchanged, conf/syncer.toml loads, bad values name the key
// and the file, flags are Go-style.
#include "syncer/config.h"

#include <gtest/gtest.h>

#include "common/env.h"
#include "testutil/testutil.h"

namespace binlog::syncer {
namespace {

using binlog::testing::TempDir;

// Verbatim from the seeds (TiDB-Binlog's syncer.toml).
constexpr const char* kSeedConfig = R"(
log-level = "info"
log-file = "syncer.log"
log-rotate = "day"

server-id = 101

meta = "./syncer.meta"
worker-count = 16
batch = 1000
flavor = "mysql"

# The testing address for pprof. It can also be used by Prometheus to pull Syncer metrics.
status-addr = ":8271"

# If you set its value to true, Syncer stops and exits when it encounters the DDL operation.
stop-on-ddl = false

# max-retry is used for retry during network interruption.
max-retry = 100
)";

TEST(SyncerConfigTest, SeedConfigLoadsUnchanged) {
  ASSERT_OK_AND_ASSIGN(SyncerConfig c, ParseSyncerConfig(kSeedConfig, "syncer.toml"));
  EXPECT_TRUE(c.unknown_keys.empty());
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.log_file, "syncer.log");
  EXPECT_EQ(c.log_rotate, "day");
  EXPECT_EQ(c.server_id, 101u);
  EXPECT_EQ(c.meta, "./syncer.meta");
  EXPECT_EQ(c.worker_count, 16);
  EXPECT_EQ(c.batch, 1000);
  EXPECT_EQ(c.flavor, "mysql");
  EXPECT_EQ(c.status_addr, ":8271");
  EXPECT_FALSE(c.stop_on_ddl);
  EXPECT_EQ(c.max_retry, 100);
  // What the seed leaves out: the defaults.
  EXPECT_EQ(c.from.host, "127.0.0.1");
  EXPECT_EQ(c.from.port, 3306);
  EXPECT_EQ(c.to.type, "journal");
  EXPECT_EQ(c.to.dir, "data.syncer");
}

TEST(SyncerConfigTest, ExampleConfigLoads) {
  SyncerFlags flags;
  flags.config = std::string(BINLOG_SOURCE_DIR) + "/conf/syncer.toml";
  ASSERT_OK_AND_ASSIGN(SyncerConfig c, LoadSyncerConfig(flags));
  EXPECT_TRUE(c.unknown_keys.empty()) << c.unknown_keys.front();
  EXPECT_EQ(c.from.user, "syncer");
  EXPECT_EQ(c.to.max_file_size, 512ull << 20);
  EXPECT_EQ(c.heartbeat_interval_seconds, 3);
}

TEST(SyncerConfigTest, FromAndToTables) {
  ASSERT_OK_AND_ASSIGN(SyncerConfig c, ParseSyncerConfig(R"(
heartbeat-interval = "250ms"
[from]
host = "db1"
port = 3307
user = "repl"
password = "secret"
[to]
type = "pump"
pump-addrs = "127.0.0.1:8250,127.0.0.1:8251"
)",
                                                         "t.toml"));
  EXPECT_EQ(c.from.host, "db1");
  EXPECT_EQ(c.from.port, 3307);
  EXPECT_EQ(c.from.password, "secret");
  EXPECT_EQ(c.to.type, "pump");
  EXPECT_EQ(c.to.pump_addrs, (std::vector<std::string>{"127.0.0.1:8250", "127.0.0.1:8251"}));
  EXPECT_DOUBLE_EQ(c.heartbeat_interval_seconds, 0.25);
  ASSERT_OK_AND_ASSIGN(
      c, ParseSyncerConfig("[to]\ntype = \"pump\"\npump-addrs = [\"a:1\"]\n", "t.toml"));
  EXPECT_EQ(c.to.pump_addrs, (std::vector<std::string>{"a:1"}));
}

// The seed's file with TiDB-Binlog's [from] and [to] tables: a [to] with a host and no type
// is a downstream server the syncer applies to.
TEST(SyncerConfigTest, SeedWithToHostReplicatesToMysql) {
  std::string text = std::string(kSeedConfig) + R"(
[from]
host = "127.0.0.1"
user = "root"
password = ""
port = 3306

[to]
host = "10.0.0.2"
user = "root"
password = "pw"
port = 4000
)";
  ASSERT_OK_AND_ASSIGN(SyncerConfig c, ParseSyncerConfig(text, "syncer.toml"));
  EXPECT_TRUE(c.unknown_keys.empty()) << c.unknown_keys.front();
  EXPECT_EQ(c.to.type, "mysql");
  EXPECT_EQ(c.to.mysql.host, "10.0.0.2");
  EXPECT_EQ(c.to.mysql.port, 4000);
  EXPECT_EQ(c.to.mysql.user, "root");
  EXPECT_EQ(c.to.mysql.password, "pw");
  EXPECT_FALSE(c.to.mysql.tls.enabled);
  EXPECT_FALSE(c.safe_mode);
  EXPECT_EQ(c.worker_count, 16);
  EXPECT_EQ(c.batch, 1000);
}

TEST(SyncerConfigTest, MysqlTypeKeys) {
  ASSERT_OK_AND_ASSIGN(SyncerConfig c, ParseSyncerConfig(R"(
safe-mode = true
[to]
type = "mysql"
ssl-ca = "/etc/ca.pem"
ssl-cert = "/etc/client.pem"
ssl-key = "/etc/client.key"
)",
                                                         "t.toml"));
  EXPECT_EQ(c.to.type, "mysql");
  EXPECT_TRUE(c.safe_mode);
  EXPECT_EQ(c.to.mysql.host, "127.0.0.1");
  EXPECT_EQ(c.to.mysql.port, 3306);
  EXPECT_TRUE(c.to.mysql.tls.enabled);
  EXPECT_TRUE(c.to.mysql.tls.verify_server_cert);
  EXPECT_EQ(c.to.mysql.tls.key, "/etc/client.key");
  // Without a host and a type, the journal stays the default.
  ASSERT_OK_AND_ASSIGN(c, ParseSyncerConfig("[to]\ndir = \"a\"\n", "t.toml"));
  EXPECT_EQ(c.to.type, "journal");
}

TEST(SyncerConfigTest, BadValuesNameKeyAndFile) {
  struct Case {
    const char* text;
    const char* key;
  };
  for (const Case& c : std::vector<Case>{
           {"server-id = 0", "server-id"},
           {"server-id = \"x\"", "server-id"},
           {"batch = 0", "batch"},
           {"flavor = \"postgres\"", "flavor"},
           {"max-retry = -1", "max-retry"},
           {"log-level = \"loud\"", "log-level"},
           {"log-rotate = \"week\"", "log-rotate"},
           {"status-addr = \"8271\"", "status-addr"},
           {"stop-on-ddl = \"yes\"", "stop-on-ddl"},
           {"[from]\nport = 70000", "from.port"},
           {"[to]\ntype = \"kafka\"", "to.type"},
           {"[to]\ntype = \"pump\"", "to.pump-addrs"},
           {"[to]\nmax-file-size = \"huge\"", "to.max-file-size"},
           {"[to]\ntype = \"journal\"\nhost = \"db2\"", "to.host"},
           {"[to]\nhost = \"db2\"\nport = 0", "to.port"},
           {"safe-mode = 1", "safe-mode"},
           {"[to]\nhost = \"db2\"\nencrypted_password = \"x\"", "to.encrypted_password"},
       }) {
    Result<SyncerConfig> r = ParseSyncerConfig(c.text, "bad.toml");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
    EXPECT_NE(r.status().message().find("bad.toml"), std::string::npos) << r.status().ToString();
    EXPECT_NE(r.status().message().find(c.key), std::string::npos) << r.status().ToString();
  }
}

TEST(SyncerConfigTest, AnotherToolsConfigOrAnEmptyOneIsRefused) {
  TempDir dir;
  for (const char* other : {"/conf/pump.toml"}) {
    SyncerFlags flags;
    flags.config = std::string(BINLOG_SOURCE_DIR) + other;
    Result<SyncerConfig> c = LoadSyncerConfig(flags);
    ASSERT_FALSE(c.ok());
    EXPECT_NE(c.status().message().find("are not syncer settings"), std::string::npos)
        << c.status().ToString();
    EXPECT_NE(c.status().message().find("data-dir"), std::string::npos) << c.status().ToString();
  }
  // The seed's pump.toml, verbatim.
  Result<SyncerConfig> seed = ParseSyncerConfig(
      "log-file=\"pump.log\"\ndata-dir=\"pump.data\"\naddr=\"127.0.0.1:8250\"\n"
      "advertise-addr=\"127.0.0.1:8250\"\npd-urls=\"http://127.0.0.1:2379\"\n",
      "pump.toml");
  EXPECT_FALSE(seed.ok());
  Result<SyncerConfig> empty = ParseSyncerConfig("# nothing\n", "empty.toml");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("empty.toml holds no settings"), std::string::npos)
      << empty.status().ToString();
}

TEST(SyncerConfigTest, UnknownKeysAreCollected) {
  ASSERT_OK_AND_ASSIGN(SyncerConfig c,
                       ParseSyncerConfig("server-idd = 5\nbatch = 10\nflavor = \"mariadb\"\n"
                                         "[from]\nhots = \"x\"\nport = 3307\n",
                                         "t.toml"));
  EXPECT_EQ(c.unknown_keys, (std::vector<std::string>{"from.hots", "server-idd"}));
}

TEST(SyncerFlagsTest, GoStyleFlags) {
  const char* argv[] = {"syncer", "-config", "a.toml",       "-meta-from=metadata",
                        "--L",    "debug",   "-status-addr", ""};
  ASSERT_OK_AND_ASSIGN(SyncerFlags f, ParseSyncerFlags(8, argv));
  EXPECT_EQ(*f.config, "a.toml");
  EXPECT_EQ(*f.meta_from, "metadata");
  EXPECT_EQ(*f.log_level, "debug");
  EXPECT_EQ(*f.status_addr, "");
  const char* bad[] = {"syncer", "-conf", "a.toml"};
  EXPECT_TRUE(ParseSyncerFlags(3, bad).status().IsInvalidArgument());
  const char* stray[] = {"syncer", "extra"};
  EXPECT_FALSE(ParseSyncerFlags(2, stray).ok());
  EXPECT_NE(SyncerUsage().find("-meta-from"), std::string::npos);
}

TEST(SyncerFlagsTest, FlagsOverrideTheFile) {
  TempDir dir;
  std::string path = dir.Sub("s.toml");
  ASSERT_OK(WriteFileAtomic(Env::Posix(), path, "meta = \"file.meta\"\nlog-level = \"warn\"\n"));
  SyncerFlags flags;
  flags.config = path;
  flags.meta = "flag.meta";
  flags.meta_from = "backup/metadata";
  ASSERT_OK_AND_ASSIGN(SyncerConfig c, LoadSyncerConfig(flags));
  EXPECT_EQ(c.meta, "flag.meta");
  EXPECT_EQ(c.log_level, "warn");
  EXPECT_EQ(c.meta_from, "backup/metadata");
  flags.log_level = "chatty";
  Result<SyncerConfig> bad = LoadSyncerConfig(flags);
  EXPECT_NE(bad.status().message().find("log-level"), std::string::npos);
}

}  // namespace
}  // namespace binlog::syncer
