// A private etcd for tests: /usr/bin/etcd (Debian's etcd-server) on free loopback client and
// peer ports, its data in a temp dir; one member, or a cluster of three. The destructor kills
// every member and removes the directory.
//
// Elections are quick (heartbeat 50 ms, election timeout 500 ms), so a cluster that loses its
// leader answers again within a second or two and the shortest lease is 1 s.
//
// Link binlog_testutil_etcd.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "testutil/testutil.h"

namespace binlog::testing {

class EtcdCluster {
 public:
  // Starts `members` processes and waits (bounded) until every one answers a read.
  static Result<std::unique_ptr<EtcdCluster>> Start(int members = 1);
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  int size() const { return static_cast<int>(members_.size()); }
  // Every member's client URL, comma-separated: a pd-urls value.
  std::string urls() const;
  std::string url(int member) const;
  bool running(int member) const { return members_[member].pid > 0; }

  // SIGKILL, and reaps it.
  Status Kill(int member);
  // SIGTERM, and waits for the exit.
  Status Stop(int member);
  // Starts it again on its data dir and ports; waits until the cluster answers through it.
  Status Restart(int member);

  // Raw reads, for what the registry interface does not show (nullopt: no such key).
  Result<std::optional<std::string>> GetKey(const std::string& key) const;
  // The member's log, for failure messages.
  std::string LogTail(int member) const;

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    pid_t pid = -1;
  };
  EtcdCluster() = default;
  Status Launch(int member, bool initial);
  Status WaitAnswers(int member) const;

  TempDir dir_;
  std::vector<Member> members_;
  std::string token_;
};

}  // namespace binlog::testing
