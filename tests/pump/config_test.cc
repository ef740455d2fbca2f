#include "pump/config.h"

#include <gmock/gmock.h>

#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "common/logging.h"
#include "testutil/testutil.h"

namespace binlog::pump {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// ../shared/seeds/000_63e0ba5d5475522a.txt, verbatim: it must load unchanged.
constexpr char kSeedPumpToml[] = R"(log-file="pump.log"
data-dir="pump.data"
addr="127.0.0.1:8250"
advertise-addr="127.0.0.1:8250"
pd-urls="http://127.0.0.1:2379"
)";

class PumpConfigTest : public ::testing::Test {
 protected:
  ~PumpConfigTest() override { EXPECT_OK(InitLogging(LogOptions{})); }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_.Sub(name);
    std::ofstream(path) << text;
    return path;
  }
  // Runs the flag parser and loader over argv (the program name is added).
  Result<PumpConfig> Load(std::initializer_list<std::string> args) {
    std::vector<std::string> owned{"pump"};
    owned.insert(owned.end(), args.begin(), args.end());
    std::vector<const char*> argv;
    for (const std::string& a : owned) argv.push_back(a.c_str());
    return PumpConfigFromArgs(static_cast<int>(argv.size()), argv.data());
  }
  Result<PumpConfig> LoadText(const std::string& text) {
    return Load({"-config", Write("pump.toml", text), "-registry-dir", dir_.Sub("reg")});
  }

  testing::TempDir dir_;
};

TEST_F(PumpConfigTest, SeedPumpTomlLoadsUnchangedWithTheEmbeddedRegistry) {
  std::string path = Write("pump.toml", kSeedPumpToml);
  ASSERT_OK_AND_ASSIGN(PumpConfig c, Load({"-config", path, "-registry-dir", dir_.Sub("reg")}));
  EXPECT_EQ(c.config_file, path);
  EXPECT_EQ(c.log_file, "pump.log");
  EXPECT_EQ(c.data_dir, "pump.data");
  EXPECT_EQ(c.addr, "127.0.0.1:8250");
  EXPECT_EQ(c.advertise_addr, "127.0.0.1:8250");
  EXPECT_EQ(c.pd_urls, "http://127.0.0.1:2379");
  EXPECT_EQ(c.registry_dir, dir_.Sub("reg"));
  EXPECT_TRUE(c.unknown_keys.empty());
}

// TiDB-Binlog's own pump.toml with its goleveldb tuning uncommented: [storage.kv] is one
// unknown table, not a reason to refuse the file.
TEST_F(PumpConfigTest, TiDBBinlogPumpTomlWithStorageKvLoads) {
  ASSERT_OK_AND_ASSIGN(PumpConfig c, LoadText(R"(
addr = "127.0.0.1:8250"
advertise-addr = ""
heartbeat-interval = 2
data-dir = "data.pump"
gc = 7
pd-urls = "http://127.0.0.1:2379"
[security]
ssl-ca = ""
ssl-cert = ""
ssl-key = ""
[storage]
sync-log = true
kv-chan-cap = 1048576
slow-write-threshold = 1
stop-write-at-available-space = "10 gib"
[storage.kv]
block-cache-capacity = 8388608
block-restart-interval = 16
block-size = 4096
compaction-L0-trigger = 8
compaction-table-size = 67108864
compaction-total-size = 536870912
compaction-total-size-multiplier = 8.0
write-buffer = 67108864
write-L0-pause-trigger = 24
write-L0-slowdown-trigger = 17
)"));
  EXPECT_EQ(c.unknown_keys.size(), 15u);
}

// The config of another tool is refused, naming what is not a pump setting, instead of running
// on defaults with a warning per key.
TEST_F(PumpConfigTest, AnotherToolsConfigIsRefused) {
  std::string syncer_conf = std::string(BINLOG_SOURCE_DIR) + "/conf/syncer.toml";
  Result<PumpConfig> c = Load({"-config", syncer_conf, "-registry-dir", dir_.Sub("reg")});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              AllOf(HasSubstr(syncer_conf), HasSubstr("are not pump settings"), HasSubstr("[from]"),
                    HasSubstr("another tool"), HasSubstr("pump.toml")));
  EXPECT_THAT(LoadText("").status().message(), HasSubstr("holds no settings"));
}

TEST_F(PumpConfigTest, SeedPumpTomlAloneNamesPDsEtcdAndABadURLNamesTheWayOut) {
  std::string path = Write("pump.toml", kSeedPumpToml);
  ASSERT_OK_AND_ASSIGN(PumpConfig c, Load({"-config", path}));  // etcd is reached at start
  EXPECT_EQ(c.pd_urls, "http://127.0.0.1:2379");
  EXPECT_EQ(c.registry_dir, "");
  std::string bad = Write("bad.toml", "pd-urls = \"127.0.0.1:2379\"\n");
  Result<PumpConfig> b = Load({"-config", bad});
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(b.status().IsInvalidArgument());
  EXPECT_THAT(b.status().message(), AllOf(HasSubstr(bad), HasSubstr("\"pd-urls\""),
                                          HasSubstr("registry-dir"), HasSubstr("file://")));
}

TEST_F(PumpConfigTest, Defaults) {
  ASSERT_OK_AND_ASSIGN(PumpConfig c, Load({"-registry-dir", dir_.Sub("reg")}));
  EXPECT_EQ(c.config_file, "");
  EXPECT_EQ(c.addr, "127.0.0.1:8250");
  EXPECT_EQ(c.advertise_addr, "127.0.0.1:8250");
  EXPECT_EQ(c.status_addr, "127.0.0.1:8251");
  EXPECT_EQ(c.data_dir, "data.pump");
  EXPECT_EQ(c.gc_seconds, 7 * 86400);
  EXPECT_EQ(c.heartbeat_interval_seconds, 2);
  EXPECT_EQ(c.gen_binlog_interval_seconds, 3);
  EXPECT_EQ(c.log_file, "");
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.node_id, "");  // settled by ResolveNodeID
  EXPECT_EQ(c.pd_urls, "http://127.0.0.1:2379");
  EXPECT_TRUE(c.sync_log);
  EXPECT_EQ(c.stop_write_at_available_space, 10ull << 30);
  EXPECT_EQ(c.max_file_size, 512ull << 20);
  EXPECT_EQ(c.max_txn_timeout_seconds, 600);
  EXPECT_EQ(c.max_message_size, 32ull << 20);

  PumpOptions o = c.ToPumpOptions(Env::Posix());
  EXPECT_EQ(o.data_dir, "data.pump");
  EXPECT_EQ(o.max_binlog_bytes, 32u << 20);
  EXPECT_EQ(o.stop_write_at_available_space, 10ull << 30);
}

TEST_F(PumpConfigTest, ExampleConfHasEveryKeyAtItsDefault) {
  std::string example = std::string(BINLOG_SOURCE_DIR) + "/conf/pump.toml";
  ASSERT_OK_AND_ASSIGN(PumpConfig c, Load({"-config", example, "-registry-dir", "r"}));
  ASSERT_OK_AND_ASSIGN(PumpConfig d, Load({"-registry-dir", "r"}));
  EXPECT_TRUE(c.unknown_keys.empty()) << c.unknown_keys.front();
  EXPECT_EQ(c.addr, d.addr);
  EXPECT_EQ(c.advertise_addr, d.advertise_addr);
  EXPECT_EQ(c.status_addr, d.status_addr);
  EXPECT_EQ(c.data_dir, d.data_dir);
  EXPECT_EQ(c.gc_seconds, d.gc_seconds);
  EXPECT_EQ(c.gc_guard_lease_seconds, d.gc_guard_lease_seconds);
  EXPECT_EQ(c.heartbeat_interval_seconds, d.heartbeat_interval_seconds);
  EXPECT_EQ(c.gen_binlog_interval_seconds, d.gen_binlog_interval_seconds);
  EXPECT_EQ(c.max_txn_timeout_seconds, d.max_txn_timeout_seconds);
  EXPECT_EQ(c.max_file_size, d.max_file_size);
  EXPECT_EQ(c.max_message_size, d.max_message_size);
  EXPECT_EQ(c.log_level, d.log_level);
  EXPECT_EQ(c.pd_urls, d.pd_urls);
  EXPECT_EQ(c.sync_log, d.sync_log);
  EXPECT_EQ(c.stop_write_at_available_space, d.stop_write_at_available_space);
}

TEST_F(PumpConfigTest, ValuesFromTheFile) {
  ASSERT_OK_AND_ASSIGN(PumpConfig c, LoadText(R"(
addr = "0.0.0.0:9250"
advertise-addr = "10.0.0.5:9250"
gc = "8h"
gc-guard-lease = "2h"
heartbeat-interval = 1
gen-binlog-interval = 0
max-txn-timeout = "2m"
max-file-size = "64MiB"
node-id = "pump-a"
[storage]
sync-log = false
stop-write-at-available-space = "1 gib"
)"));
  EXPECT_EQ(c.advertise_addr, "10.0.0.5:9250");
  EXPECT_EQ(c.status_addr, "0.0.0.0:8251");  // addr's host, the status port
  EXPECT_EQ(c.gc_seconds, 8 * 3600);
  EXPECT_EQ(c.gc_guard_lease_seconds, 2 * 3600);
  EXPECT_EQ(c.heartbeat_interval_seconds, 1);
  EXPECT_EQ(c.gen_binlog_interval_seconds, 0);
  EXPECT_EQ(c.max_txn_timeout_seconds, 120);
  EXPECT_EQ(c.max_file_size, 64ull << 20);
  EXPECT_EQ(c.node_id, "pump-a");
  EXPECT_FALSE(c.sync_log);
  EXPECT_EQ(c.stop_write_at_available_space, 1ull << 30);
}

TEST_F(PumpConfigTest, PortZeroGivesStatusPortZero) {
  ASSERT_OK_AND_ASSIGN(PumpConfig c, LoadText("addr = \"127.0.0.1:0\"\n"));
  EXPECT_EQ(c.status_addr, "127.0.0.1:0");
}

TEST_F(PumpConfigTest, EachBadValueNamesKeyFileAndExpectation) {
  struct Case {
    std::string toml, key, expected;
  };
  const std::vector<Case> cases = {
      {"gc = \"soon\"", "\"gc\"", "days"},
      {"gc = -1", "\"gc\"", "days"},
      {"gc-guard-lease = \"a day\"", "\"gc-guard-lease\"", "seconds"},
      {"gc-guard-lease = -5", "\"gc-guard-lease\"", "seconds"},
      {"heartbeat-interval = \"often\"", "\"heartbeat-interval\"", "seconds"},
      {"heartbeat-interval = 0", "\"heartbeat-interval\"", "> 0"},
      {"gen-binlog-interval = true", "\"gen-binlog-interval\"", "seconds"},
      {"max-txn-timeout = 0", "\"max-txn-timeout\"", "> 0"},
      {"max-file-size = \"huge\"", "\"max-file-size\"", "size"},
      {"max-file-size = 100", "\"max-file-size\"", "at least 4 KiB"},
      {"max-message-size = 0", "\"max-message-size\"", "between"},
      {"addr = \"localhost\"", "\"addr\"", "host:port"},
      {"addr = \"127.0.0.1:70000\"", "\"addr\"", "host:port"},
      {"advertise-addr = \"0.0.0.0:8250\"", "\"advertise-addr\"", "0.0.0.0"},
      {"status-addr = \"nope\"", "\"status-addr\"", "host:port"},
      {"data-dir = 5", "\"data-dir\"", "a string"},
      {"data-dir = \"\"", "\"data-dir\"", "a directory"},
      {"log-level = \"loud\"", "\"log-level\"", "debug, info"},
      {"node-id = \"a/b\"", "\"node-id\"", "letters, digits"},
      {"[storage]\nsync-log = \"yes\"", "\"storage.sync-log\"", "true or false"},
      {"[storage]\nstop-write-at-available-space = \"lots\"",
       "\"storage.stop-write-at-available-space\"", "size"},
  };
  for (const Case& c : cases) {
    Result<PumpConfig> r = LoadText(c.toml);
    ASSERT_FALSE(r.ok()) << c.toml;
    EXPECT_TRUE(r.status().IsInvalidArgument()) << c.toml;
    EXPECT_THAT(r.status().message(), AllOf(HasSubstr(dir_.Sub("pump.toml")),
                                            HasSubstr("key " + c.key), HasSubstr(c.expected)))
        << c.toml;
  }
}

TEST_F(PumpConfigTest, ZeroHostAddrNeedsAnAdvertiseAddr) {
  Result<PumpConfig> r = LoadText("addr = \"0.0.0.0:8250\"\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              AllOf(HasSubstr("key \"addr\""), HasSubstr("advertise-addr"), HasSubstr("0.0.0.0")));
}

TEST_F(PumpConfigTest, SyntaxErrorNamesFileAndLine) {
  Result<PumpConfig> r = LoadText("addr = \"127.0.0.1:8250\"\ngc = = 3\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("pump.toml:2"));
}

TEST_F(PumpConfigTest, MissingFileIsNamed) {
  Result<PumpConfig> r = Load({"-config", dir_.Sub("nope.toml"), "-registry-dir", "r"});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("nope.toml"));
}

TEST_F(PumpConfigTest, UnknownKeysAreWarnedWithKeyAndFile) {
  ASSERT_OK_AND_ASSIGN(PumpConfig c, LoadText(R"(
addr = "127.0.0.1:8250"
data-dir = "pump.data"
gc = 7
metrics-interval = 15
[storage]
sync-log = true
kv-chan-cap = 1048576
[security]
ssl-ca = ""
)"));
  EXPECT_THAT(c.unknown_keys,
              UnorderedElementsAre("metrics-interval", "storage.kv-chan-cap", "security.ssl-ca"));
  std::string log = dir_.Sub("pump.log");
  ASSERT_OK(InitLogging(LogOptions{"info", log, "none"}));
  LogPumpConfig(c);
  std::ifstream in(log);
  std::vector<std::string> warnings;
  for (std::string line; std::getline(in, line);) {
    if (line.find("[WARN]") != std::string::npos) warnings.push_back(line);
  }
  ASSERT_EQ(warnings.size(), 3u);
  for (const std::string& w : warnings) {
    EXPECT_THAT(w, AllOf(HasSubstr("unknown config key"), HasSubstr(dir_.Sub("pump.toml"))));
  }
  EXPECT_THAT(warnings[1] + warnings[0] + warnings[2], HasSubstr("[key=storage.kv-chan-cap]"));
}

TEST_F(PumpConfigTest, FlagsOverrideTheFile) {
  std::string path = Write("pump.toml", R"(
data-dir = "from-file"
addr = "127.0.0.1:8250"
log-level = "info"
gc = 7
node-id = "file-id"
)");
  ASSERT_OK_AND_ASSIGN(PumpConfig c, Load({"-config",
                                           path,
                                           "-data-dir",
                                           "from-flag",
                                           "-addr",
                                           "127.0.0.1:9000",
                                           "-L",
                                           "debug",
                                           "-log-file",
                                           "x.log",
                                           "-gc",
                                           "8h",
                                           "-node-id",
                                           "flag-id",
                                           "-registry-dir",
                                           "r",
                                           "-status-addr",
                                           "127.0.0.1:9001",
                                           "-pd-urls",
                                           "file:///tmp/reg"}));
  EXPECT_EQ(c.data_dir, "from-flag");
  EXPECT_EQ(c.addr, "127.0.0.1:9000");
  EXPECT_EQ(c.advertise_addr, "127.0.0.1:9000");  // follows addr when not set
  EXPECT_EQ(c.status_addr, "127.0.0.1:9001");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.log_file, "x.log");
  EXPECT_EQ(c.gc_seconds, 8 * 3600);
  EXPECT_EQ(c.node_id, "flag-id");
  EXPECT_EQ(c.pd_urls, "file:///tmp/reg");

  ASSERT_OK_AND_ASSIGN(PumpConfig days, Load({"-config", path, "-gc", "3", "-registry-dir", "r"}));
  EXPECT_EQ(days.gc_seconds, 3 * 86400);
  // A file:// pd-urls alone selects the embedded registry.
  ASSERT_OK(Load({"-pd-urls", "file:///tmp/reg"}).status());
}

TEST_F(PumpConfigTest, BadFlagValuesNameTheFlag) {
  Result<PumpConfig> gc = Load({"-gc", "soon", "-registry-dir", "r"});
  ASSERT_FALSE(gc.ok());
  EXPECT_THAT(gc.status().message(), AllOf(HasSubstr("flag -gc"), HasSubstr("days")));
  Result<PumpConfig> adv = Load({"-advertise-addr", "0.0.0.0:1", "-registry-dir", "r"});
  ASSERT_FALSE(adv.ok());
  EXPECT_THAT(adv.status().message(),
              AllOf(HasSubstr("flag -advertise-addr"), HasSubstr("0.0.0.0")));
  Result<PumpConfig> level = Load({"-L", "loud", "-registry-dir", "r"});
  ASSERT_FALSE(level.ok());
  EXPECT_THAT(level.status().message(), HasSubstr("flag -L"));
  Result<PumpConfig> pd = Load({"-pd-urls", "pd:2379"});
  ASSERT_FALSE(pd.ok());
  EXPECT_THAT(pd.status().message(), AllOf(HasSubstr("flag -pd-urls"), HasSubstr("registry-dir")));
}

Result<PumpFlags> Parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv{"pump"};
  argv.insert(argv.end(), args.begin(), args.end());
  return ParsePumpFlags(static_cast<int>(argv.size()), argv.data());
}

TEST_F(PumpConfigTest, GoStyleFlags) {
  for (auto args : {std::vector<const char*>{"-data-dir", "x"},
                    {"-data-dir=x"},
                    {"--data-dir", "x"},
                    {"--data-dir=x"}}) {
    std::vector<const char*> argv{"pump"};
    argv.insert(argv.end(), args.begin(), args.end());
    ASSERT_OK_AND_ASSIGN(PumpFlags f, ParsePumpFlags(static_cast<int>(argv.size()), argv.data()));
    EXPECT_EQ(f.data_dir, "x") << args[0];
  }
  ASSERT_OK_AND_ASSIGN(PumpFlags l, Parse({"-L", "warn", "-config", "p.toml"}));
  EXPECT_EQ(l.log_level, "warn");
  EXPECT_EQ(l.config, "p.toml");
  EXPECT_FALSE(l.help || l.version);
  ASSERT_OK_AND_ASSIGN(PumpFlags v, Parse({"-V"}));
  EXPECT_TRUE(v.version);
  ASSERT_OK_AND_ASSIGN(PumpFlags v2, Parse({"--version"}));
  EXPECT_TRUE(v2.version);
  ASSERT_OK_AND_ASSIGN(PumpFlags h, Parse({"--help"}));
  EXPECT_TRUE(h.help);
  ASSERT_OK_AND_ASSIGN(PumpFlags h2, Parse({"-help"}));
  EXPECT_TRUE(h2.help);
}

TEST_F(PumpConfigTest, BadFlagsAreErrors) {
  EXPECT_TRUE(Parse({"-bogus"}).status().IsInvalidArgument());
  EXPECT_TRUE(Parse({"-data-dir"}).status().IsInvalidArgument());  // no value
  EXPECT_TRUE(Parse({"stray"}).status().IsInvalidArgument());
  EXPECT_TRUE(Parse({"-data"}).status().IsInvalidArgument());  // no guessing of prefixes
  EXPECT_THAT(Parse({"-bogus"}).status().message(), HasSubstr("bogus"));
}

TEST_F(PumpConfigTest, UsageListsEveryFlagTheGoWay) {
  std::string usage = PumpUsage();
  for (const char* flag :
       {"-config", "-addr", "-advertise-addr", "-status-addr", "-data-dir", "-node-id", "-pd-urls",
        "-registry-dir", "-gc", "-L", "-log-file", "-V", "-version", "-help"}) {
    EXPECT_THAT(usage, HasSubstr(std::string("\n   ") + flag + " ")) << flag;
  }
}

TEST_F(PumpConfigTest, NodeIdIsKeptInDataDir) {
  Env* env = Env::Posix();
  PumpConfig c;
  c.data_dir = dir_.Sub("data");
  c.advertise_addr = "127.0.0.1:8250";
  ASSERT_OK(ResolveNodeID(env, &c));
  EXPECT_EQ(c.node_id, "127.0.0.1:8250");  // the default: advertise-addr
  ASSERT_OK_AND_ASSIGN(std::string kept, ReadFileToString(env, dir_.Sub("data/.node")));
  EXPECT_EQ(kept, "127.0.0.1:8250\n");

  // The kept id wins over the default, even when advertise-addr changed.
  PumpConfig moved = c;
  moved.node_id.clear();
  moved.advertise_addr = "10.0.0.9:8250";
  ASSERT_OK(ResolveNodeID(env, &moved));
  EXPECT_EQ(moved.node_id, "127.0.0.1:8250");

  // The same id configured is fine; a different one is an error naming both.
  PumpConfig same = c;
  ASSERT_OK(ResolveNodeID(env, &same));
  PumpConfig other = c;
  other.node_id = "pump-b";
  Status s = ResolveNodeID(env, &other);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), AllOf(HasSubstr("pump-b"), HasSubstr("127.0.0.1:8250"),
                                 HasSubstr(dir_.Sub("data/.node"))));

  // A configured id on a fresh data dir is what gets kept.
  PumpConfig fresh;
  fresh.data_dir = dir_.Sub("fresh");
  fresh.advertise_addr = "127.0.0.1:8250";
  fresh.node_id = "pump-c";
  ASSERT_OK(ResolveNodeID(env, &fresh));
  ASSERT_OK_AND_ASSIGN(std::string kept_c, ReadFileToString(env, dir_.Sub("fresh/.node")));
  EXPECT_EQ(kept_c, "pump-c\n");
}

TEST(HostPortTest, SplitsAndJoins) {
  ASSERT_OK_AND_ASSIGN(HostPort a, SplitHostPort("127.0.0.1:8250"));
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 8250);
  ASSERT_OK_AND_ASSIGN(HostPort b, SplitHostPort("[::1]:0"));
  EXPECT_EQ(b.host, "::1");
  EXPECT_EQ(b.port, 0);
  EXPECT_EQ(JoinHostPort(b.host, 9), "[::1]:9");
  ASSERT_OK_AND_ASSIGN(HostPort c, SplitHostPort(":8251"));
  EXPECT_EQ(c.host, "");
  for (const char* bad : {"", "host", "::1:80", "h:", "h:-1", "h:65536", "h:8x"}) {
    EXPECT_FALSE(SplitHostPort(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace binlog::pump
