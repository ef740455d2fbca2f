#include "testutil/mariadb_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "testutil/testutil.h"

namespace binlog::testing {

namespace fs = std::filesystem;

namespace {

constexpr const char* kMariadbd = "/usr/sbin/mariadbd";
constexpr const char* kInstallDb = "/usr/bin/mariadb-install-db";
constexpr auto kStartTimeout = std::chrono::seconds(60);
// The same on install and start: a small redo log keeps the template cheap to copy.
constexpr const char* kLogFileSize = "--innodb-log-file-size=8M";

std::string TempBase() {
  const char* base = getenv("TMPDIR");
  return base && *base ? base : "/tmp";
}

// Runs a command to completion with its output in log_path; error with the log on failure.
Status RunCommand(const std::vector<std::string>& args, const std::string& log_path) {
  pid_t pid = SpawnLogged(args, log_path, /*append=*/false);
  if (pid < 0) return Status::FromErrno(errno, "fork");
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return Status::FromErrno(errno, "waitpid");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::ifstream in(log_path);
    std::stringstream text;
    text << in.rdbuf();
    return Status::IOError(fmt::format("{} failed (status {}): {}", args[0], status, text.str()));
  }
  return Status::OK();
}

// mariadb-install-db once per build tree: installing takes seconds, copying the result ~30 ms.
// Built in a private directory and renamed into place, so concurrent test processes never see
// a half-made template.
Result<std::string> TemplateDatadir() {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
#ifdef BINLOG_BINARY_DIR
  std::string base = std::string(BINLOG_BINARY_DIR) + "/testdata-cache";
#else
  std::string base = TempBase() + "/binlog-testdata-cache";
#endif
  std::string tmpl = base + "/mariadb-datadir";
  if (fs::exists(tmpl + "/mysql")) return tmpl;
  std::error_code ec;
  fs::create_directories(base, ec);
  std::string work = base + "/mariadb-install-XXXXXX";
  if (mkdtemp(work.data()) == nullptr) return Status::FromErrno(errno, "mkdtemp " + base);
  // A private tmpdir: concurrent bootstraps sharing /tmp failed on each other's temporary
  // tables (seen once in CI: "Error on delete of '/tmp/#sql-temptable-...MAD'").
  fs::create_directories(work + "/tmp", ec);
  Status s = RunCommand(
      {kInstallDb, "--no-defaults", "--auth-root-authentication-method=normal", "--skip-test-db",
       "--datadir=" + work + "/data", "--tmpdir=" + work + "/tmp", kLogFileSize},
      work + "/install.log");
  if (s.ok() && rename((work + "/data").c_str(), tmpl.c_str()) != 0 && !fs::exists(tmpl)) {
    s = Status::FromErrno(errno, "rename the template datadir");
  }
  fs::remove_all(work, ec);
  RETURN_IF_ERROR(s);
  return tmpl;
}

}  // namespace

// ---- MariaDBConnection ----

Result<std::unique_ptr<MariaDBConnection>> MariaDBConnection::Open(const std::string& host,
                                                                   int port,
                                                                   const std::string& user,
                                                                   const std::string& password,
                                                                   const std::string& database) {
  mysql::ConnectOptions o;
  o.host = host;
  o.port = port;
  o.user = user;
  o.password = password;
  o.database = database;
  o.connect_timeout_seconds = 5;
  o.init_statements = {"SET time_zone = '+00:00'"};
  ASSIGN_OR_RETURN(std::unique_ptr<mysql::Connection> c, mysql::Connection::Open(o));
  return std::unique_ptr<MariaDBConnection>(new MariaDBConnection(std::move(c)));
}

Status MariaDBConnection::Exec(std::string_view sql) { return conn_->Execute(sql); }

Result<std::vector<SqlRow>> MariaDBConnection::Query(std::string_view sql) {
  return conn_->Query(sql);
}

Result<std::string> MariaDBConnection::QueryValue(std::string_view sql) {
  ASSIGN_OR_RETURN(std::vector<SqlRow> rows, Query(sql));
  if (rows.empty() || rows[0].empty() || !rows[0][0]) {
    return Status::InvalidArgument(fmt::format("no value from: {}", mysql::ElideStatement(sql)));
  }
  return *rows[0][0];
}

// ---- MariaDBServer ----

Result<std::unique_ptr<MariaDBServer>> MariaDBServer::Start(const MariaDBOptions& options) {
  ASSIGN_OR_RETURN(std::string tmpl, TemplateDatadir());
  std::unique_ptr<MariaDBServer> server(new MariaDBServer());
  server->options_ = options;
  std::string dir = TempBase() + "/binlog-mariadb-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) return Status::FromErrno(errno, "mkdtemp");
  server->dir_ = dir;
  std::error_code ec;
  fs::create_directories(dir + "/tmp", ec);
  fs::copy(tmpl, server->datadir(), fs::copy_options::recursive, ec);
  if (ec) return Status::IOError("copy the template datadir: " + ec.message());
  // A port taken between our probe and the server's bind is retried with another.
  Status s;
  for (int attempt = 0; attempt < 3; ++attempt) {
    ASSIGN_OR_RETURN(server->port_, FreeLoopbackPort());
    s = server->Launch();
    if (s.ok()) break;
  }
  RETURN_IF_ERROR(s);
  RETURN_IF_ERROR(server->Exec(
      fmt::format("CREATE USER IF NOT EXISTS '{0}'@'%' IDENTIFIED BY '{1}';"
                  "GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO '{0}'@'%'",
                  kReplUser, kReplPassword)));
  return server;
}

Status MariaDBServer::Launch() {
  std::vector<std::string> args = {
      kMariadbd, "--no-defaults", "--user=root", "--datadir=" + datadir(),
      fmt::format("--port={}", port_), "--bind-address=" + host_, "--socket=" + dir_ + "/sock",
      "--pid-file=" + dir_ + "/mariadbd.pid", "--log-error=" + dir_ + "/error.log",
      "--tmpdir=" + dir_, "--log-bin=" + datadir() + "/mariadb-bin", "--server-id=1",
      "--binlog-format=ROW", "--binlog-row-image=FULL", "--binlog-row-metadata=FULL",
      "--skip-name-resolve",
      // MariaDB 10.11 still defaults to latin1.
      "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci", kLogFileSize,
      "--innodb-buffer-pool-size=64M",
      // Tests crash the server on purpose; durability of the
      // upstream itself is not what they check.
      "--innodb-flush-log-at-trx-commit=2", "--max-allowed-packet=64M"};
  for (const std::string& a : options_.extra_args) args.push_back(a);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::string out_path = dir_ + "/stdout.log";
  pid_t pid = fork();
  if (pid < 0) return Status::FromErrno(errno, "fork");
  if (pid == 0) {
    // Never outlive the test process, even when it crashes.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
  Status s = WaitReady();
  if (!s.ok()) Kill().IgnoreError();
  return s;
}

Status MariaDBServer::WaitReady() {
  auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (true) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::IOError(
          fmt::format("mariadbd exited while starting (status {}): {}", status, LogTail()));
    }
    Result<std::unique_ptr<MariaDBConnection>> c = Connect();
    if (c.ok()) {
      // Another test's server may have taken the port first (ours then fails to bind, and
      // every test user connects with the same credentials): make sure this one is ours.
      Result<std::string> served = (*c)->QueryValue("SELECT @@datadir");
      if (served.ok() && *served != datadir() + "/") {
        return Status::Busy(
            fmt::format("port {} is served by another server ({})", port_, *served));
      }
      root_ = std::move(*c);
      return Status::OK();
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::TimedOut("mariadbd did not accept connections: " + LogTail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string MariaDBServer::LogTail() const {
  std::ifstream in(dir_ + "/error.log");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > 2000) text = text.substr(text.size() - 2000);
  return text;
}

MariaDBServer::~MariaDBServer() {
  root_.reset();
  Kill().IgnoreError();
  if (!dir_.empty() && getenv("BINLOG_KEEP_TMP") == nullptr) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

Status MariaDBServer::Stop() {
  root_.reset();
  if (pid_ <= 0) return Status::OK();
  kill(pid_, SIGTERM);
  int status = 0;
  pid_t r = waitpid(pid_, &status, 0);
  pid_ = -1;
  if (r < 0) return Status::FromErrno(errno, "waitpid mariadbd");
  return Status::OK();
}

Status MariaDBServer::Kill() {
  root_.reset();
  if (pid_ <= 0) return Status::OK();
  kill(pid_, SIGKILL);
  int status = 0;
  pid_t r = waitpid(pid_, &status, 0);
  pid_ = -1;
  if (r < 0) return Status::FromErrno(errno, "waitpid mariadbd");
  return Status::OK();
}

Status MariaDBServer::Restart() {
  if (pid_ > 0) return Status::InvalidArgument("the server is running");
  return Launch();
}

Result<std::unique_ptr<MariaDBConnection>> MariaDBServer::Connect(
    const std::string& database) const {
  return MariaDBConnection::Open(host_, port_, "root", "", database);
}

Status MariaDBServer::Exec(std::string_view sql) {
  if (!root_) {
    ASSIGN_OR_RETURN(root_, Connect());
  }
  return root_->Exec(sql);
}

Result<std::vector<SqlRow>> MariaDBServer::Query(std::string_view sql) {
  if (!root_) {
    ASSIGN_OR_RETURN(root_, Connect());
  }
  return root_->Query(sql);
}

Result<std::string> MariaDBServer::QueryValue(std::string_view sql) {
  if (!root_) {
    ASSIGN_OR_RETURN(root_, Connect());
  }
  return root_->QueryValue(sql);
}

// ---- the shared server ----

MariaDBServer* SharedMariaDB() {
  // Destroyed (killed, its directory removed) when the process exits normally; a crashed test
  // process takes it down through PR_SET_PDEATHSIG.
  struct Shared {
    std::unique_ptr<MariaDBServer> server;
    Status error;
  };
  static Shared* shared = [] {
    static Shared s;
    Result<std::unique_ptr<MariaDBServer>> r = MariaDBServer::Start();
    if (r.ok()) {
      s.server = std::move(*r);
    } else {
      s.error = r.status();
    }
    return &s;
  }();
  if (!shared->server) {
    ADD_FAILURE() << "cannot start the shared MariaDB server: " << shared->error.ToString();
  }
  return shared->server.get();
}

}  // namespace binlog::testing
