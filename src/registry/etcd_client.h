// A client of etcd's v3 JSON gateway (etcd >= 3.4 serves the gRPC API as JSON under /v3/...:
// POST /v3/kv/txn and friends, keys and values base64, int64 fields as strings), through
// libcurl. Internal to the registry module: etcd_registry.cc and etcd_cache.cc use it.
//
// Every call has short timeouts, so a dead etcd never hangs a heartbeat; an endpoint that cannot
// be reached passes the call on to the next one. Thread-safe.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace binlog::registry::etcd {

std::string Base64Encode(std::string_view bytes);
Result<std::string> Base64Decode(std::string_view text);
// etcd's range_end for "every key that starts with prefix". REQUIRES: prefix is not all 0xff.
std::string PrefixEnd(std::string_view prefix);
// An int64 field as the gateway writes it (a string) or as a number; 0 when absent.
int64_t JsonInt(const nlohmann::json& j, const char* field);

struct ClientOptions {
  int connect_timeout_ms = 1000;
  // One request on one endpoint; a heartbeat makes two (a lease keepalive and a put).
  int request_timeout_ms = 2500;
};

// Every libcurl handle is held by one of these (CURL and CURLM are both void in curl.h).
struct EasyDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
struct MultiDeleter {
  void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;
using MultiHandle = std::unique_ptr<CURLM, MultiDeleter>;
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

class Stream;

class Client {
 public:
  // urls: "http://h:2379[,https://h2:2379,...]"; InvalidArgument naming the bad one.
  static Result<std::unique_ptr<Client>> Open(std::string_view urls, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // POSTs `body` to `path` ("/v3/kv/txn") and returns etcd's answer (a streamed answer's
  // "result"). It goes to the endpoint that answered last; one that cannot be reached, or says it
  // is unavailable (no leader), passes the call to the next, each endpoint tried once. After a
  // timeout or an unavailable answer the call may have been applied: `idempotent` says whether
  // repeating it on the next endpoint is safe. Errors carry the endpoint and etcd's message:
  // NotFound for gRPC code 5 (a lease that is gone), IOError when no endpoint answered.
  Result<nlohmann::json> Call(std::string_view path, const nlohmann::json& body,
                              bool idempotent = true);

  const std::vector<std::string>& endpoints() const { return endpoints_; }
  std::string Describe() const;  // "etcd http://a:2379,http://b:2379"

 private:
  friend class Stream;
  enum class Outcome { kAnswered, kUnreachable, kUncertain };
  Client(std::vector<std::string> endpoints, ClientOptions options);
  Outcome Post(CURL* easy, const std::string& url, const std::string& body, long* http,
               std::string* answer, std::string* error) const;
  EasyHandle TakeHandle();
  void ReturnHandle(EasyHandle handle);

  const std::vector<std::string> endpoints_;
  const ClientOptions options_;
  HeaderList headers_;
  std::atomic<size_t> preferred_{0};
  std::mutex pool_mu_;
  std::vector<EasyHandle> pool_;  // idle handles, each with its kept-alive connection
};

// One long-lived streamed call at a time (a /v3/watch); Cancel from any thread ends it at once.
class Stream {
 public:
  explicit Stream(Client* client);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // POSTs `body` (one or more JSON objects) to `path` and hands every message of the answer to
  // `on_message` until it returns false (OK), the stream breaks or ends (IOError), or Cancel
  // (Aborted). Blocks; tries the endpoints like Client::Call until one answers.
  Status Run(std::string_view path, const std::string& body,
             const std::function<bool(const nlohmann::json&)>& on_message);
  // Ends a running Run, and every later one at once.
  void Cancel();
  bool cancelled() const { return cancelled_.load(); }

 private:
  Status RunOn(size_t endpoint, const std::string& url, const std::string& body,
               const std::function<bool(const nlohmann::json&)>& on_message, bool* reached);

  Client* client_;
  MultiHandle multi_;  // woken by Cancel
  std::atomic<bool> cancelled_{false};
};

}  // namespace binlog::registry::etcd
