// binlogctl: what operators of TiDB-Binlog know, over this project's registry (docs/BINLOGCTL.md).
//
// The logic is a library so tests can run it in-process as well as through the binary.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "registry/registry.h"

namespace binlog::ctl {

struct CtlOptions {
  std::string cmd;
  std::string pd_urls;
  std::string registry_dir;
  std::string node_id;
  std::string state;            // update-pump / update-drainer
  std::string data_dir;         // generate_meta
  std::string text;             // encrypt
  std::string secret_key_file;  // encrypt
  bool show_offline_nodes = false;
  int timeout_ms = 5000;  // for each request to a node's status service
  Env* env = Env::Posix();
};

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// Every command with its one-line description, for -h.
std::string CommandList();

// Runs opts.cmd. What the command reports goes to `out` (results and log-style lines), errors
// to the log and to `err`. Returns the exit code: 0 done, 1 the operation failed, 2 usage (an
// unknown command, a missing -node-id or -state).
int Run(const CtlOptions& opts, std::ostream& out, std::ostream& err);

// One node as TiDB-Binlog's binlogctl prints it:
// {NodeID: a:8250, Addr: a:8250, State: online, MaxCommitTS: 4223, UpdateTime: 2021-01-18
// 12:40:38 -0500 EST}. The state shown is EffectiveState (a node whose lease ran out is paused).
std::string FormatNode(const registry::NodeStatus& node);

// The `show pump status` table for the nodes given.
std::string FormatTable(const std::vector<registry::NodeStatus>& nodes);

// The classic trap, named: nodes that wait on a drainer that is not alive (a pump closing, a
// GC guard), each line saying which drainer, since when and the command that lets them go on.
std::vector<std::string> StuckWarnings(const std::vector<registry::NodeStatus>& pumps,
                                       const std::vector<registry::NodeStatus>& drainers);

}  // namespace binlog::ctl
