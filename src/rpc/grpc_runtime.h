// Process-wide settings of the gRPC runtime, for the mains of processes that use gRPC.
#pragma once

namespace binlog::rpc {

// Call once from main(), before any thread starts. Debian builds Abseil without NDEBUG, so
// every absl::Mutex that gRPC takes also updates Abseil's global lock-order graph (deadlock
// detection, meant for debug builds): a global lock and stack walks on each of gRPC's many
// lock operations per call. Measured under 64 concurrent producers: GraphCycles showed among
// the hottest symbols of both the client and the pump. This turns it off. It also sends gRPC's
// own log lines through the project's logger (common/logging.h).
void ConfigureGrpcRuntime();

}  // namespace binlog::rpc
