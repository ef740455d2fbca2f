// Helpers for the syncer's tests: read a real server's binlog through our client and decoder,
// read an archive, and compare archived values with what SELECT returns.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "binlog.pb.h"
#include "syncer/config.h"
#include "syncer/decoder.h"
#include "syncer/meta.h"
#include "syncer/upstream.h"
#include "testutil/mariadb_server.h"
#include "testutil/testutil.h"

namespace binlog::syncer::testing {

using binlog::testing::MariaDBServer;
using binlog::testing::SqlRow;

// A replica connection to the test server as the replication user, 0.2 s heartbeats.
UpstreamOptions ReplicaOptions(MariaDBServer* server, uint32_t server_id = 4242);

// Where the server's binlog ends now (SHOW MASTER STATUS).
BinlogPosition EndOfBinlog(MariaDBServer* server);

// Raw events (after the status byte) read from `from` until `stop` says so or the timeout.
struct RawEvents {
  std::vector<std::string> events;
  bool checksum = false;
};
Result<RawEvents> ReadRawEvents(MariaDBServer* server, const BinlogPosition& from,
                                size_t transactions, double timeout_seconds = 20);

// Appends a transaction's next part to what came of it so far, as the whole record would have
// it (a table's changes cut between two parts are one TableChanges again).
void JoinPart(pb::Binlog* whole, pb::Binlog* part);

// The item's record parsed. Fails the test unless the payload is the bytes protobuf itself
// writes for that message (the decoder writes the wire format by hand).
pb::Binlog ParseItem(const StreamItem& item);

// Decodes the binlog from `from` until `transactions` transactions are finished; returns them
// parsed (ParseItem), a transaction cut into parts joined into one binlog.
Result<std::vector<pb::Binlog>> ReadTransactions(MariaDBServer* server, const BinlogPosition& from,
                                                 size_t transactions, double timeout_seconds = 20);

// Every transaction in a journal directory, in order: a transaction in parts joined into one
// binlog (Corruption when the parts are not in sequence, or the archive ends inside one).
Result<std::vector<pb::Binlog>> ReadArchive(const std::string& dir);

// A syncer config for the server: repl user, journal in dir, meta in dir, no status service,
// short heartbeats.
SyncerConfig TestConfig(MariaDBServer* server, const std::string& dir);

// The value as SELECT prints it (nullopt for NULL; "<absent>" for a column not in the image).
std::optional<std::string> ValueText(const pb::Value& v);

// How an archived value is compared with SELECT's text.
enum class Compare { kText, kDouble, kBitInteger, kHex };

struct ColumnCheck {
  std::string name;
  std::string select;  // the SELECT expression ("c", "c+0", "HEX(c)")
  Compare compare = Compare::kText;
};

// Checks one archived row (in table column order) against a SELECT row for the checked columns
// (selected in the same order as `checks`). Failures name the column and row id.
void ExpectRowMatches(const pb::TableChanges& table, const pb::Row& row, const SqlRow& selected,
                      const std::vector<ColumnCheck>& checks, const std::string& row_id);

// SELECT <checks> FROM db.table ORDER BY id, keyed by id text (the first selected column must
// be the id).
std::vector<SqlRow> SelectRows(MariaDBServer* server, const std::string& table,
                               const std::vector<ColumnCheck>& checks);

// The column index of name in the archived table (fails the test when absent).
int ColumnIndex(const pb::TableChanges& table, const std::string& name);

// One table of a type family, written with INSERT, UPDATE and DELETE (a transaction each) on the
// shared server, read back through the decoder, every value compared with SELECT's.
struct TypeCase {
  std::string table;                // created in database `types` with "id INT PRIMARY KEY" first
  std::string columns;              // the other column definitions
  std::vector<ColumnCheck> checks;  // the first must be {"id", "id"}
  std::string insert_values;        // "(1, ...), (2, ...)"
  std::string update_set;           // "c = ..., d = ..." for every row with id <= 2
  std::string session = "SET SESSION sql_mode = ''";  // run before the changes
};
// Runs the case; returns the archived INSERT's table changes (for type and charset checks).
pb::TableChanges RunTypeCase(MariaDBServer* server, const TypeCase& c);

}  // namespace binlog::syncer::testing
