#include "common/histogram.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace binlog {
namespace {

using ::testing::HasSubstr;

TEST(LatencyHistogramTest, BucketsAreCumulativeAndBoundsInclusive) {
  LatencyHistogram h;
  h.Observe(50);       // on the first bound: counts in it
  h.Observe(51);       // just above: the next
  h.Observe(4000);     // 5 ms bucket
  h.Observe(9000000);  // beyond every bound: +Inf only
  EXPECT_EQ(h.count(), 4u);
  EXPECT_EQ(h.sum_micros(), 50u + 51u + 4000u + 9000000u);
  EXPECT_EQ(h.CumulativeCount(0), 1u);  // <= 50 us
  EXPECT_EQ(h.CumulativeCount(1), 2u);  // <= 100 us
  EXPECT_EQ(h.CumulativeCount(6), 3u);  // <= 5 ms
  EXPECT_EQ(h.CumulativeCount(LatencyHistogram::kBoundsMicros.size() - 1), 3u);
  EXPECT_EQ(h.CumulativeCount(LatencyHistogram::kBoundsMicros.size()), 4u);
}

TEST(LatencyHistogramTest, PrometheusTextInSeconds) {
  LatencyHistogram h;
  h.Observe(300);
  h.Observe(2000000);
  std::string out;
  h.AppendPrometheus(&out, "x_seconds", "journal=\"wal\"");
  EXPECT_THAT(out, HasSubstr("x_seconds_bucket{journal=\"wal\",le=\"0.00025\"} 0\n"));
  EXPECT_THAT(out, HasSubstr("x_seconds_bucket{journal=\"wal\",le=\"0.0005\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("x_seconds_bucket{journal=\"wal\",le=\"1\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("x_seconds_bucket{journal=\"wal\",le=\"5\"} 2\n"));
  EXPECT_THAT(out, HasSubstr("x_seconds_bucket{journal=\"wal\",le=\"+Inf\"} 2\n"));
  EXPECT_THAT(out, HasSubstr("x_seconds_sum{journal=\"wal\"} 2.0003\n"));
  EXPECT_THAT(out, HasSubstr("x_seconds_count{journal=\"wal\"} 2\n"));

  std::string bare;
  LatencyHistogram().AppendPrometheus(&bare, "y", "");
  EXPECT_THAT(bare, HasSubstr("y_bucket{le=\"+Inf\"} 0\n"));
  EXPECT_THAT(bare, HasSubstr("y_count 0\n"));
}

}  // namespace
}  // namespace binlog
