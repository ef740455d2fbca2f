#include "common/config.h"

#include <gmock/gmock.h>

#include <fstream>
#include <string>
#include <vector>

#include "testutil/testutil.h"

namespace binlog {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kPump[] = R"(
addr = "127.0.0.1:8250"
gc = 7
heartbeat-interval = 2
debug = false
ratio = 0.5
whole-ratio = 3
bad-type = "abc"
gc-str = "abc"
pd-urls = ["http://a:2379", "http://b:2379"]
mixed = ["a", 1]

[storage]
sync-log = true
stop-write-at-available-space = "10 gib"
max-file-size = 1048576
kv-chan-cap = -1
timeout = "1h30m"
frac-days = 0.5

[security]
ssl-ca = ""

[plugin.opaque]
anything = 1
deeper.still = "x"
)";

ConfigFile MustParse(const std::string& text) {
  Result<ConfigFile> cfg = ConfigFile::Parse(text, "pump.toml");
  EXPECT_TRUE(cfg.ok()) << cfg.status().ToString();
  return std::move(cfg).value();
}

TEST(ConfigTest, GettersReadEveryType) {
  ConfigFile cfg = MustParse(kPump);
  EXPECT_EQ(cfg.origin(), "pump.toml");
  ASSERT_OK_AND_ASSIGN(std::string addr, cfg.GetString("addr", "x"));
  EXPECT_EQ(addr, "127.0.0.1:8250");
  ASSERT_OK_AND_ASSIGN(int64_t hb, cfg.GetInt("heartbeat-interval", 0));
  EXPECT_EQ(hb, 2);
  ASSERT_OK_AND_ASSIGN(bool debug, cfg.GetBool("debug", true));
  EXPECT_FALSE(debug);
  ASSERT_OK_AND_ASSIGN(bool sync, cfg.GetBool("storage.sync-log", false));
  EXPECT_TRUE(sync);
  ASSERT_OK_AND_ASSIGN(double ratio, cfg.GetDouble("ratio", 0));
  EXPECT_DOUBLE_EQ(ratio, 0.5);
  ASSERT_OK_AND_ASSIGN(double whole, cfg.GetDouble("whole-ratio", 0));
  EXPECT_DOUBLE_EQ(whole, 3.0);
  ASSERT_OK_AND_ASSIGN(uint64_t space, cfg.GetSize("storage.stop-write-at-available-space", 0));
  EXPECT_EQ(space, 10ull << 30);
  ASSERT_OK_AND_ASSIGN(uint64_t max_size, cfg.GetSize("storage.max-file-size", 0));
  EXPECT_EQ(max_size, 1048576u);
  ASSERT_OK_AND_ASSIGN(double gc, cfg.GetDuration("gc", 0, 86400));
  EXPECT_DOUBLE_EQ(gc, 7 * 86400.0);
  ASSERT_OK_AND_ASSIGN(double timeout, cfg.GetDuration("storage.timeout", 0, 1));
  EXPECT_DOUBLE_EQ(timeout, 5400.0);
  ASSERT_OK_AND_ASSIGN(double half_day, cfg.GetDuration("storage.frac-days", 0, 86400));
  EXPECT_DOUBLE_EQ(half_day, 43200.0);
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> urls, cfg.GetStringList("pd-urls"));
  EXPECT_THAT(urls, ElementsAre("http://a:2379", "http://b:2379"));
  ASSERT_OK_AND_ASSIGN(std::string ca, cfg.GetString("security.ssl-ca", "default"));
  EXPECT_EQ(ca, "");
}

TEST(ConfigTest, MissingKeysFallBack) {
  ConfigFile cfg = MustParse(kPump);
  ASSERT_OK_AND_ASSIGN(std::string s, cfg.GetString("data-dir", "data.pump"));
  EXPECT_EQ(s, "data.pump");
  ASSERT_OK_AND_ASSIGN(int64_t i, cfg.GetInt("storage.missing", 42));
  EXPECT_EQ(i, 42);
  ASSERT_OK_AND_ASSIGN(bool b, cfg.GetBool("nope.nope", true));
  EXPECT_TRUE(b);
  ASSERT_OK_AND_ASSIGN(double d, cfg.GetDouble("x", 1.5));
  EXPECT_DOUBLE_EQ(d, 1.5);
  ASSERT_OK_AND_ASSIGN(uint64_t sz, cfg.GetSize("x", 77));
  EXPECT_EQ(sz, 77u);
  ASSERT_OK_AND_ASSIGN(double dur, cfg.GetDuration("x", 60, 1));
  EXPECT_DOUBLE_EQ(dur, 60);
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> list, cfg.GetStringList("x"));
  EXPECT_TRUE(list.empty());
  EXPECT_TRUE(cfg.Has("storage.sync-log"));
  EXPECT_TRUE(cfg.Has("storage"));
  EXPECT_FALSE(cfg.Has("storage.nope"));
  EXPECT_FALSE(cfg.Has("addr.port"));  // addr is a string, not a table
}

TEST(ConfigTest, WrongTypesNameFileKeyAndExpectation) {
  ConfigFile cfg = MustParse(kPump);
  Result<double> gc = cfg.GetDuration("gc-str", 0, 86400);
  ASSERT_TRUE(gc.status().IsInvalidArgument());
  EXPECT_EQ(gc.status().message(),
            "pump.toml: key \"gc-str\": expected a number of days or a duration like \"8h\", got "
            "\"abc\"");
  Result<int64_t> i = cfg.GetInt("bad-type", 0);
  EXPECT_EQ(i.status().message(), "pump.toml: key \"bad-type\": expected an integer, got \"abc\"");
  Result<bool> b = cfg.GetBool("storage.max-file-size", false);
  EXPECT_EQ(b.status().message(),
            "pump.toml: key \"storage.max-file-size\": expected true or false, got 1048576");
  Result<std::string> s = cfg.GetString("storage", "");
  EXPECT_THAT(s.status().message(), HasSubstr("expected a string, got a table"));
  Result<double> d = cfg.GetDouble("addr", 0);
  EXPECT_THAT(d.status().message(), HasSubstr("pump.toml: key \"addr\": expected a number"));
  Result<uint64_t> neg = cfg.GetSize("storage.kv-chan-cap", 0);
  EXPECT_THAT(neg.status().message(),
              HasSubstr("pump.toml: key \"storage.kv-chan-cap\": expected a number of bytes"));
  Result<uint64_t> size = cfg.GetSize("bad-type", 0);
  EXPECT_THAT(size.status().message(), HasSubstr("got \"abc\""));
  Result<std::vector<std::string>> list = cfg.GetStringList("mixed");
  EXPECT_THAT(list.status().message(),
              HasSubstr("key \"mixed\": expected an array of strings, with an element, got 1"));
  Result<std::vector<std::string>> notlist = cfg.GetStringList("addr");
  EXPECT_THAT(notlist.status().message(), HasSubstr("expected an array of strings"));
  Result<double> hours = cfg.GetDuration("addr", 0, 3600);
  EXPECT_THAT(hours.status().message(), HasSubstr("expected a number of hours"));
}

TEST(ConfigTest, UnknownKeysAreLeavesNotReadAndNotIgnored) {
  ConfigFile cfg = MustParse(kPump);
  ASSERT_OK(cfg.GetString("addr", "").status());
  ASSERT_OK(cfg.GetBool("storage.sync-log", false).status());
  ASSERT_OK(cfg.GetString("storage.nope", "").status());  // absent: nothing to report
  cfg.IgnoreTable("plugin");
  std::vector<std::string> unknown = cfg.UnknownKeys();
  EXPECT_THAT(unknown, ElementsAre("bad-type", "debug", "gc", "gc-str", "heartbeat-interval",
                                   "mixed", "pd-urls", "ratio", "security.ssl-ca",
                                   "storage.frac-days", "storage.kv-chan-cap",
                                   "storage.max-file-size", "storage.stop-write-at-available-space",
                                   "storage.timeout", "whole-ratio"));
}

TEST(ConfigTest, IgnoreTableMatchesWholeComponents) {
  ConfigFile cfg = MustParse("[plug]\na = 1\n[plugin]\nb = 2\n");
  cfg.IgnoreTable("plug");
  EXPECT_THAT(cfg.UnknownKeys(), ElementsAre("plugin.b"));
}

TEST(ConfigTest, SyntaxErrorNamesFileLineAndColumn) {
  Result<ConfigFile> cfg =
      ConfigFile::Parse("addr = \"x\"\n[storage]\nsync-log = tru\n", "pump.toml");
  ASSERT_TRUE(cfg.status().IsInvalidArgument());
  EXPECT_THAT(cfg.status().message(), HasSubstr("pump.toml:3:12: syntax error"));
  EXPECT_THAT(cfg.status().message(), HasSubstr("sync-log = tru"));

  Result<ConfigFile> dup = ConfigFile::Parse("a = 1\na = 2\n", "dup.toml");
  EXPECT_THAT(dup.status().message(), HasSubstr("dup.toml:2:5:"));
  EXPECT_THAT(dup.status().message(), HasSubstr("already exists"));
}

TEST(ConfigTest, LoadReadsFileAndNamesMissingOne) {
  testing::TempDir dir;
  const std::string path = dir.Sub("drainer.toml");
  std::ofstream(path) << "[syncer]\nworker-count = 16\n";
  ASSERT_OK_AND_ASSIGN(ConfigFile cfg, ConfigFile::Load(path));
  EXPECT_EQ(cfg.origin(), path);
  ASSERT_OK_AND_ASSIGN(int64_t workers, cfg.GetInt("syncer.worker-count", 1));
  EXPECT_EQ(workers, 16);
  Result<bool> wrong = cfg.GetBool("syncer.worker-count", false);
  EXPECT_THAT(wrong.status().message(), HasSubstr(path + ": key \"syncer.worker-count\""));

  Result<ConfigFile> missing = ConfigFile::Load(dir.Sub("nope.toml"));
  EXPECT_TRUE(missing.status().IsNotFound());
  EXPECT_THAT(missing.status().message(), HasSubstr(dir.Sub("nope.toml")));
}

TEST(ParseSizeTest, UnitsArePowersOf1024) {
  const std::pair<const char*, uint64_t> cases[] = {{"10 gib", 10ull << 30},
                                                    {"10GiB", 10ull << 30},
                                                    {"512MB", 512ull << 20},
                                                    {"64k", 64ull << 10},
                                                    {"1048576", 1048576},
                                                    {" 2 tb ", 2ull << 40},
                                                    {"1.5K", 1536},
                                                    {"7b", 7},
                                                    {"0", 0},
                                                    {"3 MiB", 3ull << 20},
                                                    {"1g", 1ull << 30},
                                                    {"18446744073709551615", UINT64_MAX}};
  for (const auto& [text, want] : cases) {
    Result<uint64_t> got = ParseSize(text);
    ASSERT_TRUE(got.ok()) << text << ": " << got.status().ToString();
    EXPECT_EQ(*got, want) << text;
  }
}

TEST(ParseSizeTest, BadSizesSayWhatWasExpected) {
  for (const char* text :
       {"", "abc", "10 xb", "-1", "1..5k", "18446744073709551616", "99999999t"}) {
    Result<uint64_t> got = ParseSize(text);
    ASSERT_TRUE(got.status().IsInvalidArgument()) << text;
    EXPECT_THAT(got.status().message(), HasSubstr(std::string("bad size \"") + text + "\""));
  }
  EXPECT_THAT(ParseSize("abc").status().message(), HasSubstr("expected a number of bytes"));
}

TEST(ParseGoDurationTest, GoSyntax) {
  const std::pair<const char*, double> cases[] = {
      {"300ms", 0.3}, {"1.5h", 5400}, {"2h45m", 9900},      {"10s", 10},
      {"0", 0},       {"1us", 1e-6},  {"1\xC2\xB5s", 1e-6}, {"100ns", 1e-7},
      {"-1m", -60},   {"+2s", 2},     {".5s", 0.5},         {"1h0m0.5s", 3600.5}};
  for (const auto& [text, want] : cases) {
    Result<double> got = ParseGoDuration(text);
    ASSERT_TRUE(got.ok()) << text << ": " << got.status().ToString();
    EXPECT_NEAR(*got, want, 1e-12) << text;
  }
}

TEST(ParseGoDurationTest, BadDurations) {
  for (const char* text : {"", "10", "abc", "1d", "h", "1.h2", "3 h", "."}) {
    Result<double> got = ParseGoDuration(text);
    ASSERT_TRUE(got.status().IsInvalidArgument()) << text;
    EXPECT_THAT(got.status().message(), HasSubstr(std::string("bad duration \"") + text + "\""));
  }
  EXPECT_THAT(ParseGoDuration("10").status().message(), HasSubstr("missing unit"));
  EXPECT_THAT(ParseGoDuration("1d").status().message(), HasSubstr("unknown unit \"d\""));
}

TEST(ParseDaysDurationTest, GoSyntaxAndDays) {
  const std::pair<const char*, double> cases[] = {
      {"7d", 7 * 86400.0}, {"1d12h", 129600}, {"24h", 86400},
      {"90m", 5400},       {"0", 0},          {"0.5d", 43200}};
  for (const auto& [text, want] : cases) {
    Result<double> got = ParseDaysDuration(text);
    ASSERT_TRUE(got.ok()) << text << ": " << got.status().ToString();
    EXPECT_DOUBLE_EQ(*got, want) << text;
  }
  Result<double> bad = ParseDaysDuration("7days");
  ASSERT_TRUE(bad.status().IsInvalidArgument());
  EXPECT_THAT(bad.status().message(), HasSubstr("unknown unit \"days\""));
  EXPECT_THAT(bad.status().message(), HasSubstr("\"7d\""));
  EXPECT_THAT(ParseDaysDuration("7").status().message(), HasSubstr("missing unit"));
}

}  // namespace
}  // namespace binlog
