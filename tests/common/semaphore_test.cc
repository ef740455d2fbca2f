#include "common/semaphore.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace binlog {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

TEST(SemaphoreTest, APostBeforeTheWaitIsKept) {
  Semaphore s;
  s.Post();
  s.Post();
  EXPECT_TRUE(s.WaitFor(milliseconds(0)));
  s.Wait();
  EXPECT_FALSE(s.WaitFor(milliseconds(0)));
}

TEST(SemaphoreTest, WaitForGivesUpOnceTheTimeoutPasses) {
  Semaphore s;
  auto start = steady_clock::now();
  EXPECT_FALSE(s.WaitFor(milliseconds(50)));
  EXPECT_GE(steady_clock::now() - start, milliseconds(50));
  // A timeout of more than a second carries into tv_sec.
  std::thread poster([&] {
    std::this_thread::sleep_for(milliseconds(20));
    s.Post();
  });
  EXPECT_TRUE(s.WaitFor(std::chrono::seconds(3) + milliseconds(999)));
  poster.join();
}

// Each handoff wakes its own waiter, which frees the semaphore as soon as it returns (what
// the pump client's callers do with theirs, on their stacks).
TEST(SemaphoreTest, ManyHandoffsEachWakeTheirWaiter) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 2000;
  std::atomic<Semaphore*> slots[kThreads] = {};
  std::atomic<int> answered{0};
  std::vector<std::thread> waiters;
  for (int t = 0; t < kThreads; ++t) {
    waiters.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        Semaphore mine;
        slots[t].store(&mine);
        mine.Wait();
        answered.fetch_add(1);
      }
    });
  }
  std::thread poster([&] {
    int posted = 0;
    while (posted < kThreads * kRounds) {
      for (auto& slot : slots) {
        if (Semaphore* s = slot.exchange(nullptr)) {
          s->Post();
          ++posted;
        }
      }
    }
  });
  for (auto& w : waiters) w.join();
  poster.join();
  EXPECT_EQ(answered.load(), kThreads * kRounds);
}

}  // namespace
}  // namespace binlog
