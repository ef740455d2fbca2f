// Asking another node's status service who it is, or to pause or close.
#include <fmt/format.h>
#include <httplib.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "server/server.h"

namespace binlog::server {

namespace {

Result<std::unique_ptr<httplib::Client>> ClientFor(const std::string& status_addr,
                                                   int timeout_ms) {
  ASSIGN_OR_RETURN(HostPort hp, SplitHostPort(status_addr));
  if (IsUnspecifiedHost(hp.host)) hp.host = "127.0.0.1";
  auto client = std::make_unique<httplib::Client>(hp.host, hp.port);
  time_t sec = timeout_ms / 1000;
  time_t usec = (timeout_ms % 1000) * 1000;
  client->set_connection_timeout(sec, usec);
  client->set_read_timeout(sec, usec);
  client->set_write_timeout(sec, usec);
  return client;
}

}  // namespace

Result<std::string> AskStateChange(const std::string& status_addr, const std::string& node_id,
                                   std::string_view action, int timeout_ms) {
  ASSIGN_OR_RETURN(std::unique_ptr<httplib::Client> client, ClientFor(status_addr, timeout_ms));
  httplib::Result res = client->Put(fmt::format("/state/{}/{}", node_id, action));
  if (!res) {
    return Status::IOError(
        fmt::format("{} does not answer: {}", status_addr, httplib::to_string(res.error())));
  }
  auto body = nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  auto text = [&](const char* key) {
    return body.is_object() && body.contains(key) && body[key].is_string()
               ? body[key].get<std::string>()
               : std::string();
  };
  if (res->status == 200) return text("state");
  std::string why = text("error");
  if (why.empty()) why = res->body.substr(0, 200);
  std::string msg = fmt::format("{} answered HTTP {}: {}", status_addr, res->status, why);
  return res->status == 409 ? Status::InvalidArgument(msg) : Status::IOError(msg);
}

Result<std::string> AskNodeID(const std::string& status_addr, int timeout_ms) {
  ASSIGN_OR_RETURN(std::unique_ptr<httplib::Client> client, ClientFor(status_addr, timeout_ms));
  httplib::Result res = client->Get("/status");
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
