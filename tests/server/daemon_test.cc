// What the daemons' main shares: stop signals and error lines.
#include "server/daemon.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <thread>

namespace binlog::server {
namespace {

using ::testing::HasSubstr;

TEST(StopSignalsTest, NotifyWakesTheWaiterWithZero) {
  StopSignals signals;
  std::thread stopper([&] { signals.Notify(); });
  EXPECT_EQ(signals.Wait(), 0);
  stopper.join();
  EXPECT_EQ(signals.Wait(), 0);  // stays notified
}

TEST(StopSignalsTest, SigtermIsTakenByTheWaiterInsteadOfKillingTheProcess) {
  StopSignals signals;
  // Sent to this thread, which blocks it: pending until Wait takes it.
  ASSERT_EQ(raise(SIGTERM), 0);
  EXPECT_EQ(signals.Wait(), SIGTERM);
  ASSERT_EQ(raise(SIGINT), 0);
  EXPECT_EQ(signals.Wait(), SIGINT);
  // SIGPIPE is ignored: raising it does not end the test.
  ASSERT_EQ(raise(SIGPIPE), 0);
}

TEST(FailTest, PrintsTheToolAndAPrintableMessageAndReturnsTheCode) {
  ::testing::internal::CaptureStderr();
  int code = Fail("pump", "bad \x01 byte", kExitBadFlags, "usage: pump [flags]");
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 2);
  EXPECT_EQ(err, "pump: bad \\x01 byte\nusage: pump [flags]\n");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(Fail("syncer", std::string(10000, 'x'), kExitFailure), 1);
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), HasSubstr("(10000 bytes in all)"));
}

}  // namespace
}  // namespace binlog::server
