#include "common/tso.h"

#include <stdlib.h>
#include <time.h>

#include <optional>
#include <string>

#include "testutil/testutil.h"

namespace binlog {
namespace {

constexpr int64_t kJan18Ms = 1610973640644;  // 2021-01-18 12:40:40.644 UTC
constexpr int64_t kJul1Ms = 1625140800000;   // 2021-07-01 12:00:00 UTC

TEST(TsoTest, ComposeAndSplit) {
  const uint64_t ts = ComposeTS(kJan18Ms, 5);
  EXPECT_EQ(ts, (uint64_t{1610973640644} << 18) | 5);
  EXPECT_EQ(TSPhysicalMs(ts), kJan18Ms);
  EXPECT_EQ(TSLogical(ts), 5u);
  // The logical part never spills into the physical one.
  EXPECT_EQ(TSPhysicalMs(ComposeTS(kJan18Ms, kLogicalMask + 1)), kJan18Ms);
  EXPECT_EQ(TSLogical(ComposeTS(kJan18Ms, kLogicalMask + 1)), 0u);
  // A real TSO from a TiDB cluster.
  EXPECT_EQ(TSPhysicalMs(400036290571534337), 1526017343794);
  EXPECT_EQ(TSLogical(400036290571534337), 1u);
}

TEST(TsoTest, FormatInUtcAndFixedOffsets) {
  const uint64_t ts = ComposeTS(kJan18Ms, 7);
  ASSERT_OK_AND_ASSIGN(std::string utc, FormatTSDatetime(ts, "UTC"));
  EXPECT_EQ(utc, "2021-01-18 12:40:40.644000");
  ASSERT_OK_AND_ASSIGN(std::string east, FormatTSDatetime(ts, "+08:00"));
  EXPECT_EQ(east, "2021-01-18 20:40:40.644000");
  ASSERT_OK_AND_ASSIGN(std::string west, FormatTSDatetime(ts, "-0500"));
  EXPECT_EQ(west, "2021-01-18 07:40:40.644000");
}

TEST(TsoTest, FormatInNamedZones) {
  ASSERT_OK_AND_ASSIGN(std::string sh, FormatTSDatetime(ComposeTS(kJan18Ms, 0), "Asia/Shanghai"));
  EXPECT_EQ(sh, "2021-01-18 20:40:40.644000");
  ASSERT_OK_AND_ASSIGN(std::string ny_winter,
                       FormatTSDatetime(ComposeTS(kJan18Ms, 0), "America/New_York"));
  EXPECT_EQ(ny_winter, "2021-01-18 07:40:40.644000");
  // July is daylight saving time in New York: UTC-4, not -5.
  ASSERT_OK_AND_ASSIGN(std::string ny_summer,
                       FormatTSDatetime(ComposeTS(kJul1Ms, 0), "America/New_York"));
  EXPECT_EQ(ny_summer, "2021-07-01 08:00:00.000000");
}

TEST(TsoTest, ParseInZones) {
  ASSERT_OK_AND_ASSIGN(uint64_t utc, ParseDatetimeToTS("2021-01-18 12:40:40.644", "UTC"));
  EXPECT_EQ(utc, ComposeTS(kJan18Ms, 0));
  ASSERT_OK_AND_ASSIGN(uint64_t east, ParseDatetimeToTS("2021-01-18 20:40:40.644", "+08:00"));
  EXPECT_EQ(east, ComposeTS(kJan18Ms, 0));
  ASSERT_OK_AND_ASSIGN(uint64_t sh, ParseDatetimeToTS("2021-01-18T20:40:40.644", "Asia/Shanghai"));
  EXPECT_EQ(sh, ComposeTS(kJan18Ms, 0));
  ASSERT_OK_AND_ASSIGN(uint64_t ny, ParseDatetimeToTS("2021-07-01 08:00:00", "America/New_York"));
  EXPECT_EQ(ny, ComposeTS(kJul1Ms, 0));
}

TEST(TsoTest, ParseAcrossDstTransitions) {
  // 02:30 does not exist on 2021-03-14 in New York; it maps to the jump, 07:00 UTC.
  ASSERT_OK_AND_ASSIGN(uint64_t gap, ParseDatetimeToTS("2021-03-14 02:30:00", "America/New_York"));
  EXPECT_EQ(TSPhysicalMs(gap), 1615705200000);
  // 01:30 happens twice on 2021-11-07; the first (EDT, 05:30 UTC) is chosen.
  ASSERT_OK_AND_ASSIGN(uint64_t twice,
                       ParseDatetimeToTS("2021-11-07 01:30:00", "America/New_York"));
  EXPECT_EQ(TSPhysicalMs(twice), 1636263000000);
}

TEST(TsoTest, FractionDigits) {
  ASSERT_OK_AND_ASSIGN(uint64_t half, ParseDatetimeToTS("2021-01-18 12:40:40.5", "UTC"));
  EXPECT_EQ(TSPhysicalMs(half), 1610973640500);
  // A TSO holds milliseconds: the microseconds are cut, not rounded.
  ASSERT_OK_AND_ASSIGN(uint64_t micro, ParseDatetimeToTS("2021-01-18 12:40:40.123999", "UTC"));
  EXPECT_EQ(TSPhysicalMs(micro), 1610973640123);
}

TEST(TsoTest, RoundTripEveryZone) {
  for (const char* zone : {"", "UTC", "+08:00", "-05:30", "Asia/Shanghai", "America/New_York"}) {
    for (int64_t ms : {kJan18Ms, kJul1Ms, int64_t{1}, int64_t{4102444800123}}) {
      const uint64_t ts = ComposeTS(ms, 0);
      ASSERT_OK_AND_ASSIGN(std::string text, FormatTSDatetime(ts, zone));
      ASSERT_OK_AND_ASSIGN(uint64_t back, ParseDatetimeToTS(text, zone));
      EXPECT_EQ(back, ts) << zone << " " << text;
    }
  }
}

TEST(TsoTest, BadDatetimesNameTextAndShape) {
  Result<uint64_t> month = ParseDatetimeToTS("2021-13-01 00:00:00", "UTC");
  ASSERT_TRUE(month.status().IsInvalidArgument());
  EXPECT_EQ(month.status().message(),
            "bad datetime \"2021-13-01 00:00:00\": expected YYYY-MM-DD hh:mm:ss[.ffffff]");
  for (const char* text :
       {"2021-02-29 00:00:00", "2021-01-18", "2021-01-18 24:00:00", "2021-01-18 12:60:00",
        "2021-01-18 12:40:40.1234567", "2021-01-18 12:40:40.", "2021/01/18 12:40:40", "yesterday",
        "", "2021-01-18 12:40:40 junk"}) {
    Result<uint64_t> r = ParseDatetimeToTS(text, "UTC");
    EXPECT_TRUE(r.status().IsInvalidArgument()) << text;
    EXPECT_NE(r.status().message().find(std::string("\"") + text + "\""), std::string::npos)
        << r.status().ToString();
  }
  EXPECT_TRUE(ParseDatetimeToTS("1969-12-31 23:59:59", "UTC").status().IsInvalidArgument());
}

TEST(TsoTest, BadZonesAreErrorsNotExceptions) {
  for (const char* zone : {"Mars/Olympus", "+25:00", "+8:00", "-05:0", "utc+1"}) {
    Result<std::string> f = FormatTSDatetime(ComposeTS(kJan18Ms, 0), zone);
    ASSERT_TRUE(f.status().IsInvalidArgument()) << zone;
    EXPECT_NE(f.status().message().find(std::string("\"") + zone + "\""), std::string::npos)
        << f.status().message();
    EXPECT_TRUE(ParseDatetimeToTS("2021-01-18 00:00:00", zone).status().IsInvalidArgument());
  }
}

TEST(TsoTest, ParseTSOrDatetime) {
  ASSERT_OK_AND_ASSIGN(uint64_t tso, ParseTSOrDatetime("400036290571534337"));
  EXPECT_EQ(tso, 400036290571534337u);
  ASSERT_OK_AND_ASSIGN(uint64_t dt, ParseTSOrDatetime("2021-01-18 12:40:40.644", "UTC"));
  EXPECT_EQ(dt, ComposeTS(kJan18Ms, 0));
  EXPECT_TRUE(ParseTSOrDatetime("99999999999999999999").status().IsInvalidArgument());
  EXPECT_TRUE(ParseTSOrDatetime("12ab").status().IsInvalidArgument());
}

// Sets TZ for the test's duration; FormatCompactLocal follows the C library's local zone.
class ScopedTZ {
 public:
  explicit ScopedTZ(const char* tz) {
    if (const char* old = getenv("TZ")) old_ = old;
    setenv("TZ", tz, 1);
    tzset();
  }
  ~ScopedTZ() {
    if (old_) {
      setenv("TZ", old_->c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }

 private:
  std::optional<std::string> old_;
};

TEST(TsoTest, FormatCompactLocal) {
  {
    ScopedTZ tz("Asia/Shanghai");
    EXPECT_EQ(FormatCompactLocal(kJan18Ms * 1000 + 999), "20210118204040");
  }
  {
    ScopedTZ tz("UTC");
    EXPECT_EQ(FormatCompactLocal(kJan18Ms * 1000), "20210118124040");
    EXPECT_EQ(FormatCompactLocal(0), "19700101000000");
  }
}

}  // namespace
}  // namespace binlog
