// Helpers shared by the journal tests: payloads that can be checked from their ts alone.
#pragma once

#include <string>
#include <vector>

#include "common/env.h"
#include "journal/journal.h"

namespace binlog::journal::testing {

// A payload whose content and length follow from ts, so a reader can tell a record that came
// back whole from one that is torn or belongs to another ts.
inline std::string PayloadFor(uint64_t ts, size_t max_len = 1500) {
  std::string out = "record:" + std::to_string(ts) + ":";
  size_t len = 16 + (ts * 7919) % max_len;
  while (out.size() < len) out.push_back(static_cast<char>('a' + (ts + out.size()) % 26));
  return out;
}

struct ReadBack {
  std::vector<uint64_t> ts;
  size_t bad_payloads = 0;
  Status status;
};

// Reads every record in dir (from start_ts to stop_ts) and checks each payload.
inline ReadBack ReadAll(Env* env, const std::string& dir, uint64_t start_ts = 0,
                        uint64_t stop_ts = UINT64_MAX, bool arrival = false) {
  ReadBack out;
  ReadOptions options;
  options.start_ts = start_ts;
  options.stop_ts = stop_ts;
  options.arrival_order = arrival;
  auto reader = JournalReader::Open(env, dir, options);
  if (!reader.ok()) {
    out.status = reader.status();
    return out;
  }
  Record r;
  while (true) {
    auto more = (*reader)->Next(&r);
    if (!more.ok()) {
      out.status = more.status();
      return out;
    }
    if (!*more) break;
    out.ts.push_back(r.ts);
    if (r.payload != PayloadFor(r.ts)) ++out.bad_payloads;
  }
  return out;
}

}  // namespace binlog::journal::testing
