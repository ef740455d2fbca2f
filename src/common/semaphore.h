// A counting semaphore for one thread to wait on another's answer.
//
// Not std::binary_semaphore: libstdc++ 12's can lose a wakeup (GCC bugs 98033, 104928). Not a
// condition variable where one handoff happens per message: glibc takes the mutex back from a
// condition wait marked contended, so each wait costs one more futex wake when it is released.
// glibc's semaphore makes a system call only to sleep or to wake a sleeper, and may be destroyed
// as soon as Wait returns even if Post has not returned yet.
#pragma once

#include <semaphore.h>

#include <cerrno>
#include <chrono>
#include <ctime>

namespace binlog {

class Semaphore {
 public:
  explicit Semaphore(unsigned initial = 0) { sem_init(&sem_, /*pshared=*/0, initial); }
  ~Semaphore() { sem_destroy(&sem_); }
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  void Post() { sem_post(&sem_); }

  void Wait() {
    while (sem_wait(&sem_) != 0 && errno == EINTR) {
    }
  }

  // False when `timeout` passed first (measured on the monotonic clock).
  bool WaitFor(std::chrono::nanoseconds timeout) {
    timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    auto ns = std::chrono::nanoseconds(deadline.tv_nsec) + timeout;
    deadline.tv_sec += std::chrono::duration_cast<std::chrono::seconds>(ns).count();
    deadline.tv_nsec = (ns % std::chrono::seconds(1)).count();
    while (sem_clockwait(&sem_, CLOCK_MONOTONIC, &deadline) != 0) {
      if (errno != EINTR) return false;  // ETIMEDOUT
    }
    return true;
  }

 private:
  sem_t sem_;
};

}  // namespace binlog
