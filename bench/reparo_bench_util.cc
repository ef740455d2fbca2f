#include "reparo_bench_util.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iostream>

#include "bench_util.h"

namespace binlog::bench {

using testing::MariaDBOptions;
using testing::MariaDBServer;

namespace {

std::vector<char*> Argv(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  return argv;
}

// In the child: stdin, stdout from/to files or fds, stderr to the bench log (ours).
[[noreturn]] void Exec(const std::vector<std::string>& args, int in_fd, int out_fd) {
  if (in_fd >= 0) dup2(in_fd, 0);
  if (out_fd >= 0) dup2(out_fd, 1);
  std::vector<char*> argv = Argv(args);
  execv(argv[0], argv.data());
  _exit(127);
}

int OpenOr(const std::string& path, int flags) {
  return open(path.empty() ? "/dev/null" : path.c_str(), flags | O_CLOEXEC, 0644);
}

std::string Digits(std::mt19937_64& rng, int groups) {
  std::string s;
  for (int g = 0; g < groups; ++g) {
    if (g > 0) s += '-';
    s += fmt::format("{:011d}", rng() % 100000000000ull);
  }
  return s;
}

}  // namespace

ChildRun WaitChild(pid_t pid, double start) {
  ChildRun r;
  int status = 0;
  rusage usage{};
  if (pid <= 0 || wait4(pid, &status, 0, &usage) != pid) return r;
  r.seconds = NowSeconds() - start;
  r.peak_rss_mb = static_cast<double>(usage.ru_maxrss) / 1024;
  r.cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                  static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

pid_t SpawnChild(const std::vector<std::string>& args, const std::string& in,
                 const std::string& out) {
  int in_fd = OpenOr(in, O_RDONLY);
  int out_fd = OpenOr(out, O_WRONLY | O_CREAT | O_TRUNC);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // a bench that exits on a failed check leaves no daemon
    Exec(args, in_fd, out_fd);
  }
  close(in_fd);
  close(out_fd);
  return pid;
}

ChildRun RunChild(const std::vector<std::string>& args, const std::string& in,
                  const std::string& out) {
  double start = NowSeconds();
  return WaitChild(SpawnChild(args, in, out), start);
}

std::pair<ChildRun, ChildRun> RunPipe(const std::vector<std::string>& producer,
                                      const std::vector<std::string>& consumer) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return {};
  int null_in = OpenOr("", O_RDONLY), null_out = OpenOr("", O_WRONLY);
  double start = NowSeconds();
  pid_t a = fork();
  if (a == 0) Exec(producer, null_in, fds[1]);
  pid_t b = fork();
  if (b == 0) Exec(consumer, fds[0], null_out);
  close(fds[0]);
  close(fds[1]);
  close(null_in);
  close(null_out);
  ChildRun ra = WaitChild(a, start);
  ChildRun rb = WaitChild(b, start);
  return {ra, rb};
}

double TimeToFirst(const std::vector<std::string>& args, const std::string& marker) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  int null_in = OpenOr("", O_RDONLY);
  double start = NowSeconds();
  pid_t pid = fork();
  if (pid == 0) Exec(args, null_in, fds[1]);
  close(fds[1]);
  close(null_in);
  std::string seen;
  double found = -1;
  char buf[1 << 16];
  for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;) {
    seen.append(buf, static_cast<size_t>(n));
    if (seen.find(marker) != std::string::npos) {
      found = NowSeconds() - start;
      break;
    }
    if (seen.size() > marker.size()) seen.erase(0, seen.size() - marker.size());
  }
  kill(pid, SIGKILL);
  close(fds[0]);
  waitpid(pid, nullptr, 0);
  return found;
}

void CreateSbtest(MariaDBServer* server) {
  Check(server->Exec("CREATE DATABASE IF NOT EXISTS bench; "
                     "CREATE TABLE bench.sbtest (id INT NOT NULL PRIMARY KEY, k INT NOT NULL "
                     "DEFAULT 0, c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT "
                     "'', KEY k_1 (k)) ENGINE = InnoDB"),
        "create bench.sbtest");
}

void SbChanges::Next(std::string* sql) {
  uint64_t pick = rng_() % 10;
  if (live_.size() < 10000 || pick < 4) {
    int id = next_id_++;
    live_.push_back(id);
    *sql += fmt::format("INSERT INTO sbtest VALUES ({}, {}, '{}', '{}');", id, rng_() % 100000,
                        Digits(rng_, 10), Digits(rng_, 5));
  } else if (pick < 8) {
    int id = live_[rng_() % live_.size()];
    *sql += fmt::format("UPDATE sbtest SET k = {}, c = '{}' WHERE id = {};", rng_() % 100000,
                        Digits(rng_, 10), id);
  } else {
    size_t at = rng_() % live_.size();
    *sql += fmt::format("DELETE FROM sbtest WHERE id = {};", live_[at]);
    live_[at] = live_.back();
    live_.pop_back();
  }
}

void WriteChanges(MariaDBServer* server, uint64_t changes, uint64_t seed) {
  auto conn = Check(server->Connect("bench"), "connect to the source");
  SbChanges gen(seed);
  std::string batch;
  for (uint64_t i = 0; i < changes; ++i) {
    gen.Next(&batch);
    if (batch.size() > (256 << 10) || i + 1 == changes) {
      Check(conn->Exec(batch), "write the changes");
      batch.clear();
    }
  }
}

std::string Checksum(MariaDBServer* server) {
  auto rows = Check(server->Query("CHECKSUM TABLE bench.sbtest"), "checksum");
  return rows.empty() || !rows[0][1] ? std::string("?") : *rows[0][1];
}

void ExpectSameChecksum(MariaDBServer* source, MariaDBServer* dest, const std::string& what) {
  std::string a = Checksum(source), b = Checksum(dest);
  if (a != b) {
    std::cerr << "reparo_bench: " << what << " left bench.sbtest different from the source (" << b
              << " against " << a << "): its figure would mean nothing\n";
    std::exit(1);
  }
}

void ResetDestination(MariaDBServer* dest) {
  Check(dest->Exec("DROP DATABASE IF EXISTS bench; DROP DATABASE IF EXISTS tidb_binlog"),
        "reset the destination");
  CreateSbtest(dest);
}

MariaDBOptions DestinationOptions(int server_id) {
  MariaDBOptions o;
  o.extra_args = {"--innodb-buffer-pool-size=512M", "--innodb-log-file-size=512M",
                  fmt::format("--server-id={}", server_id), "--max-allowed-packet=256M",
                  "--log-slave-updates"};
  return o;
}

double StartReplica(MariaDBServer* source, MariaDBServer* dest, const syncer::BinlogPosition& from,
                    int threads) {
  Check(dest->Exec(fmt::format(
            "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL slave_parallel_threads = {}; "
            "SET GLOBAL slave_parallel_mode = 'optimistic'; "
            "CHANGE MASTER TO MASTER_HOST = '{}', MASTER_PORT = {}, MASTER_USER = '{}', "
            "MASTER_PASSWORD = '{}', MASTER_LOG_FILE = '{}', MASTER_LOG_POS = {}, "
            "MASTER_USE_GTID = no",
            threads, source->host(), source->port(), MariaDBServer::kReplUser,
            MariaDBServer::kReplPassword, from.name, from.pos)),
        "configure the replica");
  double start = NowSeconds();
  Check(dest->Exec("START SLAVE"), "start the replica");
  return start;
}

void StopReplica(MariaDBServer* dest) {
  Check(dest->Exec("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL slave_parallel_threads = 0"),
        "stop the replica");
}

double ReplicaApply(MariaDBServer* source, MariaDBServer* dest, const syncer::BinlogPosition& from,
                    const syncer::BinlogPosition& to, int threads) {
  double start = StartReplica(source, dest, from, threads);
  // Returns once the SQL thread has executed up to `to`.
  auto waited = Check(
      dest->QueryValue(fmt::format("SELECT MASTER_POS_WAIT('{}', {}, 3600)", to.name, to.pos)),
      "wait for the replica");
  if (waited == "-1") Check(Status::TimedOut("the replica did not catch up"), "replica");
  double seconds = NowSeconds() - start;
  StopReplica(dest);
  return seconds;
}

std::string WriteReparoConfig(const std::string& dir, const std::string& archive,
                              MariaDBServer* dest, int workers) {
  std::string path = dir + "/reparo.toml";
  std::ofstream(path) << fmt::format(
      "data-dir = \"{}\"\nlog-level = \"warn\"\ndest-type = \"mysql\"\nworker-count = {}\n"
      "txn-batch = 20\n[dest-db]\nhost = \"{}\"\nport = {}\nuser = \"root\"\npassword = \"\"\n",
      archive, workers, dest->host(), dest->port());
  return path;
}

ChildRun RunReparo(const std::string& binary, const std::string& config) {
  ChildRun r = RunChild({binary, "-config", config}, "", "");
  if (r.status != 0) Check(Status::IOError(fmt::format("reparo exited {}", r.status)), "reparo");
  return r;
}

std::vector<std::string> MariadbBinlogReplay(MariaDBServer* source,
                                             const syncer::BinlogPosition& from,
                                             const syncer::BinlogPosition& to) {
  return {"/usr/bin/mariadb-binlog",
          "--read-from-remote-server",
          "--host=" + source->host(),
          fmt::format("--port={}", source->port()),
          fmt::format("--user={}", MariaDBServer::kReplUser),
          fmt::format("--password={}", MariaDBServer::kReplPassword),
          fmt::format("--start-position={}", from.pos),
          fmt::format("--stop-position={}", to.pos),
          from.name};
}

std::vector<std::string> MariadbClient(MariaDBServer* dest) {
  return {"/usr/bin/mariadb", "--host=" + dest->host(), fmt::format("--port={}", dest->port()),
          "--user=root", "--binary-mode"};
}

}  // namespace binlog::bench
