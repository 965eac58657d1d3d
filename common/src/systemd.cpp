#include "codis/systemd.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string>

namespace codis::systemd {

bool notify(std::string_view state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || path[0] == '\0') return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const size_t len = std::strlen(path);
  if (len >= sizeof(addr.sun_path)) return false;
  std::memcpy(addr.sun_path, path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // an abstract socket
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  const ssize_t n = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), size);
  ::close(fd);
  return n == static_cast<ssize_t>(state.size());
}

std::chrono::milliseconds watchdog_period() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (usec == nullptr) return std::chrono::milliseconds(0);
  if (const char* pid = std::getenv("WATCHDOG_PID"); pid != nullptr && std::to_string(::getpid()) != pid)
    return std::chrono::milliseconds(0);
  uint64_t us = 0;
  const std::string_view s(usec);
  if (std::from_chars(s.data(), s.data() + s.size(), us).ec != std::errc() || us == 0)
    return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(us / 2000);
}

}  // namespace codis::systemd
