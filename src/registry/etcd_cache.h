// A copy of every key under a few etcd prefixes, kept current by one /v3/watch stream on a
// background thread. Drainers list the pumps every 0.2 s and GC and binlogctl list too; with
// the copy those reads cost no round trip to etcd. Internal to the registry module.
//
// The thread lists the prefixes (one read-only transaction, at one revision), then watches them
// from the next revision; when the stream breaks (etcd restarted, a member killed, the history
// compacted) it lists and watches again. While it is not established, Read says so and the
// caller reads etcd directly. Writes this process made are noted at their revision (Note), so a
// read that follows a write sees it even before its watch event arrives. Each prefix is its
// own watcher on the stream, so another process's transaction that writes under two prefixes
// (a record and its alive key) can reach the copy as two events a moment apart; a reader may
// see either half first. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "registry/etcd_client.h"

namespace binlog::registry::etcd {

class WatchCache {
 public:
  struct Entry {
    std::string value;
    int64_t mod_revision = 0;
    bool deleted = false;  // kept, so an older event that arrives late cannot bring it back
  };
  using Map = std::map<std::string, Entry>;

  // `client` outlives the cache.
  WatchCache(Client* client, std::vector<std::string> prefixes);
  ~WatchCache();  // stops and joins the thread
  WatchCache(const WatchCache&) = delete;
  WatchCache& operator=(const WatchCache&) = delete;

  // Starts the thread, on the first call only.
  void Start();
  // While the watch is established: calls `read` with every key under the prefixes (deleted
  // ones included, marked) under the cache's lock and returns true. Otherwise false at once.
  bool Read(const std::function<void(const Map&)>& read) const;
  // This process changed `key` at `revision` (value null: deleted).
  void Note(const std::string& key, int64_t revision, const std::string* value);
  // True once established (for tests and the benchmark: waits at most `timeout_ms`).
  bool WaitEstablished(int timeout_ms) const;

 private:
  void Loop();
  Status Sync();
  Result<int64_t> List();
  bool OnMessage(const nlohmann::json& message, size_t* created, std::string* failure);
  void Apply(const std::string& key, int64_t revision, const std::string* value);  // REQUIRES mu_

  Client* client_;
  const std::vector<std::string> prefixes_;
  Stream stream_;
  std::thread thread_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  Map map_;                   // guarded by mu_
  bool established_ = false;  // guarded by mu_
  bool stopping_ = false;     // guarded by mu_
  bool started_ = false;      // guarded by mu_
  bool warned_ = false;       // guarded by mu_: the break was logged
};

}  // namespace binlog::registry::etcd
