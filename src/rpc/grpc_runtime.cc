#include "rpc/grpc_runtime.h"

#include <absl/synchronization/mutex.h>

namespace binlog::rpc {

void ConfigureGrpcRuntime() { absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore); }

}  // namespace binlog::rpc
