#include "testutil/testutil.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <string_view>

namespace binlog::testing {

HeldPort::HeldPort() {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(fd_, 4) != 0 ||
      getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ADD_FAILURE() << "cannot hold a loopback port";
    return;
  }
  port_ = ntohs(a.sin_port);
}

HeldPort::~HeldPort() {
  if (fd_ >= 0) close(fd_);
}

TempDir::TempDir() {
  const char* base = getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/binlog-test-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed for " << tmpl;
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  if (getenv("BINLOG_KEEP_TMP") != nullptr) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string ToolPath(const std::string& name) {
  const char* dir = getenv("BINLOG_TOOLS_DIR");
#ifdef BINLOG_BINARY_DIR
  std::string base = dir && *dir ? dir : std::string(BINLOG_BINARY_DIR) + "/tools";
#else
  std::string base = dir && *dir ? dir : "tools";
#endif
  return base + "/" + name + "/" + name;
}

std::string TestDataPath(const std::string& name) {
#ifdef BINLOG_SOURCE_DIR
  return std::string(BINLOG_SOURCE_DIR) + "/testdata/" + name;
#else
  return "testdata/" + name;
#endif
}

// A port free now, picked at random below the kernel's ephemeral range (32768 and up), where
// other processes' port-0 binds do not land. Another test process may still pick the same one
// before our server binds it: WaitReady checks that the server answering is ours.
Result<int> FreeLoopbackPort() {
  static std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(getpid()));
  for (int attempt = 0; attempt < 100; ++attempt) {
    int port = 20000 + static_cast<int>(rng() % 12000);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return Status::FromErrno(errno, "socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bool free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(fd);
    if (free) return port;
  }
  return Status::IOError("no free loopback port found in 20000-31999");
}

pid_t SpawnLogged(const std::vector<std::string>& args, const std::string& log, bool append) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    // A test that dies (an abort, a crash) takes its daemons with it instead of leaving them
    // running on the machine.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

namespace {

// The variable's value as an unsigned number no larger than max; nullopt when unset or empty.
Result<std::optional<uint64_t>> EnvNumber(const char* name, uint64_t max) {
  const char* text = getenv(name);
  if (text == nullptr || *text == '\0') return std::optional<uint64_t>();
  std::string_view s(text);
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > max) {
    return Status::InvalidArgument(std::string(name) + " must be a number from 0 to " +
                                   std::to_string(max) + ", not \"" + std::string(s) + "\"");
  }
  return std::optional<uint64_t>(v);
}

}  // namespace

std::mt19937 CrashPlan::Rng(int t) const {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                    static_cast<uint32_t>(t)};
  return std::mt19937(seq);
}

std::string CrashPlan::Trace(int t) const {
  return "trial " + std::to_string(t) + " (replay: BINLOG_CRASH_SEED=" + std::to_string(seed) +
         " BINLOG_CRASH_TRIAL=" + std::to_string(t) + ")";
}

Result<CrashPlan> CrashPlanFromEnv(uint64_t default_seed, int default_trials) {
  constexpr uint64_t kMaxTrials = 100000000;
  CrashPlan plan;
  ASSIGN_OR_RETURN(auto seed, EnvNumber("BINLOG_CRASH_SEED", UINT64_MAX));
  ASSIGN_OR_RETURN(auto trials, EnvNumber("BINLOG_CRASH_TRIALS", kMaxTrials));
  ASSIGN_OR_RETURN(auto only, EnvNumber("BINLOG_CRASH_TRIAL", kMaxTrials));
  plan.seed = seed.value_or(default_seed);
  plan.trials = static_cast<int>(trials.value_or(static_cast<uint64_t>(default_trials)));
  if (plan.trials == 0) return Status::InvalidArgument("BINLOG_CRASH_TRIALS must be at least 1");
  if (only) plan.only = static_cast<int>(*only);
  return plan;
}

void SmallAsanQuarantineForChildren(int mb) {
  const char* now = std::getenv("ASAN_OPTIONS");
  std::string options = now != nullptr && *now != '\0' ? std::string(now) + ":" : std::string();
  options += "quarantine_size_mb=" + std::to_string(mb);
  setenv("ASAN_OPTIONS", options.c_str(), 1);
}

}  // namespace binlog::testing
