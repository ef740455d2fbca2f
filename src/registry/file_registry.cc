// The embedded registry: <dir>/pumps/<node-id>.json and <dir>/drainers/<node-id>.json.
//
// Writers (heartbeats and binlogctl's compare-and-swap) serialize on <dir>/<kind>s/.lock, so a
// compare-and-swap's read and write see no heartbeat in between. Liveness is the record's own
// updateTS against its leaseSeconds, read with the env's clock.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

#include "common/tso.h"
#include "registry/registry.h"

namespace binlog::registry {
namespace {

constexpr std::string_view kSuffix = ".json";

class FileRegistry : public Registry {
 public:
  FileRegistry(Env* env, std::string dir) : env_(env), dir_(std::move(dir)) {}

  Status Put(NodeKind kind, const NodeStatus& node) override {
    RETURN_IF_ERROR(ValidateNodeID(node.node_id));
    ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, Lock(kind));
    return Write(kind, node);
  }

  Status CompareAndSwap(NodeKind kind, const NodeStatus& expected,
                        const NodeStatus& next) override {
    RETURN_IF_ERROR(ValidateNodeID(expected.node_id));
    if (next.node_id != expected.node_id) {
      return Status::InvalidArgument("compare-and-swap cannot change a record's node id");
    }
    ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, Lock(kind));
    ASSIGN_OR_RETURN(NodeStatus current, Get(kind, expected.node_id));
    if (current.revision != expected.revision) {
      return Status::Aborted(fmt::format(
          "the record of {} {} changed since it was read (now {}, updateTS {})",
          NodeKindName(kind), expected.node_id, NodeStateName(current.state), current.update_ts));
    }
    return Write(kind, next);
  }

  Result<NodeStatus> Get(NodeKind kind, const std::string& node_id) override {
    RETURN_IF_ERROR(ValidateNodeID(node_id));
    std::string path = RecordPath(kind, node_id);
    auto text = ReadFileToString(env_, path);
    if (!text.ok()) {
      if (text.status().IsNotFound()) {
        return Status::NotFound(fmt::format("no {} with node id {} in {}", NodeKindName(kind),
                                            node_id, Describe()));
      }
      return text.status();
    }
    auto node = DecodeNodeStatus(*text);
    if (!node.ok()) return node.status().WithContext(path);
    node->revision = static_cast<int64_t>(std::hash<std::string>{}(*text) >> 1);
    if (node->lease_seconds > 0) {
      int64_t age_ms = env_->NowMicros() / 1000 - TSPhysicalMs(node->update_ts);
      node->alive = age_ms <= static_cast<int64_t>(node->lease_seconds * 1000);
    }
    return node;
  }

  Result<std::vector<NodeStatus>> List(NodeKind kind) override {
    std::string sub = KindDir(kind);
    std::vector<NodeStatus> out;
    if (!env_->FileExists(sub)) return out;
    ASSIGN_OR_RETURN(std::vector<std::string> names, env_->GetChildren(sub));
    for (const std::string& name : names) {
      if (name.size() <= kSuffix.size() ||
          name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
        continue;  // the lock, WriteFileAtomic's .tmp leftovers and anything else
      }
      auto node = Get(kind, name.substr(0, name.size() - kSuffix.size()));
      if (node.status().IsNotFound()) continue;  // removed while listing
      if (!node.ok()) return node.status();
      out.push_back(std::move(*node));
    }
    std::sort(out.begin(), out.end(),
              [](const NodeStatus& a, const NodeStatus& b) { return a.node_id < b.node_id; });
    return out;
  }

  Status Remove(NodeKind kind, const std::string& node_id) override {
    RETURN_IF_ERROR(ValidateNodeID(node_id));
    ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, Lock(kind));
    RETURN_IF_ERROR(env_->DeleteFile(RecordPath(kind, node_id)));
    return env_->SyncDir(KindDir(kind));
  }

  std::string Describe() const override { return "registry dir " + dir_; }

 private:
  std::string KindDir(NodeKind kind) const {
    return JoinPath(dir_, std::string(NodeKindName(kind)) + "s");
  }
  std::string RecordPath(NodeKind kind, const std::string& node_id) const {
    return JoinPath(KindDir(kind), node_id + std::string(kSuffix));
  }
  // Every holder keeps the lock for one small atomic write, so waiting is short; a holder
  // stuck for 10 s is reported instead of waited on forever.
  Result<std::unique_ptr<FileLock>> Lock(NodeKind kind) {
    RETURN_IF_ERROR(env_->CreateDirs(KindDir(kind)));
    const std::string path = JoinPath(KindDir(kind), ".lock");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      auto lock = env_->LockFile(path);
      if (lock.ok() || !lock.status().IsBusy() || std::chrono::steady_clock::now() > deadline) {
        return lock;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  Status Write(NodeKind kind, const NodeStatus& node) {
    return WriteFileAtomic(env_, RecordPath(kind, node.node_id), EncodeNodeStatus(node));
  }

  Env* env_;
  std::string dir_;
};

}  // namespace

std::unique_ptr<Registry> NewFileRegistry(Env* env, const std::string& dir) {
  return std::make_unique<FileRegistry>(env, dir);
}

}  // namespace binlog::registry
