// Pumps in this process on loopback ports, sharing a registry directory, with writers that send
// them row transactions of test.t (id bigint primary key, v varchar(64)); and a drainer over them.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "drainer/config.h"
#include "drainer/drainer.h"
#include "common/tso.h"
#include "journal/journal.h"
#include "pump/server.h"
#include "pump_client/pump_client.h"
#include "registry/registry.h"
#include "testutil/testutil.h"

namespace binlog::drainer::testing {

inline bool WaitFor(const std::function<bool()>& cond,
                    std::chrono::seconds limit = std::chrono::seconds(60)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

inline uint64_t NowTs() {
  return ComposeTS(std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count(),
                   0);
}

// Strictly increasing TSOs from the wall clock, shared by every writer (PD's role).
class Tso {
 public:
  uint64_t Next() {
    std::lock_guard<std::mutex> g(mu_);
    last_ = std::max(last_ + 1, NowTs());
    return last_;
  }

 private:
  std::mutex mu_;
  uint64_t last_ = 0;
};

constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS t (id BIGINT PRIMARY KEY, v VARCHAR(64) NOT NULL)";

inline pb::TableChanges* TableT(pb::Binlog* b) {
  pb::TableChanges* t = b->add_tables();
  t->set_schema_name("test");
  t->set_table_name("t");
  pb::ColumnInfo* id = t->add_columns();
  id->set_name("id");
  id->set_mysql_type("bigint");
  id->set_is_primary_key(true);
  pb::ColumnInfo* v = t->add_columns();
  v->set_name("v");
  v->set_mysql_type("varchar(64)");
  return t;
}

inline void SetRow(pb::Row* row, int64_t id, const std::string& v) {
  row->add_columns()->set_int64_value(id);
  row->add_columns()->set_string_value(v);
}

// A writer of transactions to one pump: it owns the ids id_base .. id_base+999999, so that its
// model (what test.t holds of its rows) is exact whatever the other writers do.
class Writer {
 public:
  // `pump` is the fixture's slot: a restarted pump gets a new client there.
  Writer(std::unique_ptr<pump::PumpClient>* pump, Tso* tso, int64_t id_base, uint32_t seed)
      : pump_(pump), tso_(tso), id_base_(id_base), rng_(seed) {}

  // One transaction of 1..4 row changes; returns its commit ts (0 on failure, with ADD_FAILURE).
  uint64_t WriteRows() {
    const uint64_t start = tso_->Next();
    pb::Binlog pre;
    pre.set_tp(pb::PREWRITE);
    pre.set_start_ts(static_cast<int64_t>(start));
    pb::TableChanges* t = TableT(&pre);
    std::map<int64_t, std::string> after = model_;
    const int n = 1 + static_cast<int>(rng_() % 4);
    for (int i = 0; i < n; ++i) {
      pb::TableMutation* m = t->add_mutations();
      const uint32_t dice = rng_() % 10;
      if (after.empty() || dice < 5) {
        const int64_t id = id_base_ + next_id_++;
        const std::string v = "v" + std::to_string(rng_());
        m->set_type(pb::INSERT);
        SetRow(m->mutable_row(), id, v);
        after[id] = v;
        continue;
      }
      auto it = after.begin();
      std::advance(it, rng_() % after.size());
      if (dice < 8) {
        const std::string v = "u" + std::to_string(rng_());
        m->set_type(pb::UPDATE);
        SetRow(m->mutable_before(), it->first, it->second);
        SetRow(m->mutable_row(), it->first, v);
        it->second = v;
      } else {
        m->set_type(pb::DELETE);
        SetRow(m->mutable_row(), it->first, it->second);
        after.erase(it);
      }
    }
    const uint64_t commit = Send(std::move(pre));
    if (commit != 0) {
      model_ = std::move(after);
      changes_ += static_cast<uint64_t>(n);
    }
    return commit;
  }

  // A transaction that is one DDL statement in database `db`.
  uint64_t WriteDdl(const std::string& db, const std::string& query) {
    pb::Binlog pre;
    pre.set_tp(pb::PREWRITE);
    pre.set_start_ts(static_cast<int64_t>(tso_->Next()));
    pre.set_ddl_query(query);
    pre.set_ddl_schema(db);
    return Send(std::move(pre));
  }

  const std::map<int64_t, std::string>& model() const { return model_; }
  uint64_t changes() const { return changes_; }  // row changes committed

 private:
  uint64_t Send(pb::Binlog pre) {
    const uint64_t start = static_cast<uint64_t>(pre.start_ts());
    Status s = (*pump_)->WriteBinlog(pre);
    if (!s.ok()) {
      ADD_FAILURE() << "prewrite: " << s.ToString();
      return 0;
    }
    const uint64_t commit = tso_->Next();
    pb::Binlog c;
    c.set_tp(pb::COMMIT);
    c.set_start_ts(static_cast<int64_t>(start));
    c.set_commit_ts(static_cast<int64_t>(commit));
    s = (*pump_)->WriteBinlog(c);
    if (!s.ok()) {
      ADD_FAILURE() << "commit: " << s.ToString();
      return 0;
    }
    return commit;
  }

  std::unique_ptr<pump::PumpClient>* pump_;
  Tso* tso_;
  const int64_t id_base_;
  std::mt19937 rng_;
  int64_t next_id_ = 0;
  std::map<int64_t, std::string> model_;
  uint64_t changes_ = 0;
};

class DrainerFixture : public ::testing::Test {
 protected:
  // Writers keep pointers to the client slots: a pump added later must not move them.
  DrainerFixture() {
    pumps_.reserve(kMaxPumps);
    clients_.reserve(kMaxPumps);
  }
  ~DrainerFixture() override {
    drainer_.reset();
    clients_.clear();
    pumps_.clear();
  }

  pump::PumpConfig PumpConfigFor(int i) {
    pump::PumpConfig c;
    c.addr = "127.0.0.1:0";
    c.advertise_addr = "127.0.0.1:0";
    c.status_addr = "127.0.0.1:0";
    c.data_dir = tmp_.Sub("pump" + std::to_string(i));
    c.registry_dir = tmp_.Sub("registry");
    c.node_id = "pump-" + std::to_string(i);
    c.heartbeat_interval_seconds = 0.05;
    c.gen_binlog_interval_seconds = 0.1;  // idle pumps move the merge along quickly
    c.stop_write_at_available_space = 0;
    return c;
  }

  void StartPumps(int n) {
    for (int i = 0; i < n; ++i) StartPump(i);
  }

  static constexpr int kMaxPumps = 8;

  void StartPump(int i) {
    ASSERT_LT(i, kMaxPumps);
    if (static_cast<int>(pumps_.size()) <= i) {
      pumps_.resize(i + 1);
      clients_.resize(i + 1);
    }
    auto started = pump::PumpServer::Start(PumpConfigFor(i));
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    pumps_[i] = std::move(*started);
    auto client = pump::PumpClient::Connect(pumps_[i]->grpc_addr());
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    clients_[i] = std::move(*client);
  }

  DrainerConfig BaseConfig(SinkType sink) {
    DrainerConfig c;
    c.addr = "127.0.0.1:0";
    c.node_id = "drainer-test";
    c.data_dir = tmp_.Sub("drainer");
    c.registry_dir = tmp_.Sub("registry");
    c.initial_commit_ts = 0;
    c.detect_interval_seconds = 0.1;
    c.heartbeat_interval_seconds = 0.1;
    c.sink = sink;
    return c;
  }

  void StartDrainer(const DrainerConfig& c) {
    auto started = Drainer::Start(c);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    drainer_ = std::move(*started);
  }

  bool WaitCheckpoint(uint64_t ts, std::chrono::seconds limit = std::chrono::seconds(60)) {
    return WaitFor([&] { return drainer_->Stats().checkpoint_ts >= ts; }, limit);
  }

  // `per_pump` transactions from a writer thread per pump, each pump at its own pace, so their
  // commit ts interleave unevenly. Returns every acknowledged commit ts.
  std::vector<uint64_t> WriteFromEveryPump(int per_pump, std::vector<std::unique_ptr<Writer>>* writers) {
    std::vector<std::vector<uint64_t>> acked(clients_.size());
    std::vector<std::thread> threads;
    for (size_t p = writers->size(); p < clients_.size(); ++p) {
      writers->push_back(std::make_unique<Writer>(&clients_[p], &tso_,
                                                  static_cast<int64_t>(p + 1) * 1000000,
                                                  static_cast<uint32_t>(p + 7)));
    }
    for (size_t p = 0; p < clients_.size(); ++p) {
      threads.emplace_back([&, p] {
        for (int i = 0; i < per_pump; ++i) {
          acked[p].push_back((*writers)[p]->WriteRows());
          if (p > 0 && i % (5 * static_cast<int>(p)) == 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(2 * p));
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    std::vector<uint64_t> all;
    for (auto& a : acked) all.insert(all.end(), a.begin(), a.end());
    std::sort(all.begin(), all.end());
    return all;
  }

  static std::vector<pb::Binlog> ReadSegments(const std::string& dir) {
    std::vector<pb::Binlog> out;
    auto reader = journal::JournalReader::Open(Env::Posix(), dir, {});
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    if (!reader.ok()) return out;
    journal::Record r;
    for (;;) {
      auto more = (*reader)->Next(&r);
      EXPECT_TRUE(more.ok()) << more.status().ToString();
      if (!more.ok() || !*more) return out;
      pb::Binlog& b = out.emplace_back();
      EXPECT_TRUE(b.ParseFromArray(r.payload.data(), static_cast<int>(r.payload.size())));
    }
  }

  static std::vector<uint64_t> CommitTs(const std::vector<pb::Binlog>& binlogs) {
    std::vector<uint64_t> ts;
    for (const pb::Binlog& b : binlogs) ts.push_back(static_cast<uint64_t>(b.commit_ts()));
    return ts;
  }

  binlog::testing::TempDir tmp_;
  Tso tso_;
  std::vector<std::unique_ptr<pump::PumpServer>> pumps_;
  std::vector<std::unique_ptr<pump::PumpClient>> clients_;
  std::unique_ptr<Drainer> drainer_;
};

}  // namespace binlog::drainer::testing
