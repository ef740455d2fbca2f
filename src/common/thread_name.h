// Names for the threads a tool starts, as `top -H`, `ps -L` and perf show them.
#pragma once

#include <pthread.h>

#include <string>

namespace binlog {

// Linux keeps 15 characters; longer names are cut. Failure is harmless and ignored.
inline void NameThisThread(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace binlog
