// A PumpServer on loopback ports with a gRPC stub and an HTTP client, for the server tests.
#pragma once

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "pump.grpc.pb.h"
#include "pump/pump_test_util.h"
#include "pump/server.h"
#include "registry/registry.h"
#include "testutil/testutil.h"

namespace binlog::pump::testing {

// Waits for a condition with retries instead of a fixed sleep.
inline bool WaitFor(const std::function<bool()>& cond,
                    std::chrono::seconds limit = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

// A stand-in pump of `service` alone (another pump implementation, or one that misbehaves) on
// a free loopback port; `server` is null when it did not start.
struct TestServer {
  std::unique_ptr<grpc::Server> server;
  std::string addr;
};

inline TestServer Serve(grpc::Service* service) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service);
  TestServer t;
  t.server = builder.BuildAndStart();
  if (port == 0) t.server.reset();
  t.addr = "127.0.0.1:" + std::to_string(port);
  return t;
}

class PumpServerTest : public ::testing::Test {
 protected:
  PumpServerTest() : registry_(registry::NewFileRegistry(Env::Posix(), tmp_.Sub("registry"))) {
    config_.addr = "127.0.0.1:0";
    config_.advertise_addr = "127.0.0.1:0";
    config_.status_addr = "127.0.0.1:0";
    config_.data_dir = tmp_.Sub("data");
    config_.registry_dir = tmp_.Sub("registry");
    config_.node_id = "pump-test";
    config_.heartbeat_interval_seconds = 0.05;
    config_.stop_write_at_available_space = 0;  // tests must not depend on the disk's free space
    config_.max_message_size = 64 << 10;
  }

  void StartServer() {
    PumpServerOptions options;
    options.on_stop = [this] { self_stopped_ = true; };
    options.gc_interval_seconds = gc_interval_seconds_;
    auto started = PumpServer::Start(config_, options);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    server_ = std::move(started).value();
    channel_ = grpc::CreateChannel(server_->grpc_addr(), grpc::InsecureChannelCredentials());
    stub_ = pb::Pump::NewStub(channel_);
    ASSERT_OK_AND_ASSIGN(HostPort hp, SplitHostPort(server_->status_addr()));
    http_ = std::make_unique<httplib::Client>(hp.host, hp.port);
  }

  pb::WriteBinlogResp Write(const pb::Binlog& b, grpc::Status* status = nullptr) {
    return WritePayload(b.SerializeAsString(), status);
  }
  pb::WriteBinlogResp WritePayload(const std::string& payload, grpc::Status* status = nullptr) {
    grpc::ClientContext ctx;
    pb::WriteBinlogReq req;
    req.set_payload(payload);
    pb::WriteBinlogResp resp;
    grpc::Status s = stub_->WriteBinlog(&ctx, req, &resp);
    if (status != nullptr) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return resp;
  }

  registry::NodeStatus PumpRecord() {
    auto r = registry_->Get(registry::NodeKind::kPump, "pump-test");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : registry::NodeStatus{};
  }

  nlohmann::json StatusJson() {
    auto res = http_->Get("/status");
    if (!res || res->status != 200) return nullptr;
    return nlohmann::json::parse(res->body);
  }

  binlog::testing::TempDir tmp_;
  std::unique_ptr<registry::Registry> registry_;
  PumpConfig config_;
  double gc_interval_seconds_ = 3600;  // PumpServerOptions::gc_interval_seconds
  std::atomic<bool> self_stopped_{false};
  std::unique_ptr<PumpServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::Pump::Stub> stub_;
  std::unique_ptr<httplib::Client> http_;
  TsoClock tso_;
};

}  // namespace binlog::pump::testing
