// Asking another node's status service who it is.
#include <fmt/format.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "server/server.h"

namespace binlog::server {

Result<std::string> AskNodeID(const std::string& status_addr, int timeout_ms) {
  ASSIGN_OR_RETURN(HostPort hp, SplitHostPort(status_addr));
  if (IsUnspecifiedHost(hp.host)) hp.host = "127.0.0.1";
  httplib::Client client(hp.host, hp.port);
  time_t sec = timeout_ms / 1000;
  time_t usec = (timeout_ms % 1000) * 1000;
  client.set_connection_timeout(sec, usec);
  client.set_read_timeout(sec, usec);
  client.set_write_timeout(sec, usec);
  httplib::Result res = client.Get("/status");
  if (!res) {
    return Status::IOError(
        fmt::format("{} does not answer: {}", status_addr, httplib::to_string(res.error())));
  }
  auto body = nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (res->status != 200 || !body.is_object() || !body.contains("node-id") ||
      !body["node-id"].is_string()) {
    return Status::InvalidArgument(
        fmt::format("{} answers HTTP {} without a node id", status_addr, res->status));
  }
  return body["node-id"].get<std::string>();
}

}  // namespace binlog::server
