// binlogctl's command table and dispatch.
#include <fmt/format.h>

#include <functional>

#include "binlogctl/commands.h"
#include "common/logging.h"
#include "common/text.h"
#include "common/tso.h"
#include "drainer/checkpoint.h"
#include "mysql/mysql.h"

namespace binlog::ctl {
namespace {

using registry::NodeKind;

enum class Needs { kNothing, kRegistry, kRegistryAndNode, kRegistryNodeState };

struct Command {
  const char* name;
  const char* help;
  Needs needs;
  std::function<int(const Context&, std::ostream&)> run;
};

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {"pumps", "list the pumps (-show-offline-nodes to include offline ones)", Needs::kRegistry,
       [](const Context& c, std::ostream&) { return QueryNodes(c, NodeKind::kPump); }},
      {"drainers", "list the drainers", Needs::kRegistry,
       [](const Context& c, std::ostream&) { return QueryNodes(c, NodeKind::kDrainer); }},
      {"status", "both tables, as `show pump status` / `show drainer status`, and warnings",
       Needs::kRegistry, [](const Context& c, std::ostream& out) { return ShowStatus(c, out); }},
      {"pause-pump", "ask the pump to pause (it stops; the cluster expects it back)",
       Needs::kRegistryAndNode,
       [](const Context& c, std::ostream&) { return ApplyAction(c, NodeKind::kPump, "pause"); }},
      {"pause-drainer", "ask the drainer to pause", Needs::kRegistryAndNode,
       [](const Context& c, std::ostream&) {
         return ApplyAction(c, NodeKind::kDrainer, "pause");
       }},
      {"offline-pump", "ask the pump to close: offline once every drainer has read it all",
       Needs::kRegistryAndNode,
       [](const Context& c, std::ostream&) { return ApplyAction(c, NodeKind::kPump, "close"); }},
      {"offline-drainer", "ask the drainer to close: offline once it has applied what it read",
       Needs::kRegistryAndNode,
       [](const Context& c, std::ostream&) {
         return ApplyAction(c, NodeKind::kDrainer, "close");
       }},
      {"update-pump", "set a pump's recorded state (-state), for a node that is dead",
       Needs::kRegistryNodeState,
       [](const Context& c, std::ostream&) { return UpdateState(c, NodeKind::kPump); }},
      {"update-drainer", "set a drainer's recorded state (-state), for a node that is dead",
       Needs::kRegistryNodeState,
       [](const Context& c, std::ostream&) { return UpdateState(c, NodeKind::kDrainer); }},
      {"remove-pump", "delete the record of a pump that is gone for good", Needs::kRegistryAndNode,
       [](const Context& c, std::ostream&) { return RemoveNode(c, NodeKind::kPump); }},
      {"remove-drainer", "delete the record of a drainer that is gone for good",
       Needs::kRegistryAndNode,
       [](const Context& c, std::ostream&) { return RemoveNode(c, NodeKind::kDrainer); }},
      {"generate_meta", "write -data-dir/savepoint at the current ts (a drainer starts there)",
       Needs::kNothing, [](const Context& c, std::ostream&) { return GenerateMeta(c); }},
      {"encrypt", "print -text encrypted for encrypted_password (key: BINLOG_SECRET_KEY or "
                  "-secret-key-file)",
       Needs::kNothing, [](const Context& c, std::ostream& out) { return Encrypt(c, out); }},
  };
  return commands;
}

}  // namespace

int Context::Failed(const Status& s, std::string_view hint) const {
  std::string msg = Printable(s.message(), 4096) + std::string(hint);
  LOG_ERROR("binlogctl failed", KV("cmd", opts.cmd), KV("error", msg));
  err << "binlogctl: " << msg << "\n";
  return kExitFailed;
}

int Context::Usage(std::string_view message) const {
  err << "binlogctl: " << message << "\nusage: binlogctl -cmd <command> [flags]  (binlogctl -h)\n";
  return kExitUsage;
}

std::string CommandList() {
  std::string out = "commands (-cmd):\n";
  for (const Command& c : Commands()) out += fmt::format("  {:<16} {}\n", c.name, c.help);
  return out;
}

int GenerateMeta(const Context& ctx) {
  if (ctx.opts.data_dir.empty()) return ctx.Usage("generate_meta needs -data-dir");
  Env* env = ctx.opts.env;
  const std::string path = JoinPath(ctx.opts.data_dir, "savepoint");
  if (env->FileExists(path)) {
    return ctx.Failed(Status::InvalidArgument(fmt::format(
        "{} exists: a drainer's checkpoint is not overwritten; remove it first if the drainer "
        "is to start from now",
        path)));
  }
  if (Status s = env->CreateDirs(ctx.opts.data_dir); !s.ok()) return ctx.Failed(s);
  drainer::Checkpoint c;
  c.commit_ts = ComposeTS(env->NowMicros() / 1000, 0);
  if (Status s = drainer::WriteSavepoint(env, path, c); !s.ok()) return ctx.Failed(s);
  LOG_INFO("save meta", KV("meta", fmt::format("commitTS: {}", c.commit_ts)), KV("file", path));
  return kExitOk;
}

int Encrypt(const Context& ctx, std::ostream& out) {
  if (ctx.opts.text.empty()) return ctx.Usage("encrypt needs -text");
  Result<std::string> key = mysql::LoadSecretKey(ctx.opts.env, ctx.opts.secret_key_file);
  if (!key.ok()) return ctx.Failed(key.status());
  Result<std::string> sealed = mysql::EncryptPassword(ctx.opts.text, *key);
  if (!sealed.ok()) return ctx.Failed(sealed.status());
  out << *sealed << "\n";
  return kExitOk;
}

int Run(const CtlOptions& opts, std::ostream& out, std::ostream& err) {
  const Command* cmd = nullptr;
  for (const Command& c : Commands()) {
    if (opts.cmd == c.name) cmd = &c;
  }
  Context ctx{opts, nullptr, err};
  if (opts.cmd.empty()) return ctx.Usage("-cmd is required\n" + CommandList());
  if (cmd == nullptr) {
    return ctx.Usage(fmt::format("unknown command \"{}\"\n{}", Printable(opts.cmd, 64),
                                 CommandList()));
  }
  if (cmd->needs == Needs::kNothing) return cmd->run(ctx, out);
  if ((cmd->needs == Needs::kRegistryAndNode || cmd->needs == Needs::kRegistryNodeState) &&
      opts.node_id.empty()) {
    return ctx.Usage(fmt::format("{} needs -node-id", cmd->name));
  }
  if (cmd->needs == Needs::kRegistryNodeState && opts.state.empty()) {
    return ctx.Usage(fmt::format(
        "{} needs -state (online, pausing, paused, closing or offline)", cmd->name));
  }
  auto registry =
      registry::OpenRegistry(opts.env, opts.pd_urls, opts.registry_dir, "command line");
  if (!registry.ok()) return ctx.Failed(registry.status());
  ctx.registry = registry->get();
  return cmd->run(ctx, out);
}

}  // namespace binlog::ctl
