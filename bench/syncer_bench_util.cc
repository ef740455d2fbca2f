#include "syncer_bench_util.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "bench_util.h"
#include "syncer/event.h"
#include "syncer/meta.h"
#include "syncer/upstream.h"

namespace binlog::bench {

using syncer::BinlogPosition;
using testing::MariaDBServer;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

namespace {

double CpuSecondsWho(int who) {
  rusage u{};
  getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

double ChildrenCpuSeconds() { return CpuSecondsWho(RUSAGE_CHILDREN); }

double CpuSecondsOf(pid_t pid) {
  std::FILE* f = std::fopen(fmt::format("/proc/{}/stat", pid).c_str(), "r");
  if (f == nullptr) return 0;
  char buf[1024];
  size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // Fields 14 and 15 (utime, stime, in clock ticks) follow the ")" that ends the command name.
  const char* p = std::strrchr(buf, ')');
  unsigned long utime = 0, stime = 0;
  if (p == nullptr || std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                                  &utime, &stime) != 2) {
    return 0;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

void SbRows::Append(std::string_view prefix, std::string* sql) {
  sql->append(prefix);
  sql->append(std::to_string(Next() % 1000000));
  sql->append(", '");
  Digits(10, sql);
  sql->append("', '");
  Digits(5, sql);
  sql->append("')");
}

uint64_t SbRows::Next() {
  state_ ^= state_ << 13;
  state_ ^= state_ >> 7;
  state_ ^= state_ << 17;
  return state_;
}

void SbRows::Digits(int groups, std::string* sql) {
  for (int g = 0; g < groups; ++g) {
    if (g > 0) sql->push_back('-');
    uint64_t r = Next();
    for (int i = 0; i < 11; ++i, r /= 10) sql->push_back(static_cast<char>('0' + r % 10));
  }
}

BinlogPosition EndOfBinlog(MariaDBServer* server) {
  auto rows = Check(server->Query("SHOW MASTER STATUS"), "SHOW MASTER STATUS");
  if (rows.empty() || !rows[0][0] || !rows[0][1]) Check(Status::IOError("no binlog"), "binlog");
  return BinlogPosition{*rows[0][0], std::stoull(*rows[0][1]), ""};
}

BinlogPosition StartOfBinlog(MariaDBServer* server) {
  auto rows = Check(server->Query("SHOW BINARY LOGS"), "SHOW BINARY LOGS");
  if (rows.empty() || !rows[0][0]) Check(Status::IOError("no binlog"), "binlog");
  return BinlogPosition{*rows[0][0], 4, ""};
}

bool Reached(const BinlogPosition& at, const BinlogPosition& target) {
  std::optional<int> cmp = syncer::ComparePositions(at, target);
  return cmp && *cmp >= 0;
}

SyncerRun::SyncerRun(MariaDBServer* server, const std::string& dir, const BinlogPosition& from,
                     const std::vector<std::string>& pump_addrs) {
  syncer::SyncerConfig c;
  c.from.host = server->host();
  c.from.port = server->port();
  c.from.user = MariaDBServer::kReplUser;
  c.from.password = MariaDBServer::kReplPassword;
  c.flavor = "mariadb";
  c.meta = dir + "/syncer.meta";
  c.to.dir = archive_ = dir + "/archive";
  if (!pump_addrs.empty()) {
    c.to.type = "pump";
    c.to.pump_addrs = pump_addrs;
  }
  c.status_addr = "";
  c.heartbeat_interval_seconds = 1;
  Check(syncer::SaveMeta(Env::Posix(), c.meta, from), "write syncer.meta");
  syncer::SyncerOptions o;
  o.on_durable = [this](const BinlogPosition& p) { OnDurable(p); };
  syncer_ = Check(syncer::Syncer::Open(c, o), "open the syncer");
  start_ = NowSeconds();
  thread_ = std::thread([this] { result_ = syncer_->Run(); });
}

void SyncerRun::Stop() {
  if (!thread_.joinable()) return;
  syncer_->Stop();
  thread_.join();
  Check(result_, "syncer run");
}

double SyncerRun::WaitDurable(const BinlogPosition& target, double timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, std::chrono::duration<double>(timeout),
                    [&] { return Reached(durable_, target); })) {
    Check(Status::IOError(fmt::format("syncer at {} after {} s, not at {}: {}", durable_.ToString(),
                                      timeout, target.ToString(), syncer_->Stats().last_error)),
          "syncer catching up");
  }
  return durable_time_;
}

void SyncerRun::StartLog() {
  std::lock_guard<std::mutex> lock(mu_);
  logging_ = true;
}

std::vector<std::pair<double, BinlogPosition>> SyncerRun::Log() {
  std::lock_guard<std::mutex> lock(mu_);
  return log_;
}

void SyncerRun::OnDurable(const BinlogPosition& p) {
  double now = NowSeconds();
  std::lock_guard<std::mutex> lock(mu_);
  durable_ = p;
  durable_time_ = now;
  if (logging_) log_.emplace_back(now, p);
  cv_.notify_all();
}

std::vector<std::string> MariadbBinlogArgs(MariaDBServer* server) {
  return {"/usr/bin/mariadb-binlog",
          "--read-from-remote-server",
          "--host=" + server->host(),
          fmt::format("--port={}", server->port()),
          fmt::format("--user={}", MariaDBServer::kReplUser),
          "--base64-output=DECODE-ROWS",
          "--verbose"};
}

double FetchOnly(MariaDBServer* server, const BinlogPosition& from, const BinlogPosition& to,
                 double* cpu, uint64_t* bytes) {
  syncer::UpstreamOptions o;
  o.host = server->host();
  o.port = server->port();
  o.user = MariaDBServer::kReplUser;
  o.password = MariaDBServer::kReplPassword;
  o.server_id = 777;
  auto up = Check(syncer::Upstream::Connect(o), "fetch-only connect");
  double c0 = CpuSeconds(), t0 = NowSeconds();
  Check(up->StartDump(from), "fetch-only dump");
  std::string file = from.name;
  while (true) {
    std::string_view raw = Check(up->Fetch(), "fetch-only");
    *bytes += raw.size();
    if (raw.size() < syncer::kEventHeaderLen) continue;
    auto type = static_cast<uint8_t>(raw[4]);
    uint32_t log_pos = static_cast<uint8_t>(raw[13]) | static_cast<uint8_t>(raw[14]) << 8 |
                       static_cast<uint8_t>(raw[15]) << 16 |
                       static_cast<uint32_t>(static_cast<uint8_t>(raw[16])) << 24;
    if (type == syncer::kRotateEvent) {
      // As the syncer's decoder: events before the first format description carry a CRC when
      // the connection announced one.
      auto ev = Check(syncer::ParseEvent(raw, up->info().checksum), "fetch-only rotate");
      file = Check(syncer::ParseRotate(ev), "fetch-only rotate").file;
      continue;
    }
    if (file == to.name && log_pos >= to.pos) break;
  }
  *cpu = CpuSeconds() - c0;
  return NowSeconds() - t0;
}

BinlogTail::BinlogTail(MariaDBServer* server, const BinlogPosition& from, int transactions)
    : seen_(static_cast<size_t>(transactions), -1) {
  std::vector<std::string> args = MariadbBinlogArgs(server);
  args.push_back("--stop-never");
  args.push_back(fmt::format("--start-position={}", from.pos));
  args.push_back(from.name);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  if (pipe(fds) != 0) Check(Status::FromErrno(errno, "pipe"), "mariadb-binlog");
  pid_ = fork();
  if (pid_ < 0) Check(Status::FromErrno(errno, "fork"), "mariadb-binlog");
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    setenv("MYSQL_PWD", MariaDBServer::kReplPassword, 1);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  thread_ = std::thread([this, fd = fds[0]] { ReadLoop(fd); });
}

void BinlogTail::WaitStarted(double timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::duration<double>(timeout), [&] { return started_ || eof_; });
}

bool BinlogTail::WaitFor(int n, double timeout) {
  size_t i = static_cast<size_t>(n);
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::duration<double>(timeout), [&] { return seen_[i] >= 0 || eof_; });
  return seen_[i] >= 0;
}

void BinlogTail::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  thread_.join();
}

// Rows print as "### INSERT INTO `db`.`t`", "### SET", "###   @1=<value>", ...; the transaction
// ends with a line "COMMIT/*!*/;" (mariadb-binlog flushes its output after every event).
void BinlogTail::ReadLoop(int fd) {
  FILE* in = fdopen(fd, "r");
  char* line = nullptr;
  size_t cap = 0;
  ssize_t n;
  bool header = false;
  int64_t txn = -1;
  while ((n = getline(&line, &cap, in)) > 0) {
    std::string_view l(line, static_cast<size_t>(n));
    if (l.starts_with("### INSERT INTO `bench`.`lag`")) {
      header = true;
    } else if (header && l.starts_with("###   @1=")) {
      header = false;
      if (txn < 0) txn = std::atoll(line + 9);
    } else if (l.starts_with("COMMIT") && txn >= 0) {
      double now = NowSeconds();
      std::lock_guard<std::mutex> lock(mu_);
      if (static_cast<size_t>(txn) < seen_.size()) seen_[static_cast<size_t>(txn)] = now;
      txn = -1;
      cv_.notify_all();
    }
    if (!started_) {
      std::lock_guard<std::mutex> lock(mu_);
      started_ = true;
      cv_.notify_all();
    }
  }
  free(line);
  fclose(in);
  std::lock_guard<std::mutex> lock(mu_);
  eof_ = true;
  cv_.notify_all();
}

}  // namespace binlog::bench
