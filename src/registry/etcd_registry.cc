// The registry on etcd (or PD's embedded etcd), through its v3 JSON gateway.
//
//   /tidb-binlog/v1/pumps/<node-id>       the record, as TiDB-Binlog keeps it (no lease)
//   /tidb-binlog/v1/drainers/<node-id>
//   /binlog/v1/alive/pumps/<node-id>      liveness: exists while the node's lease holds
//   /binlog/v1/alive/drainers/<node-id>
//
// Liveness lives outside TiDB-Binlog's prefix so its tools, listing their prefix, see only
// records. A node's heartbeat (Put with a lease) grants a lease once and keeps it alive on every
// later Put; the record and the alive key are written in one transaction. A kill -9 stops the
// keepalives: etcd deletes the alive key when the TTL runs out and readers show the node paused.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <set>

#include "common/logging.h"
#include "registry/etcd_cache.h"
#include "registry/etcd_client.h"
#include "registry/registry.h"

namespace binlog::registry {
namespace {

using etcd::Base64Decode;
using etcd::Base64Encode;
using etcd::JsonInt;
using json = nlohmann::json;

constexpr std::string_view kRecordRoot = "/tidb-binlog/v1/";
constexpr std::string_view kAliveRoot = "/binlog/v1/alive/";

std::string KindPrefix(std::string_view root, NodeKind kind) {
  return fmt::format("{}{}s/", root, NodeKindName(kind));
}

json PutOp(const std::string& key, const std::string& value, int64_t lease = 0) {
  json put = {{"key", Base64Encode(key)}, {"value", Base64Encode(value)}};
  if (lease != 0) put["lease"] = std::to_string(lease);
  return {{"request_put", put}};
}
json DeleteOp(const std::string& key) {
  return {{"request_delete_range", {{"key", Base64Encode(key)}}}};
}
json RangeOp(const std::string& key, bool prefix) {
  json range = {{"key", Base64Encode(key)}};
  if (prefix) range["range_end"] = Base64Encode(etcd::PrefixEnd(key));
  return {{"request_range", range}};
}
// The kvs of a transaction's n-th answer, when it was a range.
json Kvs(const json& txn, size_t n) {
  const json& responses = txn.value("responses", json::array());
  if (n >= responses.size()) return json::array();
  return responses[n].value("response_range", json::object()).value("kvs", json::array());
}

class EtcdRegistry : public Registry {
 public:
  explicit EtcdRegistry(std::unique_ptr<etcd::Client> client)
      : client_(std::move(client)),
        cache_(client_.get(), {std::string(kRecordRoot), std::string(kAliveRoot)}) {}

  // An answer of an unexpected shape (nlohmann's accessors throw on a wrong type) is an error
  // of the call, never an exception out of the registry.
  Status Put(NodeKind kind, const NodeStatus& node) override {
    return Guarded("put", [&] { return PutImpl(kind, node); });
  }
  Status CompareAndSwap(NodeKind kind, const NodeStatus& expected,
                        const NodeStatus& next) override {
    return Guarded("compare-and-swap", [&] { return CompareAndSwapImpl(kind, expected, next); });
  }
  Result<NodeStatus> Get(NodeKind kind, const std::string& node_id) override {
    return Guarded("get", [&] { return GetImpl(kind, node_id); });
  }
  Result<std::vector<NodeStatus>> List(NodeKind kind) override {
    return Guarded("list", [&] { return ListImpl(kind); });
  }
  Status Remove(NodeKind kind, const std::string& node_id) override {
    return Guarded("remove", [&] { return RemoveImpl(kind, node_id); });
  }
  std::string Describe() const override { return client_->Describe(); }

 private:
  template <typename F>
  auto Guarded(std::string_view what, F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const json::exception& e) {
      return Status::Corruption(
          fmt::format("{}: etcd answered a {} with unexpected JSON: {}", Describe(), what, e.what()));
    }
  }
  Status PutImpl(NodeKind kind, const NodeStatus& node);
  Status CompareAndSwapImpl(NodeKind kind, const NodeStatus& expected, const NodeStatus& next);
  Result<NodeStatus> GetImpl(NodeKind kind, const std::string& node_id);
  Result<std::vector<NodeStatus>> ListImpl(NodeKind kind);
  Status RemoveImpl(NodeKind kind, const std::string& node_id);

  struct Lease {
    int64_t id = 0;
    int64_t ttl = 0;
  };
  static std::string RecordKey(NodeKind kind, const std::string& id) {
    return KindPrefix(kRecordRoot, kind) + id;
  }
  static std::string AliveKey(NodeKind kind, const std::string& id) {
    return KindPrefix(kAliveRoot, kind) + id;
  }
  Result<int64_t> KeepLease(const std::string& alive_key, int64_t ttl, bool* expired);
  void RevokeHeld(const std::string& alive_key);
  Result<int64_t> Txn(const json& ops, bool idempotent = true);
  Result<NodeStatus> MakeNode(const std::string& key, const std::string& value, int64_t revision,
                              bool alive_key_present) const;

  std::unique_ptr<etcd::Client> client_;
  etcd::WatchCache cache_;
  // Serializes writers of this object, so a node's lease is granted once.
  std::mutex write_mu_;
  std::map<std::string, Lease> leases_;  // by alive key; guarded by write_mu_
};

// Runs the operations as one transaction without conditions; returns its revision.
Result<int64_t> EtcdRegistry::Txn(const json& ops, bool idempotent) {
  ASSIGN_OR_RETURN(json answer, client_->Call("/v3/kv/txn", {{"success", ops}}, idempotent));
  return JsonInt(answer["header"], "revision");
}

// The lease of this node's alive key: the one held, kept alive; a new one when none is held
// (*expired: one was held and etcd no longer knows it).
Result<int64_t> EtcdRegistry::KeepLease(const std::string& alive_key, int64_t ttl, bool* expired) {
  auto it = leases_.find(alive_key);
  if (it != leases_.end() && it->second.ttl == ttl) {
    ASSIGN_OR_RETURN(json answer,
                     client_->Call("/v3/lease/keepalive", {{"ID", std::to_string(it->second.id)}}));
    if (JsonInt(answer, "TTL") > 0) return it->second.id;
    *expired = true;
    leases_.erase(it);
  } else if (it != leases_.end()) {
    RevokeHeld(alive_key);  // the lease's length changed
  }
  ASSIGN_OR_RETURN(json granted, client_->Call("/v3/lease/grant", {{"TTL", std::to_string(ttl)}}));
  const int64_t id = JsonInt(granted, "ID");
  if (id == 0) return Status::IOError(fmt::format("{} granted no lease", Describe()));
  leases_[alive_key] = Lease{id, ttl};
  return id;
}

// Ends the lease this object holds for the key, if any; the alive key goes with it.
void EtcdRegistry::RevokeHeld(const std::string& alive_key) {
  auto it = leases_.find(alive_key);
  if (it == leases_.end()) return;
  Result<json> r = client_->Call("/v3/lease/revoke", {{"ID", std::to_string(it->second.id)}});
  if (!r.ok() && !r.status().IsNotFound()) {
    // Its keys are already gone or going: the lease runs out on its own within its TTL.
    LOG_DEBUG("revoking a registry lease failed", KV("key", alive_key), KV("error", r.status()));
  }
  leases_.erase(it);
}

Status EtcdRegistry::PutImpl(NodeKind kind, const NodeStatus& node) {
  RETURN_IF_ERROR(ValidateNodeID(node.node_id));
  const std::string rec = RecordKey(kind, node.node_id);
  const std::string alive = AliveKey(kind, node.node_id);
  const std::string value = EncodeNodeStatus(node);
  std::lock_guard<std::mutex> g(write_mu_);
  if (node.lease_seconds <= 0) {
    // The node's final write: nothing keeps a lease alive after it.
    ASSIGN_OR_RETURN(int64_t rev, Txn(json::array({PutOp(rec, value), DeleteOp(alive)})));
    cache_.Note(rec, rev, &value);
    cache_.Note(alive, rev, nullptr);
    RevokeHeld(alive);
    return Status::OK();
  }
  const int64_t ttl = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(node.lease_seconds)));
  bool expired = false;
  Result<int64_t> rev = Status::NotFound("no lease yet");
  for (int attempt = 0; attempt < 2 && rev.status().IsNotFound(); ++attempt) {
    ASSIGN_OR_RETURN(int64_t lease, KeepLease(alive, ttl, &expired));
    const std::string alive_value =
        json{{"nodeId", node.node_id}, {"lease", fmt::format("{:x}", lease)}, {"ttl", ttl}}.dump();
    rev = Txn(json::array({PutOp(rec, value), PutOp(alive, alive_value, lease)}));
    if (rev.ok()) {
      cache_.Note(rec, *rev, &value);
      cache_.Note(alive, *rev, &alive_value);
    } else if (rev.status().IsNotFound()) {
      expired = true;  // the lease ran out between its keepalive and this put
      leases_.erase(alive);
    }
  }
  RETURN_IF_ERROR(rev.status());
  if (expired) {
    LOG_WARN("lease expired, re-registered", KV("kind", NodeKindName(kind)),
             KV("node-id", node.node_id), KV("ttl", ttl), KV("registry", Describe()));
  }
  return Status::OK();
}

Status EtcdRegistry::CompareAndSwapImpl(NodeKind kind, const NodeStatus& expected,
                                    const NodeStatus& next) {
  RETURN_IF_ERROR(ValidateNodeID(expected.node_id));
  if (next.node_id != expected.node_id) {
    return Status::InvalidArgument("compare-and-swap cannot change a record's node id");
  }
  if (expected.revision <= 0) {
    return Status::InvalidArgument("compare-and-swap needs a record read from this registry");
  }
  const std::string rec = RecordKey(kind, expected.node_id);
  const std::string value = EncodeNodeStatus(next);
  json txn = {{"compare", json::array({{{"key", Base64Encode(rec)},
                                        {"target", "MOD"},
                                        {"result", "EQUAL"},
                                        {"mod_revision", std::to_string(expected.revision)}}})},
              {"success", json::array({PutOp(rec, value)})},
              {"failure", json::array({RangeOp(rec, false)})}};
  std::lock_guard<std::mutex> g(write_mu_);
  // Not repeated on another endpoint after a timeout: it may have been applied, and a repeat
  // would then be refused as a concurrent change.
  ASSIGN_OR_RETURN(json answer, client_->Call("/v3/kv/txn", txn, /*idempotent=*/false));
  if (answer.value("succeeded", false)) {
    cache_.Note(rec, JsonInt(answer["header"], "revision"), &value);
    return Status::OK();
  }
  json kvs = Kvs(answer, 0);
  if (kvs.empty()) {
    return Status::NotFound(fmt::format("no {} with node id {} in {}", NodeKindName(kind),
                                        expected.node_id, Describe()));
  }
  ASSIGN_OR_RETURN(std::string now_text, Base64Decode(kvs[0].value("value", "")));
  Result<NodeStatus> now = DecodeNodeStatus(now_text);
  return Status::Aborted(fmt::format(
      "the record of {} {} changed since it was read (now {}, updateTS {})", NodeKindName(kind),
      expected.node_id, now.ok() ? NodeStateName(now->state) : "unreadable",
      now.ok() ? now->update_ts : 0));
}

Result<NodeStatus> EtcdRegistry::MakeNode(const std::string& key, const std::string& value,
                                          int64_t revision, bool alive_key_present) const {
  Result<NodeStatus> node = DecodeNodeStatus(value);
  if (!node.ok()) return node.status().WithContext(fmt::format("{} key {}", Describe(), key));
  node->revision = revision;
  // Without a lease (a record TiDB-Binlog wrote, a node's final state) the record says itself.
  if (node->lease_seconds > 0) node->alive = alive_key_present;
  return node;
}

Result<NodeStatus> EtcdRegistry::GetImpl(NodeKind kind, const std::string& node_id) {
  RETURN_IF_ERROR(ValidateNodeID(node_id));
  const std::string rec = RecordKey(kind, node_id);
  const std::string alive = AliveKey(kind, node_id);
  // Read from etcd itself, not the watched copy: a Get is what a compare-and-swap follows, and a
  // copy a few milliseconds behind another writer would make it fail for nothing.
  ASSIGN_OR_RETURN(
      json answer,
      client_->Call("/v3/kv/txn",
                    {{"success", json::array({RangeOp(rec, false), RangeOp(alive, false)})}}));
  json kvs = Kvs(answer, 0);
  if (kvs.empty()) {
    return Status::NotFound(
        fmt::format("no {} with node id {} in {}", NodeKindName(kind), node_id, Describe()));
  }
  ASSIGN_OR_RETURN(std::string value, Base64Decode(kvs[0].value("value", "")));
  return MakeNode(rec, value, JsonInt(kvs[0], "mod_revision"), !Kvs(answer, 1).empty());
}

Result<std::vector<NodeStatus>> EtcdRegistry::ListImpl(NodeKind kind) {
  const std::string rec_prefix = KindPrefix(kRecordRoot, kind);
  const std::string alive_prefix = KindPrefix(kAliveRoot, kind);
  std::vector<NodeStatus> out;
  Status error;
  cache_.Start();
  bool cached = cache_.Read([&](const etcd::WatchCache::Map& map) {
    for (auto it = map.lower_bound(rec_prefix);
         it != map.end() && it->first.compare(0, rec_prefix.size(), rec_prefix) == 0; ++it) {
      if (it->second.deleted) continue;
      auto a = map.find(alive_prefix + it->first.substr(rec_prefix.size()));
      Result<NodeStatus> node = MakeNode(it->first, it->second.value, it->second.mod_revision,
                                         a != map.end() && !a->second.deleted);
      if (!node.ok()) {
        error = node.status();
        return;
      }
      out.push_back(std::move(*node));
    }
  });
  RETURN_IF_ERROR(error);
  if (!cached) {
    ASSIGN_OR_RETURN(
        json answer,
        client_->Call(
            "/v3/kv/txn",
            {{"success", json::array({RangeOp(rec_prefix, true), RangeOp(alive_prefix, true)})}}));
    std::set<std::string> alive_ids;
    for (const json& kv : Kvs(answer, 1)) {
      ASSIGN_OR_RETURN(std::string key, Base64Decode(kv.value("key", "")));
      alive_ids.insert(key.substr(alive_prefix.size()));
    }
    for (const json& kv : Kvs(answer, 0)) {
      ASSIGN_OR_RETURN(std::string key, Base64Decode(kv.value("key", "")));
      ASSIGN_OR_RETURN(std::string value, Base64Decode(kv.value("value", "")));
      ASSIGN_OR_RETURN(NodeStatus node,
                       MakeNode(key, value, JsonInt(kv, "mod_revision"),
                                alive_ids.count(key.substr(rec_prefix.size())) > 0));
      out.push_back(std::move(node));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const NodeStatus& a, const NodeStatus& b) { return a.node_id < b.node_id; });
  return out;
}

Status EtcdRegistry::RemoveImpl(NodeKind kind, const std::string& node_id) {
  RETURN_IF_ERROR(ValidateNodeID(node_id));
  const std::string rec = RecordKey(kind, node_id);
  const std::string alive = AliveKey(kind, node_id);
  std::lock_guard<std::mutex> g(write_mu_);
  ASSIGN_OR_RETURN(
      json answer,
      client_->Call("/v3/kv/txn", {{"success", json::array({DeleteOp(rec), DeleteOp(alive)})}}));
  const int64_t rev = JsonInt(answer["header"], "revision");
  cache_.Note(rec, rev, nullptr);
  cache_.Note(alive, rev, nullptr);
  RevokeHeld(alive);
  const json& responses = answer.value("responses", json::array());
  if (responses.empty() ||
      JsonInt(responses[0].value("response_delete_range", json::object()), "deleted") == 0) {
    return Status::NotFound(
        fmt::format("no {} with node id {} in {}", NodeKindName(kind), node_id, Describe()));
  }
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<Registry>> NewEtcdRegistry(const std::string& urls) {
  ASSIGN_OR_RETURN(std::unique_ptr<etcd::Client> client, etcd::Client::Open(urls));
  return std::unique_ptr<Registry>(std::make_unique<EtcdRegistry>(std::move(client)));
}

}  // namespace binlog::registry
