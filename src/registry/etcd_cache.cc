#include "registry/etcd_cache.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "common/logging.h"
#include "common/thread_name.h"

namespace binlog::registry::etcd {

namespace {

// Waits between attempts while etcd is away; the first retry is quick (a member restarted).
constexpr double kFirstBackoffSeconds = 0.2;
constexpr double kMaxBackoffSeconds = 2;

nlohmann::json RangeOf(const std::string& prefix) {
  return {{"key", Base64Encode(prefix)}, {"range_end", Base64Encode(PrefixEnd(prefix))}};
}

}  // namespace

WatchCache::WatchCache(Client* client, std::vector<std::string> prefixes)
    : client_(client), prefixes_(std::move(prefixes)), stream_(client) {}

WatchCache::~WatchCache() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  stream_.Cancel();
  if (thread_.joinable()) thread_.join();
}

void WatchCache::Start() {
  std::lock_guard<std::mutex> g(mu_);
  if (started_ || stopping_) return;
  started_ = true;
  thread_ = std::thread([this] {
    NameThisThread("registry-watch");
    Loop();
  });
}

bool WatchCache::Read(const std::function<void(const Map&)>& read) const {
  std::lock_guard<std::mutex> g(mu_);
  if (!established_) return false;
  read(map_);
  return true;
}

bool WatchCache::WaitEstablished(int timeout_ms) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return established_; });
}

void WatchCache::Note(const std::string& key, int64_t revision, const std::string* value) {
  std::lock_guard<std::mutex> g(mu_);
  Apply(key, revision, value);
}

void WatchCache::Apply(const std::string& key, int64_t revision, const std::string* value) {
  auto it = map_.find(key);
  if (it != map_.end() && it->second.mod_revision > revision) return;  // already newer
  Entry& e = map_[key];
  e.mod_revision = revision;
  e.deleted = value == nullptr;
  e.value = value != nullptr ? *value : std::string();
}

void WatchCache::Loop() {
  double backoff = kFirstBackoffSeconds;
  for (;;) {
    Status s;
    try {
      s = Sync();
    } catch (const nlohmann::json::exception& e) {  // an answer of an unexpected shape
      s = Status::Corruption(fmt::format("etcd answered the watch with unexpected JSON: {}",
                                         e.what()));
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (established_) backoff = kFirstBackoffSeconds;
    established_ = false;
    if (stopping_) return;
    if (!warned_) {
      // Once an outage: reads go to etcd directly meanwhile, and say themselves when they fail.
      LOG_WARN("the registry's watch on etcd is down: reading etcd directly until it is back",
               KV("registry", client_->Describe()), KV("error", s));
      warned_ = true;
    }
    cv_.wait_for(lock, std::chrono::duration<double>(backoff), [&] { return stopping_; });
    if (stopping_) return;
    backoff = std::min(backoff * 2, kMaxBackoffSeconds);
  }
}

// Every key under the prefixes at one revision, which becomes the cache; returns the revision.
Result<int64_t> WatchCache::List() {
  nlohmann::json txn = {{"success", nlohmann::json::array()}};
  for (const std::string& p : prefixes_) txn["success"].push_back({{"request_range", RangeOf(p)}});
  ASSIGN_OR_RETURN(nlohmann::json answer, client_->Call("/v3/kv/txn", txn));
  const int64_t revision = JsonInt(answer["header"], "revision");
  Map fresh;
  for (const nlohmann::json& r : answer.value("responses", nlohmann::json::array())) {
    for (const nlohmann::json& kv : r["response_range"].value("kvs", nlohmann::json::array())) {
      ASSIGN_OR_RETURN(std::string key, Base64Decode(kv.value("key", "")));
      ASSIGN_OR_RETURN(std::string value, Base64Decode(kv.value("value", "")));
      fresh[key] = Entry{std::move(value), JsonInt(kv, "mod_revision"), false};
    }
  }
  std::lock_guard<std::mutex> g(mu_);
  for (auto& [key, e] : map_) {
    if (e.mod_revision > revision) fresh[key] = e;  // noted by this process during the listing
  }
  map_ = std::move(fresh);
  return revision;
}

Status WatchCache::Sync() {
  ASSIGN_OR_RETURN(int64_t revision, List());
  std::string body;
  for (const std::string& p : prefixes_) {
    nlohmann::json create = RangeOf(p);
    create["start_revision"] = std::to_string(revision + 1);
    body += nlohmann::json{{"create_request", create}}.dump() + "\n";
  }
  size_t created = 0;
  std::string failure;
  Status s = stream_.Run("/v3/watch", body, [&](const nlohmann::json& message) {
    return OnMessage(message, &created, &failure);
  });
  if (!failure.empty()) return Status::IOError(failure);
  return s;
}

// One message of the watch stream; false ends it.
bool WatchCache::OnMessage(const nlohmann::json& message, size_t* created, std::string* failure) {
  if (message.value("canceled", false)) {
    *failure =
        fmt::format("etcd cancelled the watch (compacted at revision {}): {}",
                    JsonInt(message, "compact_revision"), message.value("cancel_reason", ""));
    return false;
  }
  std::lock_guard<std::mutex> g(mu_);
  if (message.value("created", false) && ++*created == prefixes_.size()) {
    established_ = true;
    cv_.notify_all();
    if (warned_)
      LOG_INFO("the registry's watch on etcd is back", KV("registry", client_->Describe()));
    warned_ = false;
  }
  for (const nlohmann::json& ev : message.value("events", nlohmann::json::array())) {
    const nlohmann::json& kv = ev["kv"];
    Result<std::string> key = Base64Decode(kv.value("key", ""));
    Result<std::string> value = Base64Decode(kv.value("value", ""));
    if (!key.ok() || !value.ok()) {
      *failure = "etcd sent an event that is not base64";
      return false;
    }
    const bool deleted = ev.value("type", "PUT") == "DELETE";
    Apply(*key, JsonInt(kv, "mod_revision"), deleted ? nullptr : &*value);
  }
  return true;
}

}  // namespace binlog::registry::etcd
