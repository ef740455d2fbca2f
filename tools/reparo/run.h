// One reparo run: the window read, filtered and applied through the replay engine, with its
// progress on the terminal and a summary at the end.
#pragma once

#include "common/status.h"
#include "reparo/config.h"

namespace binlog::reparo {

// The outcome, as the exit code says it.
enum class Outcome {
  kApplied,   // 0
  kFailed,    // 1: the destination, the disk or the input failed on the way
  kEmpty,     // 1: nothing in the window
  kBadInput,  // 2: the input does not fit (a config, a directory, or a change the
              //    destination refuses for good, such as a duplicate key)
};

struct RunResult {
  Outcome outcome = Outcome::kApplied;
  Status status;
};

RunResult Run(const ReparoConfig& config);

}  // namespace binlog::reparo
