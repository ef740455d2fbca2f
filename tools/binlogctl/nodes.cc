// binlogctl's node commands: list, pause/offline through the node, update/remove in the
// registry for a node that is dead.
#include <fmt/format.h>

#include "binlogctl/commands.h"
#include "common/logging.h"
#include "server/server.h"

namespace binlog::ctl {

using registry::NodeKind;
using registry::NodeState;
using registry::NodeStatus;

int QueryNodes(const Context& ctx, NodeKind kind) {
  Result<std::vector<NodeStatus>> nodes = ctx.registry->List(kind);
  if (!nodes.ok()) return ctx.Failed(nodes.status());
  size_t shown = 0;
  for (const NodeStatus& n : *nodes) {
    if (EffectiveState(n) == NodeState::kOffline && !ctx.opts.show_offline_nodes) continue;
    LOG_INFO("query node", KV("type", registry::NodeKindName(kind)), KV("node", FormatNode(n)));
    ++shown;
  }
  if (shown == 0) {
    LOG_INFO("no node", KV("type", registry::NodeKindName(kind)),
             KV("registry", ctx.registry->Describe()),
             KV("offline-shown", ctx.opts.show_offline_nodes));
  }
  return kExitOk;
}

int ShowStatus(const Context& ctx, std::ostream& out) {
  auto pumps = ctx.registry->List(NodeKind::kPump);
  if (!pumps.ok()) return ctx.Failed(pumps.status());
  auto drainers = ctx.registry->List(NodeKind::kDrainer);
  if (!drainers.ok()) return ctx.Failed(drainers.status());
  out << "pumps (" << ctx.registry->Describe() << "):\n" << FormatTable(*pumps);
  out << "drainers:\n" << FormatTable(*drainers);
  for (const std::string& w : StuckWarnings(*pumps, *drainers)) {
    out << "WARNING: " << w << "\n";
    LOG_WARN("a drainer others wait on is not alive", KV("detail", w));
  }
  return kExitOk;
}

// pause-pump, offline-drainer...: asked of the node, which changes its own record (a pause
// drains nothing; a close waits until drainers or pumps have caught up, then goes offline).
int ApplyAction(const Context& ctx, NodeKind kind, std::string_view action) {
  const char* kind_name = registry::NodeKindName(kind);
  Result<NodeStatus> node = ctx.registry->Get(kind, ctx.opts.node_id);
  if (!node.ok()) return ctx.Failed(node.status());
  if (node->status_addr.empty()) {
    return ctx.Failed(Status::InvalidArgument(fmt::format(
        "the record of {} {} has no statusAddr to ask; if the node is dead, run: binlogctl "
        "-cmd update-{} -node-id {} -state {}",
        kind_name, node->node_id, kind_name, node->node_id,
        action == "close" ? "offline" : "paused")));
  }
  Result<std::string> state =
      server::AskStateChange(node->status_addr, node->node_id, action, ctx.opts.timeout_ms);
  if (!state.ok()) {
    std::string hint = fmt::format(
        "; its record: {}{}; if the node is dead, run: binlogctl -cmd update-{} -node-id {} "
        "-state {}",
        FormatNode(*node), node->alive ? "" : " (its lease ran out)", kind_name, node->node_id,
        action == "close" ? "offline" : "paused");
    return ctx.Failed(
        state.status().WithContext(fmt::format("asking {} {} to {}", kind_name,
                                               node->node_id, action)),
        state.status().IsIOError() ? hint : "");
  }
  LOG_INFO("Apply action on node success", KV("action", action == "close" ? "offline" : "pause"),
           KV("NodeID", node->node_id), KV("state", *state));
  return kExitOk;
}

// update-pump / update-drainer: the record only, compare-and-swap against what was read, so a
// heartbeat or another binlogctl in between is never overwritten.
int UpdateState(const Context& ctx, NodeKind kind) {
  Result<NodeState> target = registry::ParseNodeState(ctx.opts.state);
  if (!target.ok()) return ctx.Usage(target.status().message());
  Result<NodeStatus> node = ctx.registry->Get(kind, ctx.opts.node_id);
  if (!node.ok()) return ctx.Failed(node.status());
  NodeStatus next = *node;
  next.state = *target;
  if (Status s = ctx.registry->CompareAndSwap(kind, *node, next); !s.ok()) {
    return ctx.Failed(s, s.IsAborted() ? "; nothing was changed: look again and rerun" : "");
  }
  LOG_INFO("update node state", KV("type", registry::NodeKindName(kind)),
           KV("NodeID", node->node_id), KV("from", registry::NodeStateName(node->state)),
           KV("to", registry::NodeStateName(*target)));
  if (node->alive && node->lease_seconds > 0) {
    LOG_WARN(
        "the node is alive: its next heartbeat writes its own state again; to change a running "
        "node use pause-/offline- instead",
        KV("NodeID", node->node_id));
  } else if (!node->alive &&
             (*target == NodeState::kOnline || *target == NodeState::kClosing)) {
    LOG_WARN("the node is not alive: it shows as paused until it heartbeats again",
             KV("NodeID", node->node_id));
  }
  return kExitOk;
}

// remove-pump / remove-drainer: deletes the record of a node that is gone for good. A live
// node is refused; it would only write its record again.
int RemoveNode(const Context& ctx, NodeKind kind) {
  const char* kind_name = registry::NodeKindName(kind);
  Result<NodeStatus> node = ctx.registry->Get(kind, ctx.opts.node_id);
  if (!node.ok()) return ctx.Failed(node.status());
  const NodeState shown = EffectiveState(*node);
  if (shown != NodeState::kOffline && shown != NodeState::kPaused) {
    return ctx.Failed(Status::InvalidArgument(fmt::format(
        "{} {} is {} and alive: offline it first (binlogctl -cmd offline-{} -node-id {})",
        kind_name, node->node_id, registry::NodeStateName(shown), kind_name, node->node_id)));
  }
  if (node->alive && node->lease_seconds > 0 && shown != NodeState::kOffline) {
    return ctx.Failed(Status::InvalidArgument(fmt::format(
        "{} {} is still alive ({}): stop it first", kind_name, node->node_id,
        registry::NodeStateName(node->state))));
  }
  if (Status s = ctx.registry->Remove(kind, node->node_id); !s.ok()) return ctx.Failed(s);
  LOG_INFO("removed the record of a node", KV("type", kind_name), KV("node", FormatNode(*node)));
  return kExitOk;
}

}  // namespace binlog::ctl
