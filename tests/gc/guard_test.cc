// The drainer guard over a file registry, with a fake clock and fake available space: a
// drainer's checkpoint holds segments back; a stale heartbeat or an offline drainer does not;
// -force and a disk below the watermark delete past it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "gc_test_util.h"
#include "registry/registry.h"

namespace binlog::gc {
namespace {

using testing::DailySegments;
using ::testing::HasSubstr;
using testing::kBaseMs;
using testing::kDayMs;
using testing::kHourMs;
using testing::TsAt;

constexpr int64_t kNowMs = kBaseMs + 365 * kDayMs;

class GuardTest : public ::testing::Test {
 protected:
  GuardTest() : env_(Env::Posix()), registry_(registry::NewFileRegistry(&env_, dir_.Sub("reg"))) {
    env_.SetNowMicros(kNowMs * 1000);
  }
  void SetUp() override { ASSERT_OK(DailySegments(&env_, Dir(), 10, 24, true)); }
  std::string Dir() const { return dir_.Sub("journal"); }
  // The newest record of day `day`'s segment.
  static int64_t EndOfDay(int day) {
    return static_cast<int64_t>(TsAt(kBaseMs + day * kDayMs + 23 * kHourMs));
  }
  void PutDrainer(const std::string& id, registry::NodeState state, int64_t checkpoint,
                  int64_t heartbeat_age_ms) {
    registry::NodeStatus n;
    n.node_id = id;
    n.addr = "127.0.0.1:8249";
    n.state = state;
    n.max_commit_ts = checkpoint;
    n.update_ts = static_cast<int64_t>(TsAt(kNowMs - heartbeat_age_ms));
    ASSERT_OK(registry_->Put(registry::NodeKind::kDrainer, n));
  }
  Options Guarded() {
    Options o;
    o.env = &env_;
    o.retention_seconds = 86400;  // every sealed segment is old enough
    o.registry = registry_.get();
    o.stop_write_at_available_space = 10 << 20;
    env_.SetFreeSpace(100 << 20);
    return o;
  }

  binlog::testing::TempDir dir_;
  FaultInjectionEnv env_;
  std::unique_ptr<registry::Registry> registry_;
};

TEST_F(GuardTest, ADrainersCheckpointHoldsBackWhatItHasNotRead) {
  PutDrainer("drainer-a", registry::NodeState::kOnline, EndOfDay(3), kHourMs);
  ASSERT_OK_AND_ASSIGN(Report r, CollectGarbage(Dir(), Guarded()));
  EXPECT_EQ(r.deleted.size(), 4u);  // days 0..3: at or below the checkpoint
  EXPECT_EQ(r.held_by, HeldBy::kGuard);
  ASSERT_TRUE(r.guard.has_value());
  EXPECT_EQ(r.guard->node_id, "drainer-a");
  EXPECT_EQ(r.guard->checkpoint, EndOfDay(3));
  EXPECT_THAT(r.held_why, HasSubstr("drainer drainer-a has not read"));
  EXPECT_THAT(r.held_why, HasSubstr("binlogctl -cmd offline-drainer -node-id drainer-a"));
  EXPECT_THAT(r.held_why, HasSubstr("-cmd update-drainer -node-id drainer-a -state offline"));
  EXPECT_THAT(r.held_why, HasSubstr("-force"));
  EXPECT_FALSE(r.low_space);
  // A paused drainer (killed, expected back) holds too.
  PutDrainer("drainer-a", registry::NodeState::kPaused, EndOfDay(3), kHourMs);
  ASSERT_OK_AND_ASSIGN(Report paused, CollectGarbage(Dir(), Guarded()));
  EXPECT_TRUE(paused.deleted.empty());
  EXPECT_EQ(paused.held_by, HeldBy::kGuard);
}

TEST_F(GuardTest, TheSmallestCheckpointOfTheGuardingDrainersHolds) {
  PutDrainer("ahead", registry::NodeState::kOnline, EndOfDay(8), kHourMs);
  PutDrainer("behind", registry::NodeState::kOnline, EndOfDay(1), kHourMs);
  ASSERT_OK_AND_ASSIGN(Report r, CollectGarbage(Dir(), Guarded()));
  EXPECT_EQ(r.deleted.size(), 2u);
  ASSERT_TRUE(r.guard.has_value());
  EXPECT_EQ(r.guard->node_id, "behind");
}

TEST_F(GuardTest, AHeartbeatOlderThanTheLeaseDoesNotHold) {
  PutDrainer("dead", registry::NodeState::kOnline, EndOfDay(0), 25 * kHourMs);
  ASSERT_OK_AND_ASSIGN(Report r, CollectGarbage(Dir(), Guarded()));
  EXPECT_EQ(r.deleted.size(), 10u);
  EXPECT_EQ(r.held_by, HeldBy::kNewest);
  EXPECT_FALSE(r.guard.has_value());
  // With a longer lease the same drainer holds.
  ASSERT_OK(DailySegments(&env_, dir_.Sub("again"), 10, 24, true));
  Options o = Guarded();
  o.guard_lease_seconds = 48 * 3600;
  ASSERT_OK_AND_ASSIGN(Report held, CollectGarbage(dir_.Sub("again"), o));
  EXPECT_EQ(held.deleted.size(), 1u);
  EXPECT_EQ(held.held_by, HeldBy::kGuard);
}

TEST_F(GuardTest, AnOfflineDrainerDoesNotHold) {
  PutDrainer("gone", registry::NodeState::kOffline, EndOfDay(0), kHourMs);
  ASSERT_OK_AND_ASSIGN(Report r, CollectGarbage(Dir(), Guarded()));
  EXPECT_EQ(r.deleted.size(), 10u);
  EXPECT_FALSE(r.guard.has_value());
}

TEST_F(GuardTest, ForceDeletesPastTheGuardAndSaysSo) {
  PutDrainer("drainer-a", registry::NodeState::kOnline, EndOfDay(3), kHourMs);
  Options o = Guarded();
  o.force = true;
  ASSERT_OK_AND_ASSIGN(Report r, CollectGarbage(Dir(), o));
  ASSERT_EQ(r.deleted.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(r.deleted[i].past_guard, i > 3) << i;
  ASSERT_TRUE(r.guard.has_value());
  EXPECT_EQ(r.guard->node_id, "drainer-a");
  EXPECT_EQ(r.held_by, HeldBy::kNewest);
}

TEST_F(GuardTest, TheDiskWatermarkWinsOverTheGuard) {
  PutDrainer("drainer-a", registry::NodeState::kOnline, EndOfDay(3), kHourMs);
  Options o = Guarded();
  env_.SetFreeSpace(9 << 20);  // below the 10 MiB watermark
  ASSERT_OK_AND_ASSIGN(Report r, CollectGarbage(Dir(), o));
  ASSERT_EQ(r.deleted.size(), 10u);
  EXPECT_TRUE(r.low_space);
  EXPECT_EQ(r.available_bytes, 9u << 20);
  EXPECT_TRUE(r.deleted.back().past_guard);
  EXPECT_FALSE(r.deleted.front().past_guard);
  ASSERT_TRUE(r.guard.has_value());
  // The watermark decides, not the guard: above it, nothing past the checkpoint goes.
  ASSERT_OK(DailySegments(&env_, dir_.Sub("again"), 10, 24, true));
  env_.SetFreeSpace(11 << 20);
  ASSERT_OK_AND_ASSIGN(Report held, CollectGarbage(dir_.Sub("again"), o));
  EXPECT_EQ(held.deleted.size(), 4u);
  EXPECT_FALSE(held.low_space);
}

TEST_F(GuardTest, ARegistryThatCannotBeReadStopsTheGcUnlessForced) {
  // The registry's drainers/ is a file: listing it fails.
  ASSERT_OK(env_.CreateDirs(dir_.Sub("reg")));
  std::ofstream(dir_.Sub("reg/drainers")) << "not a directory";
  Result<Report> r = CollectGarbage(Dir(), Guarded());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("the drainer guard cannot read the registry"));
  EXPECT_EQ(testing::SegmentNames(Dir()).size(), 11u);
  Options o = Guarded();
  o.force = true;
  ASSERT_OK_AND_ASSIGN(Report forced, CollectGarbage(Dir(), o));
  EXPECT_EQ(forced.deleted.size(), 10u);
}

TEST_F(GuardTest, ADryRunReportsTheGuardLikeARealRun) {
  PutDrainer("drainer-a", registry::NodeState::kOnline, EndOfDay(5), kHourMs);
  Options o = Guarded();
  o.dry_run = true;
  ASSERT_OK_AND_ASSIGN(Report r, CollectGarbage(Dir(), o));
  EXPECT_EQ(r.deleted.size(), 6u);
  EXPECT_EQ(r.held_by, HeldBy::kGuard);
  EXPECT_EQ(testing::SegmentNames(Dir()).size(), 11u);
}

}  // namespace
}  // namespace binlog::gc
