// The file sink's retention-time goes through the one GC (src/gc): once a minute of data at
// most, sealed segments older than the retention go, the newest stays, and what the sink says
// it applied is still read back.
#include <gtest/gtest.h>

#include <random>

#include "common/fault_env.h"
#include "common/tso.h"
#include "drainer/sinks.h"
#include "journal/journal.h"
#include "testutil/testutil.h"

namespace binlog::drainer {
namespace {

pb::Binlog Commit(uint64_t ts) {
  pb::Binlog b;
  b.set_tp(pb::COMMIT);
  b.set_start_ts(static_cast<int64_t>(ts - 1));
  b.set_commit_ts(static_cast<int64_t>(ts));
  pb::TableChanges* t = b.add_tables();
  t->set_schema_name("test");
  t->set_table_name("t");
  t->add_mutations()->set_type(pb::INSERT);
  // Bytes that do not compress, so that segments fill at max-file-size.
  std::mt19937_64 rng(ts);
  std::string noise(400, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  t->mutable_mutations(0)->mutable_row()->add_columns()->set_bytes_value(noise);
  return b;
}

size_t Segments(const std::string& dir) {
  auto names = journal::ListSegments(Env::Posix(), dir);
  return names.ok() ? names->size() : 0;
}

TEST(FileSinkRetentionTest, SegmentsPastRetentionTimeGoTheNewestStays) {
  binlog::testing::TempDir tmp;
  FaultInjectionEnv env(Env::Posix());
  const int64_t base_ms = 1'700'000'000'000;
  env.SetNowMicros(base_ms * 1000);
  FileSinkOptions o;
  o.env = &env;
  o.dir = tmp.Sub("out");
  o.max_file_size = 4 << 10;
  o.retention_seconds = 86400;
  ASSERT_OK_AND_ASSIGN(auto sink, NewFileSink(o));
  ASSERT_OK(sink->LoadResume().status());
  ASSERT_OK_AND_ASSIGN(auto worker, sink->NewWorker());
  uint64_t last = 0;
  size_t before = 0;
  // Ten batches a second apart, then one 61 s later: the second GC round runs there.
  for (int batch = 0; batch <= 10; ++batch) {
    const int64_t ms = base_ms + (batch < 10 ? batch * 1000 : 61'000);
    std::vector<pb::Binlog> txns;
    for (int i = 0; i < 20; ++i) txns.push_back(Commit(ComposeTS(ms, static_cast<uint64_t>(i + 1))));
    std::vector<const pb::Binlog*> ptrs;
    for (const pb::Binlog& b : txns) ptrs.push_back(&b);
    ASSERT_OK(worker->Apply(ptrs));
    last = static_cast<uint64_t>(txns.back().commit_ts());
    if (batch == 9) env.SetNowMicros((base_ms + 2 * 86400 * 1000LL) * 1000);  // two days on
    ASSERT_OK(sink->AdvanceLow(last));
    if (batch == 8) {
      before = Segments(o.dir);  // GC ran at the first batch only, with nothing old yet
    }
  }
  EXPECT_GE(before, 3u);
  EXPECT_EQ(Segments(o.dir), 1u) << "every sealed segment was two days old";
  // What is left is the newest: the last record is still there, and a restart resumes after it.
  sink.reset();
  worker.reset();
  ASSERT_OK_AND_ASSIGN(auto again, NewFileSink(o));
  ASSERT_OK_AND_ASSIGN(replay::ResumeState state, again->LoadResume());
  EXPECT_EQ(state.low_ts, last);
}

TEST(FileSinkRetentionTest, WithoutRetentionEverySegmentStays) {
  binlog::testing::TempDir tmp;
  FaultInjectionEnv env(Env::Posix());
  const int64_t base_ms = 1'700'000'000'000;
  env.SetNowMicros((base_ms + 30 * 86400 * 1000LL) * 1000);
  FileSinkOptions o;
  o.env = &env;
  o.dir = tmp.Sub("out");
  o.max_file_size = 4 << 10;
  ASSERT_OK_AND_ASSIGN(auto sink, NewFileSink(o));
  ASSERT_OK(sink->LoadResume().status());
  ASSERT_OK_AND_ASSIGN(auto worker, sink->NewWorker());
  for (int batch = 0; batch < 8; ++batch) {
    std::vector<pb::Binlog> txns;
    for (int i = 0; i < 20; ++i) {
      txns.push_back(Commit(ComposeTS(base_ms + batch * 61'000, static_cast<uint64_t>(i + 1))));
    }
    std::vector<const pb::Binlog*> ptrs;
    for (const pb::Binlog& b : txns) ptrs.push_back(&b);
    ASSERT_OK(worker->Apply(ptrs));
    ASSERT_OK(sink->AdvanceLow(static_cast<uint64_t>(txns.back().commit_ts())));
  }
  EXPECT_GE(Segments(o.dir), 4u);
}

}  // namespace
}  // namespace binlog::drainer
