// Archiving a test server's binlog into a journal through the real syncer (in-process), for the
// tests that read an archive back (the replay engine, reparo).
#pragma once

#include <string>

#include "common/status.h"
#include "syncer/config.h"
#include "syncer/meta.h"
#include "testutil/mariadb_server.h"

namespace binlog::testing {

// A syncer replicating from the test server as its replication user into the journal
// `journal_dir`, its position in `meta`; heartbeats every 0.2 s, 5 reconnects, no status service.
syncer::SyncerConfig TestSyncerConfig(MariaDBServer* server, const std::string& meta,
                                      const std::string& journal_dir);

// Where the server's binlog ends now (SHOW MASTER STATUS).
Result<syncer::BinlogPosition> EndOfServerBinlog(MariaDBServer* server);

// Runs a syncer from `from` into the journal `dir` (its syncer.meta beside it, in dir + ".meta")
// until it has made durable everything the server had written when this was called, then stops
// it. The syncer resumes from its meta on a second call with the same dir.
Status ArchiveUntilNow(MariaDBServer* server, const syncer::BinlogPosition& from,
                       const std::string& dir, double timeout_seconds = 120);

}  // namespace binlog::testing
