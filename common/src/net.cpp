#include "codis/net.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "codis/host_port.h"

namespace codis::net {

namespace {
int ms_left(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left, 1 << 30));
}
}  // namespace

Wait wait_fd(int fd, short events, Clock::time_point deadline, std::span<const int> cancel_fds) {
  for (;;) {
    pollfd p[4];
    nfds_t n = 0;
    p[n++] = {fd, events, 0};
    for (int c : cancel_fds) {
      if (c >= 0 && n < 4) p[n++] = {c, POLLIN, 0};
    }
    const int rc = ::poll(p, n, ms_left(deadline));
    if (rc < 0) {
      if (errno == EINTR) continue;
      return Wait::kCancelled;
    }
    for (nfds_t i = 1; i < n; ++i) {
      if (p[i].revents) return Wait::kCancelled;
    }
    if (rc == 0) return Wait::kTimeout;
    if (p[0].revents) return Wait::kReady;
  }
}

Result<int> dial(std::string_view addr, Clock::time_point deadline, std::span<const int> cancel_fds) {
  auto hp = HostPort::parse(addr);
  if (!hp) return hp.status();
  const std::string host = hp->host_or("127.0.0.1"), port = hp->port_text();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return Result<int>::Error("cannot resolve " + std::string(addr) + ": " + ::gai_strerror(rc));
  }
  std::string last = "no address";
  Code code = Code::kError;
  int out = -1;
  for (addrinfo* ai = res; ai && out < 0; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) continue;
    int err = ::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      const Wait w = wait_fd(fd, POLLOUT, deadline, cancel_fds);
      if (w != Wait::kReady) {
        ::close(fd);
        last = w == Wait::kTimeout ? "connect timed out" : "cancelled";
        code = w == Wait::kTimeout ? Code::kTimeout : Code::kError;
        if (w == Wait::kCancelled) break;
        continue;
      }
      socklen_t len = sizeof(err);
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    }
    if (err != 0) {
      last = std::strerror(err);
      code = err == ECONNREFUSED ? Code::kRefused : Code::kError;
      ::close(fd);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    out = fd;
  }
  ::freeaddrinfo(res);
  if (out < 0) return Result<int>::Error("cannot connect to " + std::string(addr) + ": " + last, code);
  return out;
}

}  // namespace codis::net
