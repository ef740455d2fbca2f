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

class FileRegistry : public Registry {
 public:
  FileRegistry(Env* env, std::string dir) : env_(env), dir_(std::move(dir)) {}

  Status Put(NodeKind kind, const NodeStatus& node) override {
    RETURN_IF_ERROR(CheckNodeId(node.node_id));
    std::string sub = KindDir(kind);
    RETURN_IF_ERROR(env_->CreateDirs(sub));
    return WriteFileAtomic(env_, JoinPath(sub, node.node_id + ".json"), EncodeNodeStatus(node));
  }

  Result<NodeStatus> Get(NodeKind kind, const std::string& node_id) override {
    RETURN_IF_ERROR(CheckNodeId(node_id));
    std::string path = JoinPath(KindDir(kind), node_id + ".json");
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
    return node;
  }

  Result<std::vector<NodeStatus>> List(NodeKind kind) override {
    std::string sub = KindDir(kind);
    std::vector<NodeStatus> out;
    if (!env_->FileExists(sub)) return out;
    ASSIGN_OR_RETURN(std::vector<std::string> names, env_->GetChildren(sub));
    for (const std::string& name : names) {
      constexpr std::string_view kSuffix = ".json";
      if (name.size() <= kSuffix.size() ||
          name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
        continue;  // WriteFileAtomic's .tmp leftovers and anything else
      }
      ASSIGN_OR_RETURN(NodeStatus node, Get(kind, name.substr(0, name.size() - kSuffix.size())));
      out.push_back(std::move(node));
    }
    std::sort(out.begin(), out.end(),
              [](const NodeStatus& a, const NodeStatus& b) { return a.node_id < b.node_id; });
    return out;
  }

  Status Remove(NodeKind kind, const std::string& node_id) override {
    RETURN_IF_ERROR(CheckNodeId(node_id));
    std::string sub = KindDir(kind);
    RETURN_IF_ERROR(env_->DeleteFile(JoinPath(sub, node_id + ".json")));
    return env_->SyncDir(sub);
  }

  std::string Describe() const override { return "registry dir " + dir_; }

 private:
  std::string KindDir(NodeKind kind) const {
    return JoinPath(dir_, std::string(NodeKindName(kind)) + "s");
  }
  Env* env_;
  std::string dir_;
};

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

std::string EncodeNodeStatus(const NodeStatus& node) {
  nlohmann::ordered_json j;
  j["NodeID"] = node.node_id;
  j["Addr"] = node.addr;
  j["StatusAddr"] = node.status_addr;
  j["State"] = NodeStateName(node.state);
  j["MaxCommitTS"] = node.max_commit_ts;
  j["UpdateTS"] = node.update_ts;
  if (!node.host.empty()) j["Host"] = node.host;
  if (!node.data_dir.empty()) j["DataDir"] = node.data_dir;
  return j.dump() + "\n";
}

Result<NodeStatus> DecodeNodeStatus(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Corruption("node record is not a JSON object");
  }
  NodeStatus node;
  auto field = [&](const char* name, auto* out) -> Status {
    auto it = j.find(name);
    using T = std::remove_pointer_t<decltype(out)>;
    if (it == j.end()) return Status::OK();
    if constexpr (std::is_same_v<T, std::string>) {
      if (!it->is_string()) return Status::Corruption(fmt::format("{} is not a string", name));
    } else {
      if (!it->is_number_integer()) {
        return Status::Corruption(fmt::format("{} is not an integer", name));
      }
    }
    *out = it->template get<T>();
    return Status::OK();
  };
  std::string state = "online";
  RETURN_IF_ERROR(field("NodeID", &node.node_id));
  RETURN_IF_ERROR(field("Addr", &node.addr));
  RETURN_IF_ERROR(field("StatusAddr", &node.status_addr));
  RETURN_IF_ERROR(field("State", &state));
  RETURN_IF_ERROR(field("MaxCommitTS", &node.max_commit_ts));
  RETURN_IF_ERROR(field("UpdateTS", &node.update_ts));
  RETURN_IF_ERROR(field("Host", &node.host));
  RETURN_IF_ERROR(field("DataDir", &node.data_dir));
  if (node.node_id.empty()) return Status::Corruption("node record has no NodeID");
  ASSIGN_OR_RETURN(node.state, ParseNodeState(state));
  return node;
}

std::string ThisHostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

Status ValidateNodeID(std::string_view id) { return CheckNodeId(std::string(id)); }

std::unique_ptr<Registry> NewFileRegistry(Env* env, const std::string& dir) {
  return std::make_unique<FileRegistry>(env, dir);
}

Result<std::unique_ptr<Registry>> OpenRegistry(Env* env, const std::string& pd_urls,
                                               const std::string& registry_dir,
                                               const std::string& origin) {
  if (!registry_dir.empty()) return NewFileRegistry(env, registry_dir);
  constexpr std::string_view kFile = "file://";
  if (pd_urls.rfind(kFile, 0) == 0 && pd_urls.size() > kFile.size()) {
    return NewFileRegistry(env, pd_urls.substr(kFile.size()));
  }
  return Status::InvalidArgument(fmt::format(
      "{}: key \"pd-urls\" = \"{}\": a PD/etcd registry is not supported yet; use the embedded "
      "registry with pd-urls = \"file:///path/to/registry\" or registry-dir = \"/path\" (every "
      "pump and drainer on this machine must name the same directory)",
      origin, pd_urls));
}

}  // namespace binlog::registry
