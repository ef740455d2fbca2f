// Stop signals and error lines for the daemons' main.
#include "server/daemon.h"

#include <ctime>
#include <iostream>

#include "common/text.h"

namespace binlog::server {

namespace {

// Messages can quote names, statements and files: printable, and not pages long.
constexpr size_t kMaxMessage = 4096;
// How soon Wait notices Notify(). A short poll instead of a signal sent to ourselves: such a
// signal could also come from outside and stop the daemon.
constexpr long kNotifyPollNanos = 50'000'000;

}  // namespace

int Fail(std::string_view tool, std::string_view message, int code, std::string_view hint) {
  std::cerr << tool << ": " << Printable(message, kMaxMessage) << "\n";
  if (!hint.empty()) std::cerr << hint << "\n";
  return code;
}

StopSignals::StopSignals() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int StopSignals::Wait() {
  while (!notified_) {
    timespec tick{0, kNotifyPollNanos};
    int sig = sigtimedwait(&set_, nullptr, &tick);
    if (sig > 0) return sig;
    // EAGAIN: the tick passed; EINTR: some other signal was handled.
  }
  return 0;
}

}  // namespace binlog::server
