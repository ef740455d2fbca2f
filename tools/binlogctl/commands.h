// binlogctl's commands, each returning an exit code (binlogctl.h).
#pragma once

#include <ostream>
#include <string_view>

#include "binlogctl/binlogctl.h"

namespace binlog::ctl {

struct Context {
  const CtlOptions& opts;
  registry::Registry* registry;  // null for the commands that need none
  std::ostream& err;

  // Logs and prints the failure (with `hint` appended) and returns kExitFailed.
  int Failed(const Status& s, std::string_view hint = {}) const;
  int Usage(std::string_view message) const;
};

int QueryNodes(const Context& ctx, registry::NodeKind kind);
int ShowStatus(const Context& ctx, std::ostream& out);
int ApplyAction(const Context& ctx, registry::NodeKind kind, std::string_view action);
int UpdateState(const Context& ctx, registry::NodeKind kind);
int RemoveNode(const Context& ctx, registry::NodeKind kind);
int GenerateMeta(const Context& ctx);
int Encrypt(const Context& ctx, std::ostream& out);

}  // namespace binlog::ctl
