// host:port parsing and the listen-address check.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "server/server.h"

namespace binlog::server {

Result<HostPort> SplitHostPort(std::string_view addr) {
  size_t colon = addr.rfind(':');
  if (colon == std::string_view::npos) {
    return Status::InvalidArgument(fmt::format("\"{}\" is not host:port", addr));
  }
  std::string_view host = addr.substr(0, colon);
  std::string_view port = addr.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return Status::InvalidArgument(
        fmt::format("\"{}\" is not host:port (write an IPv6 host as [::1]:port)", addr));
  }
  HostPort hp;
  hp.host = std::string(host);
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), hp.port);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || hp.port < 0 ||
      hp.port > 65535) {
    return Status::InvalidArgument(fmt::format("\"{}\": port must be 0..65535", addr));
  }
  return hp;
}

bool IsUnspecifiedHost(const std::string& host) {
  return host.empty() || host == "0.0.0.0" || host == "::";
}

std::string JoinHostPort(const std::string& host, int port) {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

namespace {

// Closes the probe socket however the check ends.
struct Socket {
  int fd = -1;
  ~Socket() {
    if (fd >= 0) close(fd);
  }
};

std::string BindProblem(int err, const std::string& host, int port) {
  switch (err) {
    case EADDRINUSE:
      return fmt::format("port {} is in use by another process", port);
    case EADDRNOTAVAIL:
      return fmt::format("{} is not an address of this host", host);
    case EACCES:
      return fmt::format("port {} needs privileges (ports below 1024 are reserved to root)", port);
    default:
      return std::strerror(err);
  }
}

}  // namespace

Status CheckListenAddr(const std::string& addr, std::string_view what) {
  ASSIGN_OR_RETURN(HostPort hp, SplitHostPort(addr));
  std::string host = hp.host.empty() ? "0.0.0.0" : hp.host;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  std::string port = std::to_string(hp.port);
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return Status::InvalidArgument(
        fmt::format("cannot listen on {} {}: host \"{}\" does not "
                    "resolve to an address ({})",
                    what, addr, host, gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, freeaddrinfo);
  int err = 0;
  for (addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    Socket s;
    s.fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (s.fd < 0) {
      err = errno;
      continue;
    }
    int yes = 1;
    // As the listeners do: a port left in TIME_WAIT by a restart is free, one listened on is not.
    setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (bind(s.fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(s.fd, 1) == 0) return Status::OK();
    err = errno;
  }
  return Status::IOError(
      fmt::format("cannot listen on {} {}: {}", what, addr, BindProblem(err, host, hp.port)));
}

}  // namespace binlog::server
