// How binlogctl shows nodes: TiDB-Binlog's one-line form, the `show pump status` table, and the
// warnings about a dead drainer that others wait on.
#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "binlogctl/binlogctl.h"
#include "common/tso.h"

namespace binlog::ctl {
namespace {

using registry::NodeState;
using registry::NodeStatus;

// A TSO's physical time in local time, as strftime's `format` writes it; `none` for no ts.
std::string LocalTime(int64_t ts, const char* format, const char* none) {
  if (ts <= 0) return none;
  time_t secs = static_cast<time_t>(TSPhysicalMs(static_cast<uint64_t>(ts)) / 1000);
  struct tm tm {};
  localtime_r(&secs, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof(buf), format, &tm);
  return std::string(buf, n);
}

// Go's time.Time String(): "2006-01-02 15:04:05 -0700 MST".
std::string GoTime(int64_t ts) { return LocalTime(ts, "%Y-%m-%d %H:%M:%S %z %Z", "never"); }
// show pump status's Update_Time column.
std::string TableTime(int64_t ts) { return LocalTime(ts, "%Y-%m-%d %H:%M:%S", ""); }

}  // namespace

std::string FormatNode(const NodeStatus& node) {
  return fmt::format("{{NodeID: {}, Addr: {}, State: {}, MaxCommitTS: {}, UpdateTime: {}}}",
                     node.node_id, node.addr, registry::NodeStateName(EffectiveState(node)),
                     node.max_commit_ts, GoTime(node.update_ts));
}

std::string FormatTable(const std::vector<NodeStatus>& nodes) {
  const std::vector<std::string> head = {"NodeID", "Address", "State", "Max_Commit_Ts",
                                         "Update_Time"};
  std::vector<std::vector<std::string>> rows;
  for (const NodeStatus& n : nodes) {
    rows.push_back({n.node_id, n.addr, registry::NodeStateName(EffectiveState(n)),
                    std::to_string(n.max_commit_ts), TableTime(n.update_ts)});
  }
  std::vector<size_t> width(head.size());
  for (size_t c = 0; c < head.size(); ++c) {
    width[c] = head[c].size();
    for (const auto& r : rows) width[c] = std::max(width[c], r[c].size());
  }
  std::string rule = "+";
  for (size_t w : width) rule += std::string(w + 2, '-') + "+";
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s = "|";
    for (size_t c = 0; c < cells.size(); ++c) s += fmt::format(" {:<{}} |", cells[c], width[c]);
    return s;
  };
  std::string out = rule + "\n" + line(head) + "\n" + rule + "\n";
  for (const auto& r : rows) out += line(r) + "\n";
  return out + rule + "\n";
}

std::vector<std::string> StuckWarnings(const std::vector<NodeStatus>& pumps,
                                       const std::vector<NodeStatus>& drainers) {
  std::vector<std::string> out;
  uint64_t highest_pump = 0;
  std::vector<const NodeStatus*> closing;
  for (const NodeStatus& p : pumps) {
    if (p.state == NodeState::kOffline) continue;
    highest_pump = std::max<uint64_t>(highest_pump, static_cast<uint64_t>(p.max_commit_ts));
    if (p.state == NodeState::kClosing && p.alive) closing.push_back(&p);
  }
  for (const NodeStatus& d : drainers) {
    if (d.state == NodeState::kOffline || d.alive) continue;
    std::string waiting;
    for (const NodeStatus* p : closing) {
      if (d.max_commit_ts < p->max_commit_ts) {
        waiting += fmt::format("{}pump {} (closing)", waiting.empty() ? "" : ", ", p->node_id);
      }
    }
    const bool behind = static_cast<uint64_t>(d.max_commit_ts) < highest_pump;
    if (waiting.empty() && !behind) continue;
    out.push_back(fmt::format(
        "drainer {} is not alive since {} (its record still says {}, checkpoint {}){}{}; GC "
        "keeps what it has not read until its last heartbeat is gc-guard-lease old; if it is "
        "gone for good, run: binlogctl -cmd update-drainer -node-id {} -state offline",
        d.node_id, GoTime(d.update_ts), registry::NodeStateName(d.state), d.max_commit_ts,
        waiting.empty() ? "" : "; waiting on it: ", waiting, d.node_id));
  }
  return out;
}

}  // namespace binlog::ctl
