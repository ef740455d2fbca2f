// The pump's answer to a write as a Status (internal to pump_client; the codes are described in
// pump_client.h).
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>

#include "common/status.h"
#include "pump.pb.h"

namespace binlog::pump {

Status FromWriteReply(const std::string& addr, const grpc::Status& rpc,
                      const pb::WriteBinlogResp& resp);

}  // namespace binlog::pump
