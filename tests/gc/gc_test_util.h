// Shared by the GC tests: journals whose segments span known stretches of (fake) time.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/fault_env.h"
#include "common/tso.h"
#include "gc/gc.h"
#include "journal/journal.h"
#include "testutil/testutil.h"

namespace binlog::gc::testing {

inline constexpr int64_t kBaseMs = 1700000000000LL;  // 2023-11-14
inline constexpr int64_t kHourMs = 3600LL * 1000;
inline constexpr int64_t kDayMs = 24 * kHourMs;

// Payloads a reader can check from the ts alone.
inline std::string PayloadFor(uint64_t ts) {
  std::string out = "gc-test:" + std::to_string(ts) + ":";
  out.resize(64 + ts % 128, static_cast<char>('a' + ts % 26));
  return out;
}

inline uint64_t TsAt(int64_t ms) { return ComposeTS(ms, 0); }

inline journal::JournalOptions SmallJournal(Env* env) {
  journal::JournalOptions o;
  o.env = env;
  o.sync = false;
  o.warn_unsynced = false;
  o.max_file_size = journal::kMinMaxFileSize;
  o.segment.block_bytes = 1 << 10;
  return o;
}

// Appends `records` records, one per `step_ms` from `start_ms`, to j, and seals the segment they
// end in when `rotate` (one Append per record: a segment ends where the size says).
inline Status AppendEvery(journal::Journal* j, int64_t start_ms, int records, int64_t step_ms,
                          bool rotate) {
  for (int i = 0; i < records; ++i) {
    const uint64_t ts = TsAt(start_ms + i * step_ms);
    const std::string payload = PayloadFor(ts);
    RETURN_IF_ERROR(j->Append(journal::Record{ts, payload}));
  }
  return rotate ? j->Rotate() : Status::OK();
}

// A directory of `segments` sealed segments, segment i holding `per_segment` records one hour
// apart starting at kBaseMs + i days, plus (when `active`) an unsealed newest one of the day
// after. The journal is closed.
inline Status DailySegments(Env* env, const std::string& dir, int segments, int per_segment,
                            bool active) {
  journal::JournalOptions o = SmallJournal(env);
  o.max_file_size = 1 << 20;  // rotation by Rotate() only
  ASSIGN_OR_RETURN(auto j, journal::Journal::Open(dir, o));
  for (int i = 0; i < segments; ++i) {
    RETURN_IF_ERROR(AppendEvery(j.get(), kBaseMs + i * kDayMs, per_segment, kHourMs, true));
  }
  if (active) {
    RETURN_IF_ERROR(AppendEvery(j.get(), kBaseMs + segments * kDayMs, per_segment, kHourMs, false));
  }
  return j->Close();
}

inline std::vector<std::string> SegmentNames(const std::string& dir) {
  std::vector<std::string> out;
  auto segs = journal::ListSegments(Env::Posix(), dir, false);
  if (!segs.ok()) return out;
  for (const auto& s : *segs) out.push_back(s.name);
  return out;
}

}  // namespace binlog::gc::testing
