// The status service on cpp-httplib, with its defaults changed where they hurt a daemon:
// SO_REUSEPORT (a second process could listen on the same port), a fixed pool of 8 workers held
// by idle connections for 5 s each, and request bodies read before routing (a PUT without one
// waited for the read timeout).
#include <fmt/format.h>
#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <nlohmann/json.hpp>

#include "common/thread_name.h"
#include "server/server.h"

namespace binlog::server {

namespace {

constexpr auto kListenTimeout = std::chrono::seconds(5);
// A client gets this long for each read and write; an idle keep-alive connection is closed after
// kKeepAliveSeconds. A scraper every few seconds keeps its connection; a stuck one is let go.
constexpr time_t kReadTimeoutSeconds = 2;
constexpr time_t kKeepAliveSeconds = 2;
// Connections served at once. Each holds a worker for at most the timeouts above, so this many
// stuck clients are needed to delay an answer by one timeout.
constexpr size_t kMaxWorkers = 64;

// Workers started on demand up to kMaxWorkers and kept once started; a connection that finds
// them all busy waits in the queue.
class ElasticPool : public httplib::TaskQueue {
 public:
  explicit ElasticPool(std::string name) : name_(std::move(name)) {}
  ~ElasticPool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    std::lock_guard<std::mutex> g(mu_);
    jobs_.push_back(std::move(fn));
    if (idle_ < jobs_.size() && threads_.size() < kMaxWorkers) {
      threads_.emplace_back([this] { Work(); });
    }
    cv_.notify_one();
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> g(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
    threads_.clear();
  }

 private:
  void Work() {
    NameThisThread(name_);
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      ++idle_;
      cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      --idle_;
      if (jobs_.empty()) return;  // stopping, nothing left
      std::function<void()> fn = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
  }

  const std::string name_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;  // guarded by mu_ for growth; joined by shutdown
  size_t idle_ = 0;
  bool stopping_ = false;
};

// cpp-httplib listens with a backlog of 5, fixed when it was built: a burst of connections (a
// few scrapers and some idle clients) fills it, and the next connection's SYN is dropped and
// retried a second later. listen() again on the bound socket raises it.
class Listener : public httplib::Server {
 public:
  void RaiseBacklog() { ::listen(svr_sock_, SOMAXCONN); }
};

bool HasBody(const httplib::Request& req) {
  if (req.has_header("Transfer-Encoding")) return true;
  return req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0";
}

// httplib answers these itself, before any handler sees the request.
const char* Reason(int status) {
  switch (status) {
    case 400:
      return "bad request";
    case 413:
      return "request too large";
    case 414:
      return "request path too long";
    case 416:
      return "bad range";
    default:
      return "the request cannot be served";
  }
}

void Fill(const HttpServer::Response& from, httplib::Response& to) {
  to.status = from.status;
  to.set_content(from.body, from.content_type.c_str());
}

}  // namespace

HttpServer::HttpServer() = default;

HttpServer::~HttpServer() { Stop(); }

std::string HttpServer::ErrorBody(std::string_view message) {
  return nlohmann::json{{"error", message}}.dump() + "\n";
}

void HttpServer::Route(std::string method, std::string path, std::string shown, Handler handler) {
  routes_.push_back(
      Entry{std::move(method), std::move(path), std::move(shown), std::move(handler)});
}

void HttpServer::Dispatch(const Request& req, Response* res) const {
  std::string method = req.method == "HEAD" ? "GET" : req.method;
  std::vector<std::string> listed, allowed;
  for (const Entry& e : routes_) {
    listed.push_back(e.shown);
    bool prefix = !e.path.empty() && e.path.back() == '/';
    bool match = prefix ? req.path.compare(0, e.path.size(), e.path) == 0 : req.path == e.path;
    if (!match) continue;
    if (e.method == method) {
      e.handler(req, res);
      return;
    }
    allowed.push_back(e.method);
  }
  nlohmann::json body;
  if (allowed.empty()) {
    res->status = 404;
    body["error"] = fmt::format("no route {} {}", req.method, req.path);
  } else {
    res->status = 405;
    body["error"] = fmt::format("{} is not allowed on {}: use {}", req.method, req.path,
                                fmt::join(allowed, " or "));
  }
  body["routes"] = listed;
  res->body = body.dump() + "\n";
  res->content_type = "application/json";
}

Status HttpServer::Start(const std::string& addr, std::string_view what,
                         const std::string& thread_name) {
  RETURN_IF_ERROR(CheckListenAddr(addr, what));
  ASSIGN_OR_RETURN(HostPort hp, SplitHostPort(addr));
  http_ = std::make_unique<Listener>();
  http_->new_task_queue = [thread_name] { return new ElasticPool(thread_name); };
  http_->set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  http_->set_read_timeout(kReadTimeoutSeconds, 0);
  http_->set_write_timeout(kReadTimeoutSeconds, 0);
  http_->set_keep_alive_timeout(kKeepAliveSeconds);
  auto to_request = [](const httplib::Request& r) {
    return Request{r.method, r.path, r.remote_addr};
  };
  // Every route is answered here, before httplib would read a body. A request that declares a
  // body is left to httplib, which reads it, finds no route of its own and calls the error
  // handler below, which dispatches it the same way.
  http_->set_pre_routing_handler(
      [this, to_request](const httplib::Request& req, httplib::Response& res) {
        if (HasBody(req)) return httplib::Server::HandlerResponse::Unhandled;
        Response out;
        Dispatch(to_request(req), &out);
        Fill(out, res);
        return httplib::Server::HandlerResponse::Handled;
      });
  http_->set_error_handler(httplib::Server::HandlerWithResponse(
      [this, to_request](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // ours already
        Response out;
        if (res.status == 404) {
          Dispatch(to_request(req), &out);
        } else {
          out.status = res.status;
          out.body = ErrorBody(fmt::format("HTTP {}: {}", res.status, Reason(res.status)));
        }
        Fill(out, res);
        return httplib::Server::HandlerResponse::Handled;
      }));
  http_->set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        res.status = 500;
        res.set_content(ErrorBody(what), "application/json");
      });

  std::string host = hp.host.empty() ? "0.0.0.0" : hp.host;
  int port = hp.port == 0 ? http_->bind_to_any_port(host)
                          : (http_->bind_to_port(host, hp.port) ? hp.port : -1);
  if (port <= 0) {
    // Taken between the check and the bind.
    return CheckListenAddr(addr, what).ok()
               ? Status::IOError(fmt::format("cannot listen on {} {}", what, addr))
               : CheckListenAddr(addr, what);
  }
  static_cast<Listener*>(http_.get())->RaiseBacklog();
  addr_ = JoinHostPort(IsUnspecifiedHost(host) ? "127.0.0.1" : host, port);
  thread_ = std::thread([this, thread_name] {
    NameThisThread(thread_name);
    http_->listen_after_bind();
  });
  // stop() is a no-op until the loop runs, so a Stop that came first would leave it running.
  auto deadline = std::chrono::steady_clock::now() + kListenTimeout;
  while (!http_->is_running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::TimedOut(fmt::format("the HTTP service on {} did not start", addr_));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return Status::OK();
}

void HttpServer::Stop() {
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
}

void MetricsText::Family(std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(text_), "# HELP {0} {1}\n# TYPE {0} {2}\n", name, help, type);
}

void MetricsText::Sample(std::string_view name, std::string_view type, std::string_view help,
                         const std::string& value) {
  Family(name, type, help);
  fmt::format_to(std::back_inserter(text_), "{} {}\n", name, value);
}

}  // namespace binlog::server
