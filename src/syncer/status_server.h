// A small HTTP status service (cpp-httplib): GET /status (JSON) and GET /metrics (Prometheus
// text), each answered by a callback.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/status.h"

namespace httplib {
class Server;
}

namespace binlog::syncer {

class StatusServer {
 public:
  StatusServer();
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // Listens on addr ("host:port", ":port" for every interface, port 0 for any free one).
  Status Start(const std::string& addr, std::function<std::string()> status_json,
               std::function<std::string()> metrics_text);
  void Stop();
  // The bound address, with 127.0.0.1 for "every interface".
  const std::string& addr() const { return addr_; }

 private:
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  std::string addr_;
};

}  // namespace binlog::syncer
