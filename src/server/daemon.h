// What a daemon's main shares: exit codes, the stop signals, and how an error reaches the
// terminal.
#pragma once

#include <signal.h>

#include <atomic>
#include <string_view>

namespace binlog::server {

// Exit codes of every daemon.
inline constexpr int kExitClean = 0;     // stopped as asked: a signal, a pause or close request
inline constexpr int kExitFailure = 1;   // a bad config, or a failure while running
inline constexpr int kExitBadFlags = 2;  // a bad command line

// "<tool>: <message>" on stderr, made printable and cut to 4 KiB (messages quote statements and
// files), then `hint` as is on a line of its own unless empty (a usage line). Returns `code`,
// for `return Fail("pump", s.message(), kExitFailure);`.
int Fail(std::string_view tool, std::string_view message, int code, std::string_view hint = {});

// SIGTERM and SIGINT, taken by whoever waits here instead of interrupting some thread. Construct
// it first in main, before any thread starts: the blocked mask is inherited by every thread.
// SIGPIPE is ignored from then on (a client that hangs up is an error return, not a crash).
// The mask stays blocked after destruction, so a late signal cannot kill a clean exit.
class StopSignals {
 public:
  StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Blocks until SIGTERM or SIGINT arrives (returns its number) or Notify() was called (0).
  int Wait();
  // Wakes Wait() with 0, now or whenever it is called: the daemon stopped by itself (the pump's
  // on_stop after a pause or close request). Any thread.
  void Notify() { notified_ = true; }

 private:
  sigset_t set_;
  std::atomic<bool> notified_{false};
};

}  // namespace binlog::server
