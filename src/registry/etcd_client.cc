#include "registry/etcd_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace binlog::registry::etcd {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// libcurl's global state is set up once per process, before the first handle; since 7.84 this
// is thread-safe, and curl_easy_init would do it implicitly anyway.
void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t AppendToString(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// gRPC codes the gateway reports in {"error", "code", "message"}.
constexpr int kGrpcInvalidArgument = 3;
constexpr int kGrpcNotFound = 5;
constexpr int kGrpcFailedPrecondition = 9;
constexpr int kGrpcUnavailable = 14;

// etcd's answer: its JSON, or a Status carrying etcd's message. *grpc_code is set for errors
// etcd itself reported (0 otherwise).
Result<nlohmann::json> ParseAnswer(const std::string& url, long http, const std::string& text,
                                   int* grpc_code) {
  *grpc_code = 0;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("error")) {
    *grpc_code = static_cast<int>(JsonInt(j, "code"));
    auto message = j.find("message");
    std::string msg = fmt::format(
        "{}: {}", url,
        message != j.end() && message->is_string() ? message->get<std::string>() : j["error"].dump());
    switch (*grpc_code) {
      case kGrpcNotFound:
        return Status::NotFound(msg);
      case kGrpcInvalidArgument:
        return Status::InvalidArgument(msg);
      case kGrpcFailedPrecondition:
        return Status::Aborted(msg);
      default:
        return Status::IOError(msg);
    }
  }
  if (http != 200 || !j.is_object()) {
    return Status::IOError(fmt::format(
        "{} answered HTTP {} ({}): not etcd's v3 JSON gateway (etcd 3.4 or later serves it)", url,
        http, text.substr(0, 200)));
  }
  if (j.contains("result")) return std::move(j["result"]);
  return j;
}

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(v >> shift) & 63];
  }
  if (i + 1 == bytes.size()) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    const char* p = std::strchr(kAlphabet, c);
    if (c == '\0' || p == nullptr) {
      return Status::Corruption(fmt::format("etcd sent bad base64 \"{}\"", text.substr(0, 64)));
    }
    acc = (acc << 6) | static_cast<uint32_t>(p - kAlphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<uint8_t>(end.back()) == 0xff) end.pop_back();
  if (!end.empty()) end.back() = static_cast<char>(end.back() + 1);
  return end;
}

int64_t JsonInt(const nlohmann::json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (!it->is_string()) return 0;
  const std::string& s = it->get_ref<const std::string&>();
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

Result<std::unique_ptr<Client>> Client::Open(std::string_view urls, ClientOptions options) {
  std::vector<std::string> endpoints;
  size_t start = 0;
  while (start <= urls.size()) {
    size_t comma = std::min(urls.find(',', start), urls.size());
    std::string url(urls.substr(start, comma - start));
    url.erase(0, url.find_first_not_of(" \t"));
    url.erase(url.find_last_not_of(" \t/") + 1);
    bool http = url.rfind("http://", 0) == 0 && url.size() > 7;
    bool https = url.rfind("https://", 0) == 0 && url.size() > 8;
    if (!http && !https) {
      return Status::InvalidArgument(
          fmt::format("\"{}\" is not an etcd endpoint: expected http://host:port or "
                      "https://host:port, several separated by commas",
                      url));
    }
    endpoints.push_back(std::move(url));
    start = comma + 1;
  }
  InitCurlOnce();
  return std::unique_ptr<Client>(new Client(std::move(endpoints), options));
}

Client::Client(std::vector<std::string> endpoints, ClientOptions options)
    : endpoints_(std::move(endpoints)), options_(options) {
  curl_slist* list = curl_slist_append(nullptr, "Content-Type: application/json");
  // curl would otherwise wait for "100 Continue" before sending a body over 1 KiB.
  if (list != nullptr) list = curl_slist_append(list, "Expect:");
  headers_.reset(list);
}

Client::~Client() = default;

std::string Client::Describe() const { return fmt::format("etcd {}", fmt::join(endpoints_, ",")); }

EasyHandle Client::TakeHandle() {
  {
    std::lock_guard<std::mutex> g(pool_mu_);
    if (!pool_.empty()) {
      EasyHandle h = std::move(pool_.back());
      pool_.pop_back();
      return h;
    }
  }
  return EasyHandle(curl_easy_init());
}

void Client::ReturnHandle(EasyHandle handle) {
  constexpr size_t kMaxIdle = 8;
  std::lock_guard<std::mutex> g(pool_mu_);
  if (pool_.size() < kMaxIdle) pool_.push_back(std::move(handle));
}

Client::Outcome Client::Post(CURL* easy, const std::string& url, const std::string& body,
                             long* http, std::string* answer, std::string* error) const {
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_easy_reset(easy);  // options only: the handle keeps its connection
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers_.get());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM, from any thread
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_ms));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout_ms));
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, AppendToString);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, answer);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
  CURLcode rc = curl_easy_perform(easy);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, http);
    return Outcome::kAnswered;
  }
  *error = fmt::format("{}: {}", url, errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SSL_CONNECT_ERROR:
      return Outcome::kUnreachable;  // the request never left
    default:
      return Outcome::kUncertain;
  }
}

Result<nlohmann::json> Client::Call(std::string_view path, const nlohmann::json& body,
                                    bool idempotent) {
  const std::string payload = body.dump();
  const size_t first = preferred_.load();
  std::vector<std::string> errors;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const size_t e = (first + i) % endpoints_.size();
    const std::string url = endpoints_[e] + std::string(path);
    EasyHandle easy = TakeHandle();
    if (!easy) return Status::IOError("libcurl cannot create a handle");
    long http = 0;
    std::string answer, error;
    Outcome outcome = Post(easy.get(), url, payload, &http, &answer, &error);
    ReturnHandle(std::move(easy));
    if (outcome == Outcome::kAnswered) {
      int grpc_code = 0;
      Result<nlohmann::json> r = ParseAnswer(url, http, answer, &grpc_code);
      if (r.ok() || grpc_code != kGrpcUnavailable || !idempotent) {
        if (grpc_code != kGrpcUnavailable) preferred_ = e;
        return r;
      }
      error = r.status().message();
    } else if (outcome == Outcome::kUncertain && !idempotent) {
      return Status::IOError(error + " (the change may or may not have been made)");
    }
    errors.push_back(std::move(error));
  }
  return Status::IOError(fmt::format("no etcd endpoint answered: {}", fmt::join(errors, "; ")));
}

Stream::Stream(Client* client) : client_(client), multi_(curl_multi_init()) {}

Stream::~Stream() = default;

void Stream::Cancel() {
  cancelled_ = true;
  if (multi_) curl_multi_wakeup(multi_.get());
}

Status Stream::Run(std::string_view path, const std::string& body,
                   const std::function<bool(const nlohmann::json&)>& on_message) {
  if (!multi_) return Status::IOError("libcurl cannot create a multi handle");
  const size_t n = client_->endpoints_.size();
  const size_t first = client_->preferred_.load();
  std::vector<std::string> errors;
  for (size_t i = 0; i < n && !cancelled_; ++i) {
    const size_t e = (first + i) % n;
    bool reached = false;
    Status s = RunOn(e, client_->endpoints_[e] + std::string(path), body, on_message, &reached);
    if (reached) return s;
    errors.push_back(s.message());
  }
  if (cancelled_) return Status::Aborted("the stream was cancelled");
  return Status::IOError(fmt::format("no etcd endpoint answered: {}", fmt::join(errors, "; ")));
}

namespace {

// What a stream's write callback keeps between calls.
struct StreamSink {
  CURL* easy = nullptr;
  const std::function<bool(const nlohmann::json&)>* on_message = nullptr;
  std::string pending;  // a message not yet complete
  std::string failure;  // an error message from etcd or an unreadable line
  std::string refused;  // the body of an answer other than 200
  bool stopped = false;
};

// The gateway writes each message as one line of JSON.
size_t OnStreamData(char* data, size_t size, size_t n, void* arg) {
  auto* sink = static_cast<StreamSink*>(arg);
  long http = 0;
  curl_easy_getinfo(sink->easy, CURLINFO_RESPONSE_CODE, &http);
  if (http != 200) {
    sink->refused.append(data, std::min<size_t>(size * n, 400));
    return size * n;
  }
  sink->pending.append(data, size * n);
  size_t eol;
  while ((eol = sink->pending.find('\n')) != std::string::npos) {
    nlohmann::json j = nlohmann::json::parse(std::string_view(sink->pending).substr(0, eol),
                                             nullptr, /*allow_exceptions=*/false);
    sink->pending.erase(0, eol + 1);
    if (!j.is_object() || !j.contains("result")) {
      sink->failure = "an unreadable message: " + j.dump().substr(0, 200);
      return 0;  // ends the transfer
    }
    // Nothing may be thrown through libcurl's C frames: a message of an unexpected shape ends
    // the watch like any other failure.
    try {
      if (!(*sink->on_message)(j["result"])) {
        sink->stopped = true;
        return 0;
      }
    } catch (const nlohmann::json::exception& e) {
      sink->failure = std::string("a message of an unexpected shape: ") + e.what();
      return 0;
    }
  }
  return size * n;
}

}  // namespace

Status Stream::RunOn(size_t endpoint, const std::string& url, const std::string& body,
                     const std::function<bool(const nlohmann::json&)>& on_message, bool* reached) {
  EasyHandle easy(curl_easy_init());
  if (!easy) return Status::IOError("libcurl cannot create a handle");
  StreamSink sink;
  sink.easy = easy.get();
  sink.on_message = &on_message;
  char errbuf[CURL_ERROR_SIZE] = {};
  CURL* h = easy.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, client_->headers_.get());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(client_->options_.connect_timeout_ms));
  // A stream is idle for as long as nothing changes: no overall timeout, but TCP keepalives find
  // a peer that vanished without closing the connection.
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 5L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 2L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnStreamData);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);

  CURLM* multi = multi_.get();
  if (curl_multi_add_handle(multi, h) != CURLM_OK) {
    return Status::IOError("libcurl cannot start a stream");
  }
  CURLcode result = CURLE_OK;
  for (;;) {
    int running = 0;
    if (curl_multi_perform(multi, &running) != CURLM_OK) break;
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg == CURLMSG_DONE) result = msg->data.result;
    }
    if (running == 0 || cancelled_) break;
    curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  }
  long http = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http);
  curl_multi_remove_handle(multi, h);
  *reached = http != 0;
  if (*reached) client_->preferred_ = endpoint;
  if (cancelled_) return Status::Aborted("the stream was cancelled");
  if (sink.stopped) return Status::OK();
  if (!*reached) {
    return Status::IOError(
        fmt::format("{}: {}", url, errbuf[0] != '\0' ? errbuf : curl_easy_strerror(result)));
  }
  if (http != 200) {
    return Status::IOError(fmt::format("{} answered HTTP {}: {}", url, http, sink.refused));
  }
  if (!sink.failure.empty()) return Status::IOError(fmt::format("{}: {}", url, sink.failure));
  return Status::IOError(fmt::format("the stream from {} ended: {}", url,
                                     errbuf[0] != '\0'    ? errbuf
                                     : result == CURLE_OK ? "closed by etcd"
                                                          : curl_easy_strerror(result)));
}

}  // namespace binlog::registry::etcd
