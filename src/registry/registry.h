// Node records of pumps and drainers, and where they are kept.
//
// A record is what TiDB-Binlog keeps in PD's etcd under /tidb-binlog/v1/<kind>s/<node-id>,
// with the same JSON field names, so operators see the same thing in `binlogctl` output. The
// embedded default backend is a directory holding one small JSON file per node, each replaced
// atomically (write, fsync, rename, fsync the directory); docs/REGISTRY.md has both layouts.
//
// A record holds the node's intent (its state) apart from its liveness: a node that heartbeats
// with a lease is alive until the lease runs out. A node killed with kill -9 keeps its last
// intent ("online") but is no longer alive, and is shown paused (EffectiveState): the cluster
// expects it back, and nobody has to run binlogctl to learn that it is gone.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "common/status.h"

namespace binlog::registry {

enum class NodeState { kOnline, kPausing, kPaused, kClosing, kOffline };

// "online", "pausing", "paused", "closing", "offline".
const char* NodeStateName(NodeState state);
Result<NodeState> ParseNodeState(std::string_view text);

enum class NodeKind { kPump, kDrainer };
const char* NodeKindName(NodeKind kind);  // "pump" / "drainer"

struct NodeStatus {
  std::string node_id;      // host:port unless configured
  std::string addr;         // where its gRPC service listens (advertise-addr)
  std::string status_addr;  // where its HTTP status service listens
  NodeState state = NodeState::kOnline;
  // Pump: its watermark (no commit below it can still arrive). Drainer: its checkpoint.
  int64_t max_commit_ts = 0;
  int64_t update_ts = 0;  // TSO of the last update
  // Ours, for a drainer on the same machine: the host name (gethostname) and the absolute
  // directory whose binlog/ a pump writes, read straight from disk instead of over gRPC.
  std::string host;
  std::string data_dir;
  // Ours: how long the node counts as alive after this record was written by its heartbeat
  // (0: no lease; a record from an older node, which counts as alive).
  double lease_seconds = 0;

  // Set by the backend when it reads the record, not stored by Put:
  // the node's lease still holds (TiDB-Binlog's isAlive);
  bool alive = true;
  // the record's version, for CompareAndSwap (etcd's mod_revision; a content hash on disk).
  int64_t revision = 0;
};

// What operators see: the recorded state, except that a node whose lease ran out while it said
// online, pausing or closing shows as paused (it stopped without saying so, and is expected
// back). Paused and offline show as they are.
NodeState EffectiveState(const NodeStatus& node);

// This machine's name as NodeStatus::host records it.
std::string ThisHostName();

// Node ids name files in the embedded backend: non-empty, at most 200 characters of letters,
// digits and .:-_[] (host:port and [v6]:port fit), not starting with '.'.
Status ValidateNodeID(std::string_view id);

// nlohmann-json text with TiDB-Binlog's field names (nodeId, host (the addr), state, isAlive
// (always true: what a writer asserts; readers judge liveness by the lease),
// maxCommitTS, updateTS) plus ours (statusAddr, hostName, dataDir, leaseSeconds); parse errors
// name the field. Records written by earlier versions (NodeID, Addr, State, ...) still decode.
std::string EncodeNodeStatus(const NodeStatus& node);
Result<NodeStatus> DecodeNodeStatus(std::string_view json);

class Registry {
 public:
  virtual ~Registry() = default;
  // Creates or replaces the record of node.node_id: the node's own heartbeat. With
  // node.lease_seconds > 0 it also proves the node alive for that long.
  virtual Status Put(NodeKind kind, const NodeStatus& node) = 0;
  // Replaces the record only while it is still the version `expected` was read as
  // (expected.revision); for binlogctl, which must never overwrite a concurrent change.
  // Aborted when the record changed since, NotFound when it is gone. Does not touch liveness.
  virtual Status CompareAndSwap(NodeKind kind, const NodeStatus& expected,
                                const NodeStatus& next) = 0;
  virtual Result<NodeStatus> Get(NodeKind kind, const std::string& node_id) = 0;
  // Every record of that kind, ordered by node id.
  virtual Result<std::vector<NodeStatus>> List(NodeKind kind) = 0;
  virtual Status Remove(NodeKind kind, const std::string& node_id) = 0;
  // Where it lives, for messages ("dir /data/registry").
  virtual std::string Describe() const = 0;
};

// The embedded backend: <dir>/pumps/<node-id>.json and <dir>/drainers/<node-id>.json.
std::unique_ptr<Registry> NewFileRegistry(Env* env, const std::string& dir);

// A registry on etcd (or PD's embedded etcd) through its v3 JSON gateway: urls is
// "http://h:2379[,http://h2:2379,...]" (https too), tried in turn when one cannot be reached.
// Nothing is contacted until the first call. Records live under TiDB-Binlog's keys, liveness in
// a leased key of its own; List answers from a copy kept current by a watch, Get from etcd.
// docs/REGISTRY.md has the keys and what happens while etcd is down.
Result<std::unique_ptr<Registry>> NewEtcdRegistry(const std::string& urls);

// Picks the backend from the pd-urls / registry-dir config keys: "file:///path" or a
// registry-dir selects the embedded one; http(s):// URLs an etcd (PD's, or a cluster of its own).
// Errors name the key; `origin` is the config file name for messages.
Result<std::unique_ptr<Registry>> OpenRegistry(Env* env, const std::string& pd_urls,
                                               const std::string& registry_dir,
                                               const std::string& origin);

}  // namespace binlog::registry
