#include "rpc/grpc_runtime.h"

#include <absl/synchronization/mutex.h>
#include <grpc/support/log.h>

#include "common/logging.h"

namespace binlog::rpc {

namespace {

// gRPC's own lines ("E1203 ... chttp2_server.cc:...] ...") in the project's log format, at a
// level below what gRPC calls them: the project reports what failed in its own words, gRPC's
// detail is for whoever digs.
void LogThroughProject(gpr_log_func_args* args) {
  LogLevel level = args->severity == GPR_LOG_SEVERITY_ERROR  ? LogLevel::kWarn
                   : args->severity == GPR_LOG_SEVERITY_INFO ? LogLevel::kInfo
                                                             : LogLevel::kDebug;
  if (!LogEnabled(level)) return;
  LogLine(level, args->file, args->line, "grpc", {KV("detail", args->message)});
}

}  // namespace

void ConfigureGrpcRuntime() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  gpr_set_log_function(LogThroughProject);
}

}  // namespace binlog::rpc
