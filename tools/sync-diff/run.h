// One sync-diff run: plan the tables, check their chunks on `threads` workers, print the
// differences and a summary.
#pragma once

#include <ostream>

#include "common/status.h"
#include "sync-diff/config.h"
#include "sync-diff/report.h"

namespace binlog::syncdiff {

// Prints each difference, a line per table and the summary on `out`; the progress on stderr.
// An error (a server unreachable, a query refused, the fix SQL file unwritable) stops the run.
Result<Summary> Run(const SyncDiffConfig& config, std::ostream* out);

// 0 equal, 1 different, 2 error.
int ExitCode(const Result<Summary>& result);

}  // namespace binlog::syncdiff
