// binlogctl's output shapes and the warnings about a dead drainer others wait on; the commands
// against running nodes are in tests/scenarios/binlogctl.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "binlogctl/binlogctl.h"
#include "common/tso.h"
#include "mysql/mysql.h"
#include "testutil/testutil.h"

namespace binlog::ctl {
namespace {

using registry::NodeState;
using registry::NodeStatus;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

NodeStatus Node(const std::string& id, NodeState state, int64_t max_commit_ts, bool alive) {
  NodeStatus n;
  n.node_id = id;
  n.addr = id;
  n.state = state;
  n.max_commit_ts = max_commit_ts;
  n.update_ts = static_cast<int64_t>(ComposeTS(1610991638000, 0));  // 2021-01-18 17:40:38 UTC
  n.lease_seconds = 6;
  n.alive = alive;
  return n;
}

TEST(BinlogctlTest, ANodeLineHasTiDBBinlogsShapeAndTheStateShown) {
  setenv("TZ", "UTC", 1);
  tzset();
  std::string line = FormatNode(Node("192.168.169.43:8250", NodeState::kOnline, 42, true));
  EXPECT_EQ(line,
            "{NodeID: 192.168.169.43:8250, Addr: 192.168.169.43:8250, State: online, "
            "MaxCommitTS: 42, UpdateTime: 2021-01-18 17:40:38 +0000 UTC}");
  // Killed: the record still says online, the lease ran out: shown paused.
  EXPECT_THAT(FormatNode(Node("a:1", NodeState::kOnline, 42, false)), HasSubstr("State: paused"));
  EXPECT_THAT(FormatNode(Node("a:1", NodeState::kOffline, 42, false)),
              HasSubstr("State: offline"));
}

TEST(BinlogctlTest, TheTableLooksLikeShowPumpStatus) {
  setenv("TZ", "UTC", 1);
  tzset();
  std::string table = FormatTable({Node("192.168.169.41:8250", NodeState::kPaused, 7, true)});
  EXPECT_EQ(table,
            "+---------------------+---------------------+--------+---------------+-------------"
            "--------+\n"
            "| NodeID              | Address             | State  | Max_Commit_Ts | Update_Time "
            "        |\n"
            "+---------------------+---------------------+--------+---------------+-------------"
            "--------+\n"
            "| 192.168.169.41:8250 | 192.168.169.41:8250 | paused | 7             | 2021-01-18 "
            "17:40:38 |\n"
            "+---------------------+---------------------+--------+---------------+-------------"
            "--------+\n");
}

TEST(BinlogctlTest, ADeadDrainerThatAClosingPumpWaitsOnIsNamedWithTheFix) {
  std::vector<NodeStatus> pumps = {Node("p1:8250", NodeState::kClosing, 100, true),
                                   Node("p2:8250", NodeState::kOnline, 90, true)};
  std::vector<NodeStatus> dead = {Node("d1:8249", NodeState::kOnline, 50, false)};
  std::vector<std::string> w = StuckWarnings(pumps, dead);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_THAT(w[0], HasSubstr("drainer d1:8249 is not alive since 2021-01-18"));
  EXPECT_THAT(w[0], HasSubstr("checkpoint 50"));
  EXPECT_THAT(w[0], HasSubstr("waiting on it: pump p1:8250 (closing)"));
  EXPECT_THAT(w[0], Not(HasSubstr("p2:8250")));
  EXPECT_THAT(w[0], HasSubstr("binlogctl -cmd update-drainer -node-id d1:8249 -state offline"));

  // Alive, offline, or dead but caught up with every pump: nothing to say.
  EXPECT_THAT(StuckWarnings(pumps, {Node("d1:8249", NodeState::kOnline, 50, true)}), IsEmpty());
  EXPECT_THAT(StuckWarnings(pumps, {Node("d1:8249", NodeState::kOffline, 50, false)}), IsEmpty());
  EXPECT_THAT(StuckWarnings(pumps, {Node("d1:8249", NodeState::kOnline, 100, false)}), IsEmpty());
  // Dead and behind with no pump closing: still named (GC keeps what it has not read).
  pumps[0].state = NodeState::kOnline;
  w = StuckWarnings(pumps, dead);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_THAT(w[0], Not(HasSubstr("waiting on it")));
}

TEST(BinlogctlTest, EncryptMakesWhatTheDrainerDecrypts) {
  binlog::testing::TempDir dir;
  const std::string key_hex(64, 'a');
  std::ofstream(dir.Sub("key")) << key_hex << "\n";
  CtlOptions o;
  o.cmd = "encrypt";
  o.text = "p@ss word";
  o.secret_key_file = dir.Sub("key");
  std::ostringstream out, err;
  ASSERT_EQ(ctl::Run(o, out, err), kExitOk) << err.str();
  std::string sealed = out.str();
  ASSERT_FALSE(sealed.empty());
  sealed.pop_back();  // the newline
  ASSERT_OK_AND_ASSIGN(std::string key, mysql::LoadSecretKey(Env::Posix(), dir.Sub("key")));
  ASSERT_OK_AND_ASSIGN(std::string plain, mysql::DecryptPassword(sealed, key));
  EXPECT_EQ(plain, "p@ss word");

  o.text.clear();
  EXPECT_EQ(ctl::Run(o, out, err), kExitUsage);
}

TEST(BinlogctlTest, UpdateOfAMissingNodeFailsAndNamesTheRegistry) {
  // The compare-and-swap itself is tested in tests/registry.
  binlog::testing::TempDir dir;
  CtlOptions o;
  o.cmd = "update-pump";
  o.registry_dir = dir.path();
  o.node_id = "p9:8250";
  o.state = "offline";
  std::ostringstream out, err;
  EXPECT_EQ(ctl::Run(o, out, err), kExitFailed);
  EXPECT_THAT(err.str(), HasSubstr("no pump with node id p9:8250 in registry dir"));
}

}  // namespace
}  // namespace binlog::ctl
