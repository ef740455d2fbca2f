#include "registry/registry.h"

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace binlog::registry {

namespace {

constexpr NodeState kAllStates[] = {NodeState::kOnline, NodeState::kPausing, NodeState::kPaused,
                                    NodeState::kClosing, NodeState::kOffline};

// Node ids are host:port; keep file names to a safe alphabet and reject the rest.
Status CheckNodeId(const std::string& id) {
  if (id.empty() || id.size() > 200 || id[0] == '.') {
    return Status::InvalidArgument(fmt::format("bad node id \"{}\"", id));
  }
  for (char c : id) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == ':' || c == '-' ||
              c == '_' || c == '[' || c == ']';
    if (!ok) {
      return Status::InvalidArgument(
          fmt::format("bad node id \"{}\": only letters, digits and .:-_[] are allowed", id));
    }
  }
  return Status::OK();
}

}  // namespace

const char* NodeStateName(NodeState state) {
  switch (state) {
    case NodeState::kOnline:
      return "online";
    case NodeState::kPausing:
      return "pausing";
    case NodeState::kPaused:
      return "paused";
    case NodeState::kClosing:
      return "closing";
    case NodeState::kOffline:
      return "offline";
  }
  return "unknown";
}

Result<NodeState> ParseNodeState(std::string_view text) {
  for (NodeState s : kAllStates) {
    if (text == NodeStateName(s)) return s;
  }
  return Status::InvalidArgument(fmt::format(
      "bad node state \"{}\": expected online, pausing, paused, closing or offline", text));
}

const char* NodeKindName(NodeKind kind) { return kind == NodeKind::kPump ? "pump" : "drainer"; }

NodeState EffectiveState(const NodeStatus& node) {
  if (node.alive) return node.state;
  switch (node.state) {
    case NodeState::kOnline:
    case NodeState::kPausing:
    case NodeState::kClosing:
      return NodeState::kPaused;
    default:
      return node.state;
  }
}

std::string EncodeNodeStatus(const NodeStatus& node) {
  nlohmann::ordered_json j;
  j["nodeId"] = node.node_id;
  j["host"] = node.addr;
  j["state"] = NodeStateName(node.state);
  j["isAlive"] = true;  // what a writer asserts; readers judge liveness by the lease
  j["maxCommitTS"] = node.max_commit_ts;
  j["updateTS"] = node.update_ts;
  j["statusAddr"] = node.status_addr;
  if (!node.host.empty()) j["hostName"] = node.host;
  if (!node.data_dir.empty()) j["dataDir"] = node.data_dir;
  if (node.lease_seconds > 0) j["leaseSeconds"] = node.lease_seconds;
  return j.dump() + "\n";
}

namespace {

// Reads one field under its name or the name earlier versions wrote; absent leaves *out.
template <typename T>
Status ReadField(const nlohmann::json& j, const char* name, const char* old_name, T* out) {
  auto it = j.find(name);
  if (it == j.end() && old_name != nullptr) it = j.find(old_name);
  if (it == j.end()) return Status::OK();
  bool ok;
  if constexpr (std::is_same_v<T, std::string>) {
    ok = it->is_string();
  } else if constexpr (std::is_same_v<T, bool>) {
    ok = it->is_boolean();
  } else if constexpr (std::is_floating_point_v<T>) {
    ok = it->is_number();
  } else {
    ok = it->is_number_integer();
  }
  if (!ok) return Status::Corruption(fmt::format("{} has the wrong type", name));
  *out = it->template get<T>();
  return Status::OK();
}

}  // namespace

Result<NodeStatus> DecodeNodeStatus(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Corruption("node record is not a JSON object");
  }
  NodeStatus node;
  std::string state = "online";
  RETURN_IF_ERROR(ReadField(j, "nodeId", "NodeID", &node.node_id));
  RETURN_IF_ERROR(ReadField(j, "host", "Addr", &node.addr));
  RETURN_IF_ERROR(ReadField(j, "state", "State", &state));
  RETURN_IF_ERROR(ReadField(j, "isAlive", nullptr, &node.alive));
  RETURN_IF_ERROR(ReadField(j, "maxCommitTS", "MaxCommitTS", &node.max_commit_ts));
  RETURN_IF_ERROR(ReadField(j, "updateTS", "UpdateTS", &node.update_ts));
  RETURN_IF_ERROR(ReadField(j, "statusAddr", "StatusAddr", &node.status_addr));
  RETURN_IF_ERROR(ReadField(j, "hostName", "Host", &node.host));
  RETURN_IF_ERROR(ReadField(j, "dataDir", "DataDir", &node.data_dir));
  RETURN_IF_ERROR(ReadField(j, "leaseSeconds", nullptr, &node.lease_seconds));
  if (node.node_id.empty()) return Status::Corruption("node record has no nodeId");
  if (!(node.lease_seconds >= 0 && node.lease_seconds < 1e9)) {
    return Status::Corruption("leaseSeconds is out of range");
  }
  ASSIGN_OR_RETURN(node.state, ParseNodeState(state));
  return node;
}

std::string ThisHostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

Status ValidateNodeID(std::string_view id) { return CheckNodeId(std::string(id)); }

Result<std::unique_ptr<Registry>> OpenRegistry(Env* env, const std::string& pd_urls,
                                               const std::string& registry_dir,
                                               const std::string& origin) {
  if (!registry_dir.empty()) return NewFileRegistry(env, registry_dir);
  constexpr std::string_view kFile = "file://";
  if (pd_urls.rfind(kFile, 0) == 0 && pd_urls.size() > kFile.size()) {
    return NewFileRegistry(env, pd_urls.substr(kFile.size()));
  }
  if (pd_urls.rfind("http://", 0) == 0 || pd_urls.rfind("https://", 0) == 0) {
    auto etcd = NewEtcdRegistry(pd_urls);
    if (!etcd.ok()) {
      return Status::InvalidArgument(
          fmt::format("{}: key \"pd-urls\": {}", origin, etcd.status().message()));
    }
    return etcd;
  }
  return Status::InvalidArgument(
      fmt::format("{}: key \"pd-urls\" = \"{}\": expected etcd or PD endpoints "
                  "(\"http://host:2379[,http://host2:2379]\") or the embedded registry "
                  "(\"file:///path/to/registry\", or registry-dir = \"/path\")",
                  origin, pd_urls));
}

}  // namespace binlog::registry
