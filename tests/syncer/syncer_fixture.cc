#include "syncer/syncer_fixture.h"

#include <fmt/format.h>

#include <chrono>

namespace binlog::syncer::testing {

Result<std::unique_ptr<RunningSyncer>> RunningSyncer::Start(const SyncerConfig& config,
                                                            SyncerOptions options) {
  std::unique_ptr<RunningSyncer> r(new RunningSyncer());
  ASSIGN_OR_RETURN(r->syncer_, Syncer::Open(config, std::move(options)));
  RunningSyncer* self = r.get();
  r->thread_ = std::thread([self] {
    self->result_ = self->syncer_->Run();
    self->finished_ = true;
  });
  return r;
}

RunningSyncer::~RunningSyncer() { StopAndJoin().IgnoreError(); }

bool RunningSyncer::WaitFor(const std::function<bool(const SyncerStats&)>& pred, double seconds) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred(syncer_->Stats())) return true;
    if (finished_) return pred(syncer_->Stats());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

bool RunningSyncer::WaitCaughtUp(MariaDBServer* server, double seconds) {
  BinlogPosition end = EndOfBinlog(server);
  return WaitFor(
      [&](const SyncerStats& st) {
        return st.position.name == end.name && st.position.pos >= end.pos;
      },
      seconds);
}

Status RunningSyncer::Join(double seconds) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  while (!finished_ && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!finished_) return Status::TimedOut("the syncer did not stop by itself");
  if (thread_.joinable()) thread_.join();
  return result_;
}

Status RunningSyncer::StopAndJoin() {
  if (syncer_) syncer_->Stop();
  if (thread_.joinable()) thread_.join();
  return result_;
}

std::vector<pb::Binlog> CheckedTransactions(const std::vector<pb::Binlog>& archive) {
  std::vector<pb::Binlog> out;
  uint64_t last_seq = 0;
  int64_t last_ts = 0;
  for (const pb::Binlog& b : archive) {
    EXPECT_GT(b.commit_ts(), last_ts) << "commit ts must grow";
    last_ts = b.commit_ts();
    if (b.tp() != pb::COMMIT) continue;
    EXPECT_EQ(b.start_ts(), b.commit_ts());
    const std::string& gtid = b.source().gtid();
    size_t dash = gtid.rfind('-');
    EXPECT_NE(dash, std::string::npos) << gtid;
    if (dash == std::string::npos) continue;
    uint64_t seq = std::stoull(gtid.substr(dash + 1));
    if (last_seq != 0) {
      EXPECT_EQ(seq, last_seq + 1) << "GTID " << gtid << " after seq " << last_seq
                                   << (seq <= last_seq ? ": a duplicate" : ": a gap");
    }
    last_seq = seq;
    out.push_back(b);
  }
  return out;
}

void Replica::Apply(const pb::Binlog& binlog) {
  for (const pb::TableChanges& t : binlog.tables()) {
    auto& rows = tables_[t.schema_name() + "." + t.table_name()];
    int id_col = ColumnIndex(t, "id");
    if (id_col < 0) return;
    auto text = [](const pb::Row& r) {
      std::vector<std::string> out;
      for (const pb::Value& v : r.columns()) out.push_back(ValueText(v).value_or("NULL"));
      return out;
    };
    for (const pb::TableMutation& m : t.mutations()) {
      const pb::Row& key_row = m.type() == pb::UPDATE ? m.before() : m.row();
      int64_t id = key_row.columns(id_col).int64_value();
      applied_++;
      switch (m.type()) {
        case pb::INSERT:
          EXPECT_EQ(rows.count(id), 0u) << t.table_name() << " id " << id << " inserted twice";
          rows[id] = text(m.row());
          break;
        case pb::UPDATE: {
          EXPECT_EQ(rows[id], text(m.before())) << t.table_name() << " id " << id;
          rows.erase(id);
          rows[m.row().columns(id_col).int64_value()] = text(m.row());
          break;
        }
        case pb::DELETE:
          EXPECT_EQ(rows[id], text(m.row())) << t.table_name() << " id " << id;
          rows.erase(id);
          break;
        default:
          break;
      }
    }
  }
}

std::vector<std::vector<std::string>> Replica::Rows(const std::string& table) const {
  std::vector<std::vector<std::string>> out;
  auto it = tables_.find(table);
  if (it == tables_.end()) return out;
  for (const auto& [id, row] : it->second) out.push_back(row);
  return out;
}

std::vector<std::vector<std::string>> SelectAll(MariaDBServer* server, const std::string& table) {
  std::vector<std::vector<std::string>> out;
  auto rows = server->Query(fmt::format("SELECT * FROM {} ORDER BY id", table));
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  if (!rows.ok()) return out;
  for (const SqlRow& r : *rows) {
    auto& o = out.emplace_back();
    for (const auto& v : r) o.push_back(v.value_or("NULL"));
  }
  return out;
}

}  // namespace binlog::syncer::testing
