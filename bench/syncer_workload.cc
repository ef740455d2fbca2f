// The syncer benchmark's two binlogs: bulk transactions, and sysbench's oltp_write_only.
#include <fmt/format.h>

#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "syncer_bench_util.h"

namespace binlog::bench {

using syncer::BinlogPosition;
using testing::MariaDBServer;

namespace {

constexpr const char* kSbTable =
    " (id INT NOT NULL, k INT NOT NULL DEFAULT 0, c CHAR(120) NOT NULL DEFAULT '', "
    "pad CHAR(60) NOT NULL DEFAULT '', PRIMARY KEY (id), KEY k_1 (k))";

constexpr int kStatementRows = 1000;  // rows per multi-row INSERT
constexpr int kTxnInserts = 10000;    // rows inserted per bulk transaction
constexpr int kTxnUpdates = 1900;     // then rows of the previous transaction updated
constexpr int kTxnDeletes = 600;      // and deleted

constexpr int kOltpTableRows = 100000;  // sysbench's --table-size default is 10000
constexpr int kOltpRowsPerTxn = 4;
constexpr int kOltpClients = 2;

// Inserts rows [first, first + count) in multi-row INSERTs, kStatementRows at a time.
void InsertRows(testing::MariaDBConnection* conn, const std::string& table, int64_t first,
                int64_t count, SbRows* gen) {
  std::string sql;
  for (int64_t done = 0; done < count;) {
    sql = fmt::format("INSERT INTO {} (id, k, c, pad) VALUES ", table);
    for (int r = 0; r < kStatementRows && done < count; ++r, ++done) {
      gen->Append(fmt::format("{}({}, ", r > 0 ? "," : "", first + done), &sql);
    }
    Check(conn->Exec(sql), "insert " + table);
  }
}

// One client's share of the oltp_write_only load: `txns` transactions on ids in
// [low, low + span), so that clients never wait on each other's row locks.
void OltpClient(MariaDBServer* server, uint64_t seed, int64_t low, int64_t span, int txns) {
  auto conn = Check(server->Connect("bench"), "connect");
  SbRows gen(seed);
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 7;
  auto pick = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return low + static_cast<int64_t>(state % static_cast<uint64_t>(span));
  };
  std::string sql;
  for (int t = 0; t < txns; ++t) {
    // The whole transaction in one round trip; each statement still logs its own table map and
    // rows event, as sysbench's do.
    int64_t deleted = pick();
    sql = fmt::format(
        "BEGIN; UPDATE sbtest2 SET k = k + 1 WHERE id = {}; "
        "UPDATE sbtest2 SET c = REVERSE(c) WHERE id = {}; DELETE FROM sbtest2 WHERE id = {}; ",
        pick(), pick(), deleted);
    gen.Append(fmt::format("INSERT INTO sbtest2 (id, k, c, pad) VALUES ({}, ", deleted), &sql);
    sql += "; COMMIT";
    Check(conn->Exec(sql), "oltp transaction");
  }
}

}  // namespace

uint64_t LoadBulk(MariaDBServer* server, uint64_t target, BinlogPosition* first) {
  auto conn = Check(server->Connect("bench"), "connect");
  Check(conn->Exec(std::string("CREATE TABLE sbtest1") + kSbTable), "create sbtest1");
  *first = EndOfBinlog(server);
  SbRows gen(1);
  uint64_t changes = 0;
  int64_t next_id = 1;
  for (int txn = 0; changes < target; ++txn) {
    Check(conn->Exec("BEGIN"), "begin");
    InsertRows(conn.get(), "sbtest1", next_id, kTxnInserts, &gen);
    next_id += kTxnInserts;
    changes += kTxnInserts;
    if (txn > 0) {
      int64_t base = next_id - 2 * kTxnInserts;  // the previous transaction's first id
      Check(conn->Exec(fmt::format("UPDATE sbtest1 SET k = k + 1, c = REVERSE(c) WHERE id "
                                   "BETWEEN {} AND {}",
                                   base, base + kTxnUpdates - 1)),
            "update");
      Check(conn->Exec(fmt::format("DELETE FROM sbtest1 WHERE id BETWEEN {} AND {}",
                                   base + kTxnInserts - kTxnDeletes, base + kTxnInserts - 1)),
            "delete");
      changes += kTxnUpdates + kTxnDeletes;
    }
    Check(conn->Exec("COMMIT"), "commit");
  }
  return changes;
}

uint64_t LoadOltp(MariaDBServer* server, uint64_t target, BinlogPosition* first) {
  {
    auto conn = Check(server->Connect("bench"), "connect");
    Check(conn->Exec(std::string("CREATE TABLE sbtest2") + kSbTable), "create sbtest2");
    SbRows gen(2);
    InsertRows(conn.get(), "sbtest2", 1, kOltpTableRows, &gen);
  }
  *first = EndOfBinlog(server);
  const int txns = static_cast<int>((target + kOltpRowsPerTxn - 1) / kOltpRowsPerTxn);
  const int64_t span = kOltpTableRows / kOltpClients;
  std::vector<std::thread> clients;
  for (int i = 0; i < kOltpClients; ++i) {
    int share = txns / kOltpClients + (i < txns % kOltpClients ? 1 : 0);
    clients.emplace_back(OltpClient, server, 100 + static_cast<uint64_t>(i), 1 + i * span, span,
                         share);
  }
  for (std::thread& c : clients) c.join();
  return static_cast<uint64_t>(txns) * kOltpRowsPerTxn;
}

}  // namespace binlog::bench
