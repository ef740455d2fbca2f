// What every daemon (pump, syncer) needs around its own work: host:port parsing, a check of
// a listen address that says in plain words why it cannot be used, the HTTP status service and
// Prometheus text.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"

namespace httplib {
class Server;
}

namespace binlog::server {

struct HostPort {
  std::string host;  // without IPv6 brackets; "" stays "" (every interface)
  int port = 0;
};
// "host:port", "[v6]:port" or ":port". Error text says what was expected.
Result<HostPort> SplitHostPort(std::string_view addr);
// Joins them back, bracketing an IPv6 host.
std::string JoinHostPort(const std::string& host, int port);
// "", "0.0.0.0" or "::": listens everywhere, and nobody can connect to it.
bool IsUnspecifiedHost(const std::string& host);

// Tries to bind `addr` the way a listener would (a port 0 always binds) and says why it cannot:
// the host does not resolve, is not an address of this host, the port is in use by another
// process, or needs privileges. `what` names the setting in the message ("addr",
// "status-addr"). The socket is closed again at once.
Status CheckListenAddr(const std::string& addr, std::string_view what);

// Asks the status service at `status_addr` (GET /status) which node it is: its "node-id", or an
// error when nothing answers within `timeout_ms` or the answer is not a node's status. Tells a
// live node from a registry record that a dead one left behind.
Result<std::string> AskNodeID(const std::string& status_addr, int timeout_ms);
// Asks the node at `status_addr` to "pause" or "close" (PUT /state/<node-id>/<action>) and
// returns the state it answers with ("pausing", "closing"). IOError when nothing answers within
// `timeout_ms`; InvalidArgument (with the node's reason) when it refuses, e.g. not online.
Result<std::string> AskStateChange(const std::string& status_addr, const std::string& node_id,
                                   std::string_view action, int timeout_ms);

// The status service. Routes are registered before Start and never read a request body, so a
// client that sends none (curl -X PUT) is answered at once. An unknown path is a 404 and a
// known path with another method a 405, each with a JSON body that lists the routes. Idle or
// stalled connections cannot hold the others up: reads time out after a few seconds and
// workers are added on demand. Two processes cannot share the port (no SO_REUSEPORT).
class HttpServer {
 public:
  struct Request {
    std::string method;
    std::string path;
    std::string remote;  // the peer's address
  };
  struct Response {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
  };
  using Handler = std::function<void(const Request&, Response*)>;

  HttpServer();
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // `path` is exact, or a prefix when it ends in '/'; `shown` is how the route is listed in
  // 404/405 answers ("PUT /state/<node-id>/{pause|close}").
  void Route(std::string method, std::string path, std::string shown, Handler handler);

  // Binds addr ("host:port", ":port", port 0 for any free one) and serves from a thread named
  // thread_name. `what` names the setting in errors ("status-addr").
  Status Start(const std::string& addr, std::string_view what, const std::string& thread_name);
  void Stop();
  // The bound address, 127.0.0.1 standing for "every interface".
  const std::string& addr() const { return addr_; }

  // A JSON error body: {"error": message}.
  static std::string ErrorBody(std::string_view message);

 private:
  struct Entry {
    std::string method, path, shown;
    Handler handler;
  };
  void Dispatch(const Request& req, Response* res) const;

  std::vector<Entry> routes_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  std::string addr_;
};

// Prometheus text exposition, one family at a time.
class MetricsText {
 public:
  // Integers are printed exactly (a TSO does not fit a double), floating point as is.
  template <typename T>
  void Counter(std::string_view name, std::string_view help, T value) {
    Sample(name, "counter", help, fmt::format("{}", value));
  }
  template <typename T>
  void Gauge(std::string_view name, std::string_view help, T value) {
    Sample(name, "gauge", help, fmt::format("{}", value));
  }
  // The HELP and TYPE lines of a family whose samples the caller appends itself (labels,
  // histograms).
  void Family(std::string_view name, std::string_view type, std::string_view help);
  std::string* out() { return &text_; }
  std::string Take() { return std::move(text_); }

 private:
  void Sample(std::string_view name, std::string_view type, std::string_view help,
              const std::string& value);
  std::string text_;
};

}  // namespace binlog::server
