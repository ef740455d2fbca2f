// reparo's configuration: TiDB-Binlog's reparo.toml loads as it is (the seed's recovery drill,
// /work/shared/seeds/002: "BR配合TiDB-Binlog实现增量备份"), conf/reparo.toml loads and holds every
// key with its default, and bad input is InvalidArgument naming the key or the file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/tso.h"
#include "journal/journal.h"
#include "reparo/config.h"
#include "reparo/run.h"
#include "testutil/testutil.h"

namespace binlog::reparo {
namespace {

using ::testing::HasSubstr;

// The reparo.toml of the seed's drill, verbatim (its comments are TiDB's own).
constexpr char kSeedToml[] = R"TOML(# Drainer 输出的 protobuf 格式 binlog 文件的存储路径。
data-dir = "/data/tidb-data/drainer-8249/relay_log"
# 日志输出信息等级设置：debug, info, warn, error, fatal (默认值：info)。
log-level = "info"
# 使用 start-datetime 和 stop-datetime 来选择恢复指定时间范围内的 binlog，格式为 “2006-01-02 15:04:05”。
start-datetime = "2021-01-18 13:32:26"
stop-datetime = "2021-01-18 13:40:42"
# 下游服务类型。 取值为 print, mysql（默认值：print）。当值为 print 时，只做解析打印到标准输出，不执行 SQL；  
# 如果为 mysql，则需要在 [dest-db] 中配置 host、port、user、password 等信息。
dest-type = "mysql"
# 输出到下游数据库一个事务的 SQL 语句数量（默认 20）。
txn-batch = 20
# 同步下游的并发数，该值设置越高同步的吞吐性能越好（默认 16）。
worker-count = 16
# 安全模式配置。取值为 true 或 false（默认值：false）。当值为 true 时，Reparo 会将 update 语句拆分为 delete + replace 语句。
safe-mode = false
# replicate-do-db 和 replicate-do-table 用于指定恢复的库和表，replicate-do-db 的优先级高于 replicate-do-table。支持使用正则表达式来配置，需要以 '~' 开始声明使用正则表达式。
# 注：replicate-do-db 和 replicate-do-table 使用方式与 Drainer 的使用方式一致。
# replicate-do-db = ["~^b.*","s1"]
# [[replicate-do-table]]
# db-name ="test"
# tbl-name = "log"
# [[replicate-do-table]]
# db-name ="test"
# tbl-name = "~^a.*"

# 如果 dest-type 设置为 mysql, 需要配置 dest-db
[dest-db]
host = "192.168.169.41"
port = 4000
user = "root"
password = ""
)TOML";

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<Command> Load(std::vector<std::string> args, ReparoConfig* config) {
  args.insert(args.begin(), "reparo");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  return LoadConfig(static_cast<int>(argv.size()), argv.data(), config);
}

class ReparoConfigTest : public ::testing::Test {
 protected:
  // A config file of `text` with data-dir set to a directory holding one segment (the segdump
  // golden fixture: COMMIT records, a heartbeat, a PREWRITE and a ROLLBACK).
  std::string Config(const std::string& text) {
    std::string dir = tmp_.Sub("archive");
    if (!std::ifstream(dir + "/" + SegmentFile()).good()) {
      std::filesystem::create_directories(dir);
      WriteFile(dir + "/" + SegmentFile(),
                ReadFile(testing::TestDataPath("golden/segdump/typed.seg")));
    }
    std::string path = tmp_.Sub("reparo.toml");
    WriteFile(path, "data-dir = \"" + dir + "\"\n" + text);
    return path;
  }
  static std::string SegmentFile() {
    return journal::MakeSegmentName(445644800000000000, 1700000000000000);
  }

  testing::TempDir tmp_;
};

TEST_F(ReparoConfigTest, SeedConfigLoadsUnchanged) {
  std::string path = tmp_.Sub("reparo.toml");
  WriteFile(path, kSeedToml);
  ReparoConfig c;
  ASSERT_OK(Load({"-config", path}, &c).status());
  EXPECT_EQ(c.data_dir, "/data/tidb-data/drainer-8249/relay_log");
  EXPECT_EQ(c.log_level, "info");
  ASSERT_OK_AND_ASSIGN(uint64_t start, ParseDatetimeToTS("2021-01-18 13:32:26"));
  ASSERT_OK_AND_ASSIGN(uint64_t stop, ParseDatetimeToTS("2021-01-18 13:40:42"));
  EXPECT_EQ(c.start_ts, start);
  EXPECT_EQ(c.stop_ts, stop | kLogicalMask);
  EXPECT_EQ(c.dest_type, "mysql");
  EXPECT_EQ(c.txn_batch, 20);
  EXPECT_EQ(c.worker_count, 16);
  EXPECT_FALSE(c.safe_mode);
  EXPECT_EQ(c.dest.host, "192.168.169.41");
  EXPECT_EQ(c.dest.port, 4000);
  EXPECT_EQ(c.dest.user, "root");
  EXPECT_EQ(c.dest.password, "");
  EXPECT_FALSE(c.dest.tls.enabled);
  EXPECT_TRUE(c.unknown_keys.empty()) << c.unknown_keys.front();
  EXPECT_TRUE(c.filter.do_dbs.empty() && c.filter.do_tables.empty());

  // The datetimes are the operator's wall clock: -time-zone says which (the seed's machine ran
  // on -05:00; these are the same instants read as +08:00).
  ReparoConfig zoned;
  ASSERT_OK(Load({"-config", path, "-time-zone", "+08:00"}, &zoned).status());
  EXPECT_EQ(zoned.start_ts, ComposeTS(1610947946000, 0));  // 2021-01-18 05:32:26 UTC
  EXPECT_EQ(zoned.stop_ts, ComposeTS(1610948442000, kLogicalMask));
}

// conf/reparo.toml: loads, every key it sets is one reparo reads, and each value is the default
// (what a config without the key gives); data-dir, which has none, is an example.
TEST_F(ReparoConfigTest, ShippedConfigHoldsEveryKeyWithItsDefault) {
  const std::string conf = std::string(BINLOG_SOURCE_DIR) + "/conf/reparo.toml";
  ReparoConfig c;
  ASSERT_OK(Load({"-config", conf}, &c).status());
  EXPECT_TRUE(c.unknown_keys.empty()) << c.unknown_keys.front();
  ReparoConfig d;
  ASSERT_OK(Load({"-data-dir", c.data_dir}, &d).status());
  EXPECT_EQ(c.log_file, d.log_file);
  EXPECT_EQ(c.log_level, d.log_level);
  EXPECT_EQ(c.log_rotate, d.log_rotate);
  EXPECT_EQ(c.start_ts, 0u);
  EXPECT_EQ(c.stop_ts, UINT64_MAX);
  EXPECT_EQ(c.time_zone, d.time_zone);
  EXPECT_EQ(c.dest_type, "print");
  EXPECT_EQ(c.txn_batch, 20);
  EXPECT_EQ(c.worker_count, 16);
  EXPECT_EQ(c.safe_mode, d.safe_mode);
  EXPECT_EQ(c.split_big_txn, d.split_big_txn);
  EXPECT_FALSE(c.split_big_txn);
  EXPECT_EQ(c.max_retry, d.max_retry);
  EXPECT_EQ(c.task, d.task);
  EXPECT_EQ(c.dest.host, d.dest.host);
  EXPECT_EQ(c.dest.port, d.dest.port);
  EXPECT_EQ(c.dest.user, d.dest.user);
  EXPECT_EQ(c.dest.password, d.dest.password);
  EXPECT_FALSE(c.dest.tls.enabled);
  EXPECT_TRUE(c.filter.do_dbs.empty() && c.filter.do_tables.empty() &&
              c.filter.ignore_dbs.empty() && c.filter.ignore_tables.empty() &&
              c.filter.ignore_schemas.empty());
  // Every key config.cc reads is written out (a key added there belongs here too); the table
  // arrays as commented examples.
  const std::string text = ReadFile(conf);
  for (const char* key : {"data-dir",
                          "log-file",
                          "log-level",
                          "start-datetime",
                          "stop-datetime",
                          "start-tso",
                          "stop-tso",
                          "time-zone",
                          "dest-type",
                          "txn-batch",
                          "worker-count",
                          "safe-mode",
                          "split-big-txn",
                          "max-retry",
                          "task",
                          "replicate-do-db",
                          "replicate-ignore-db",
                          "ignore-schemas",
                          "host",
                          "port",
                          "user",
                          "password",
                          "ssl-ca",
                          "ssl-cert",
                          "ssl-key"}) {
    EXPECT_THAT(text, HasSubstr(std::string("\n") + key + " = ")) << key;
  }
  for (const char* example : {"\n# [[replicate-do-table]]\n# db-name = ",
                              "\n# [[replicate-ignore-table]]\n# db-name = ", "\n[dest-db]\n"}) {
    EXPECT_THAT(text, HasSubstr(example));
  }
}

// split-big-txn: off unless the file or the flag says so; the flag wins.
TEST_F(ReparoConfigTest, SplitBigTxnFromTheFileOrTheFlag) {
  ReparoConfig file;
  ASSERT_OK(Load({"-config", Config("split-big-txn = true\n")}, &file).status());
  EXPECT_TRUE(file.split_big_txn);
  ReparoConfig flag;
  ASSERT_OK(Load({"-config", Config(""), "-split-big-txn"}, &flag).status());
  EXPECT_TRUE(flag.split_big_txn);
  ReparoConfig both;
  ASSERT_OK(
      Load({"-config", Config("split-big-txn = true\n"), "-split-big-txn=false"}, &both).status());
  EXPECT_FALSE(both.split_big_txn);
  ReparoConfig bad;
  Status s = Load({"-config", Config("split-big-txn = 1\n")}, &bad).status();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("split-big-txn"));
}

// TiDB-Binlog's default for both TSOs is 0, meaning unset: "stop-tso = 0" beside datetimes (as
// its reparo.toml ships them) neither empties the window nor conflicts with a datetime.
TEST_F(ReparoConfigTest, ZeroTsoIsUnset) {
  ReparoConfig c;
  ASSERT_OK(Load({"-config", Config("start-tso = 0\nstop-tso = 0\n")}, &c).status());
  EXPECT_EQ(c.start_ts, 0u);
  EXPECT_EQ(c.stop_ts, UINT64_MAX);
  ReparoConfig d;
  ASSERT_OK(
      Load({"-config", Config("start-tso = 0\nstop-tso = 0\nstart-datetime = \"2021-01-18 "
                              "13:32:26\"\nstop-datetime = \"2021-01-18 13:40:42\"\ntime-zone = "
                              "\"+08:00\"\n")},
           &d)
          .status());
  EXPECT_EQ(d.start_ts, ComposeTS(1610947946000, 0));
  EXPECT_EQ(d.stop_ts, ComposeTS(1610948442000, kLogicalMask));
  // A flag of 0 resets a file's TSO to the whole archive.
  ReparoConfig e;
  ASSERT_OK(
      Load({"-config", Config("stop-tso = 445644800000000000\n"), "-stop-tso", "0"}, &e).status());
  EXPECT_EQ(e.stop_ts, UINT64_MAX);
}

// Each load starts from the defaults, as the tool does.
Result<Command> LoadFresh(std::vector<std::string> args) {
  ReparoConfig c;
  return Load(std::move(args), &c);
}

void ExpectBad(const Result<Command>& r, std::initializer_list<std::string> named) {
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
  for (const std::string& n : named) EXPECT_THAT(r.status().message(), HasSubstr(n));
}

TEST_F(ReparoConfigTest, BadInputNamesTheKeyOrFile) {
  std::string file = Config("dest-type = \"kafka\"\n");
  ExpectBad(LoadFresh({"-config", file}), {file, "dest-type", "kafka"});
  ExpectBad(LoadFresh({"-config", Config(""), "-dest-type", "tidb"}), {"dest-type", "tidb"});

  file = Config(
      "start-datetime = \"2021-01-18 13:40:42\"\nstop-datetime = \"2021-01-18 "
      "13:32:26\"\n");
  ExpectBad(LoadFresh({"-config", file}),
            {"ends before it starts", "stop-datetime \"2021-01-18 13:32:26\" (" + file,
             "start-datetime \"2021-01-18 13:40:42\" (" + file});
  ExpectBad(LoadFresh({"-config", Config(""), "-start-tso", "20", "-stop-tso", "10"}),
            {"ends before it starts", "stop-tso 10 (the flags)", "start-tso 20 (the flags)"});

  file = Config("start-datetime = \"2021-01-18 25:61:00\"\n");
  ExpectBad(LoadFresh({"-config", file}), {file, "start-datetime", "2021-01-18 25:61:00"});
  ExpectBad(LoadFresh({"-config", Config(""), "-stop-datetime", "yesterday"}),
            {"the flags", "stop-datetime", "yesterday"});

  file = Config("start-tso = 422312719696527362\nstart-datetime = \"2021-01-18 13:32:26\"\n");
  ExpectBad(LoadFresh({"-config", file}), {file, "start-tso", "start-datetime"});
  ExpectBad(LoadFresh({"-config", Config(""), "-stop-tso", "422312719696527362", "-stop-datetime",
                       "2021-01-18 13:40:42"}),
            {"the flags", "stop-tso", "stop-datetime"});

  file = Config("log-rotate = \"weekly\"\n");
  ExpectBad(LoadFresh({"-config", file}), {file, "log-rotate", "weekly"});
  file = Config("txn-batch = 0\n");
  ExpectBad(LoadFresh({"-config", file}), {file, "txn-batch"});
  file = Config("[dest-db]\nport = 70000\n");
  ExpectBad(LoadFresh({"-config", file}), {file, "dest-db.port"});
  file = tmp_.Sub("missing.toml");
  ExpectBad(LoadFresh({"-config", file}), {file});
  ExpectBad(LoadFresh({}), {"data-dir"});
}

// A regular expression is compiled when the run starts: a bad one stops it before anything is
// read or applied, as bad input (exit 2), naming the expression.
TEST_F(ReparoConfigTest, BadRegexIsReportedWhenTheRunStarts) {
  ReparoConfig c;
  ASSERT_OK(Load({"-config", Config("replicate-do-db = [\"~^(shop\"]\n")}, &c).status());
  RunResult r = reparo::Run(c);
  EXPECT_EQ(r.outcome, Outcome::kBadInput);
  EXPECT_TRUE(r.status.IsInvalidArgument()) << r.status.ToString();
  EXPECT_THAT(r.status.message(), HasSubstr("^(shop"));

  ReparoConfig t;
  ASSERT_OK(Load({"-config", Config("[[replicate-ignore-table]]\ndb-name = \"shop\"\ntbl-name = "
                                    "\"~[z-a]\"\n")},
                 &t)
                .status());
  r = reparo::Run(t);
  EXPECT_EQ(r.outcome, Outcome::kBadInput);
  EXPECT_THAT(r.status.message(), HasSubstr("[z-a]"));
}

// The fixture holds COMMIT records up to ts 445644800786432003, then a heartbeat (FAKE), a
// PREWRITE and a ROLLBACK: a window over the last three holds no transaction.
TEST_F(ReparoConfigTest, WindowOfHeartbeatsOnlyIsEmpty) {
  ReparoConfig c;
  ASSERT_OK(Load({"-config", Config(""), "-start-tso", "445644800786432004"}, &c).status());
  RunResult r = reparo::Run(c);
  EXPECT_EQ(r.outcome, Outcome::kEmpty) << r.status.ToString();
  EXPECT_THAT(r.status.message(), HasSubstr("matches no transaction"));

  ReparoConfig last;
  ASSERT_OK(Load({"-config", Config(""), "-start-tso", "445644800786432003", "-stop-tso",
                  "445644800786432003"},
                 &last)
                .status());
  r = reparo::Run(last);
  EXPECT_EQ(r.outcome, Outcome::kApplied) << r.status.ToString();
}

}  // namespace
}  // namespace binlog::reparo
