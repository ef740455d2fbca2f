// Two real MariaDB servers, a source and a target, and sync-diff run against them: in this
// process through its library (LoadConfig + Run, as main does), or as the real binary.
#pragma once

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sync-diff/config.h"
#include "sync-diff/run.h"
#include "testutil/mariadb_server.h"
#include "testutil/testutil.h"

namespace binlog::syncdiff::testing {

using binlog::testing::MariaDBServer;

struct DiffRun {
  int code = -1;
  std::string out;    // stdout (the binary: stdout and stderr)
  std::string error;  // the error that stopped an in-process run
};

class SyncDiffTest : public ::testing::Test {
 protected:
  // Every test compares its own database (the test's name) on both servers.
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(source_, MariaDBServer::Start());
    ASSERT_OK_AND_ASSIGN(target_, MariaDBServer::Start());
    db_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (MariaDBServer* s : {source_.get(), target_.get()}) {
      ASSERT_OK(s->Exec("CREATE DATABASE `" + db_ + "`"));
    }
  }

  // Runs `sql` on both servers, in the test's database.
  void Both(const std::string& sql) {
    ASSERT_OK(Source(sql));
    ASSERT_OK(Target(sql));
  }
  Status Source(const std::string& sql) { return source_->Exec("USE `" + db_ + "`; " + sql); }
  Status Target(const std::string& sql) { return target_->Exec("USE `" + db_ + "`; " + sql); }

  std::vector<std::string> Args(const std::vector<std::string>& extra, bool only_db = true) {
    std::vector<std::string> args = {"sync-diff",
                                     "-source-host",
                                     source_->host(),
                                     "-source-port",
                                     std::to_string(source_->port()),
                                     "-target-host",
                                     target_->host(),
                                     "-target-port",
                                     std::to_string(target_->port()),
                                     "-L",
                                     "warn"};
    if (only_db) args.insert(args.end(), {"-do-db", db_});
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  DiffRun Diff(const std::vector<std::string>& extra = {}, bool only_db = true) {
    std::vector<std::string> args = Args(extra, only_db);
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    SyncDiffConfig config;
    DiffRun r;
    Result<Command> cmd = LoadConfig(static_cast<int>(argv.size()), argv.data(), &config);
    if (!cmd.ok()) {
      r.code = 2;
      r.error = cmd.status().ToString();
      return r;
    }
    std::ostringstream out;
    Result<Summary> s = syncdiff::Run(config, &out);
    r.code = ExitCode(s);
    r.out = out.str();
    if (!s.ok()) r.error = s.status().ToString();
    return r;
  }

  // The real binary, its stdout and stderr together.
  DiffRun Binary(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {binlog::testing::ToolPath("sync-diff")};
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string log = tmp_.Sub("binary.log");
    pid_t pid = binlog::testing::SpawnLogged(argv, log, false);
    DiffRun r;
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return r;
    r.code = WEXITSTATUS(status);
    std::ifstream in(log);
    r.out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return r;
  }

  // Runs the fix SQL file on the target, as the mariadb client would.
  void ApplyFix(const std::string& path) {
    std::ifstream in(path);
    ASSERT_TRUE(in) << path;
    std::string sql((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_OK_AND_ASSIGN(auto conn, target_->Connect());
    ASSERT_OK(conn->Exec(sql));
  }

  std::string FixPath() const { return tmp_.Sub("fix.sql"); }

  binlog::testing::TempDir tmp_;
  std::unique_ptr<MariaDBServer> source_, target_;
  std::string db_;
};

}  // namespace binlog::syncdiff::testing
