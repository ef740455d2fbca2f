#include "testutil/etcd_server.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "registry/etcd_client.h"

namespace binlog::testing {

namespace {

constexpr const char* kEtcd = "/usr/bin/etcd";

std::string Loopback(int port) { return fmt::format("http://127.0.0.1:{}", port); }

}  // namespace

Result<std::unique_ptr<EtcdCluster>> EtcdCluster::Start(int members) {
  if (access(kEtcd, X_OK) != 0) {
    return Status::NotFound(
        fmt::format("{} is missing: scripts/setup.sh installs Debian's etcd-server", kEtcd));
  }
  std::unique_ptr<EtcdCluster> c(new EtcdCluster());
  c->token_ = fmt::format("binlog-test-{}-{}", getpid(), reinterpret_cast<uintptr_t>(c.get()));
  for (int i = 0; i < members; ++i) {
    Member m;
    m.name = fmt::format("m{}", i);
    ASSIGN_OR_RETURN(m.client_port, FreeLoopbackPort());
    do {
      ASSIGN_OR_RETURN(m.peer_port, FreeLoopbackPort());
    } while (m.peer_port == m.client_port);
    c->members_.push_back(m);
  }
  for (int i = 0; i < members; ++i) RETURN_IF_ERROR(c->Launch(i, /*initial=*/true));
  for (int i = 0; i < members; ++i) RETURN_IF_ERROR(c->WaitAnswers(i));
  return c;
}

EtcdCluster::~EtcdCluster() {
  for (int i = 0; i < size(); ++i) {
    if (running(i)) Kill(i).IgnoreError();
  }
}

std::string EtcdCluster::url(int member) const { return Loopback(members_[member].client_port); }

std::string EtcdCluster::urls() const {
  std::string out;
  for (int i = 0; i < size(); ++i) out += (i ? "," : "") + url(i);
  return out;
}

Status EtcdCluster::Launch(int member, bool initial) {
  Member& m = members_[member];
  std::string cluster;
  for (const Member& o : members_) {
    cluster += fmt::format("{}{}={}", cluster.empty() ? "" : ",", o.name, Loopback(o.peer_port));
  }
  std::vector<std::string> args = {
      kEtcd,
      "--name=" + m.name,
      "--data-dir=" + dir_.Sub(m.name),
      "--listen-client-urls=" + Loopback(m.client_port),
      "--advertise-client-urls=" + Loopback(m.client_port),
      "--listen-peer-urls=" + Loopback(m.peer_port),
      "--initial-advertise-peer-urls=" + Loopback(m.peer_port),
      "--initial-cluster=" + cluster,
      "--initial-cluster-token=" + token_,
      std::string("--initial-cluster-state=") + (initial ? "new" : "existing"),
      "--heartbeat-interval=50",
      "--election-timeout=500",
      "--logger=zap",
      "--log-level=warn",
  };
  m.pid = SpawnLogged(args, dir_.Sub(m.name + ".log"), /*append=*/true);
  if (m.pid < 0) return Status::FromErrno(errno, "fork etcd");
  return Status::OK();
}

// A member answers once it serves a linearizable read: it has joined and there is a leader.
Status EtcdCluster::WaitAnswers(int member) const {
  ASSIGN_OR_RETURN(auto client, registry::etcd::Client::Open(url(member)));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  Status last;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(members_[member].pid, &status, WNOHANG) == members_[member].pid) {
      return Status::IOError(
          fmt::format("etcd {} exited at start: {}", members_[member].name, LogTail(member)));
    }
    Result<nlohmann::json> r = client->Call("/v3/kv/range", {{"key", "aGVhbHRo"}});
    if (r.ok()) return Status::OK();
    last = r.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Status::TimedOut(fmt::format("etcd {} did not answer in 30 s: {}; log: {}",
                                      members_[member].name, last.ToString(), LogTail(member)));
}

Status EtcdCluster::Kill(int member) {
  Member& m = members_[member];
  if (m.pid <= 0) return Status::OK();
  kill(m.pid, SIGKILL);
  int status = 0;
  waitpid(m.pid, &status, 0);
  m.pid = -1;
  return Status::OK();
}

Status EtcdCluster::Stop(int member) {
  Member& m = members_[member];
  if (m.pid <= 0) return Status::OK();
  kill(m.pid, SIGTERM);
  int status = 0;
  if (waitpid(m.pid, &status, 0) < 0) return Status::FromErrno(errno, "waitpid etcd");
  m.pid = -1;
  return Status::OK();
}

Status EtcdCluster::Restart(int member) {
  if (running(member)) return Status::InvalidArgument("etcd member is running");
  RETURN_IF_ERROR(Launch(member, /*initial=*/false));
  return WaitAnswers(member);
}

Result<std::optional<std::string>> EtcdCluster::GetKey(const std::string& key) const {
  ASSIGN_OR_RETURN(auto client, registry::etcd::Client::Open(urls()));
  ASSIGN_OR_RETURN(nlohmann::json answer,
                   client->Call("/v3/kv/range", {{"key", registry::etcd::Base64Encode(key)}}));
  const nlohmann::json kvs = answer.value("kvs", nlohmann::json::array());
  if (kvs.empty()) return std::optional<std::string>();
  ASSIGN_OR_RETURN(std::string value, registry::etcd::Base64Decode(kvs[0].value("value", "")));
  return std::optional<std::string>(std::move(value));
}

std::string EtcdCluster::LogTail(int member) const {
  std::ifstream in(dir_.Sub(members_[member].name + ".log"));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
}

}  // namespace binlog::testing
