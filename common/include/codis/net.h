// Blocking TCP connects with a deadline, for the control plane's clients
// (the dashboard's RedisClient, the sentinel watcher, the dashboard's
// listening check). The proxy's data path uses Asio instead.
#pragma once

#include <chrono>
#include <span>
#include <string_view>

#include "codis/status.h"

namespace codis::net {

using Clock = std::chrono::steady_clock;

enum class Wait { kReady, kTimeout, kCancelled };

// Waits for `events` (poll's) on fd until the deadline; a readable fd of `cancel_fds` ends it early.
Wait wait_fd(int fd, short events, Clock::time_point deadline, std::span<const int> cancel_fds = {});

// A TCP connection to `addr` (codis::HostPort: "host:port", "[v6]:port"; an empty host is
// 127.0.0.1), trying every address the name resolves to, by the deadline. The socket comes back
// non-blocking, close-on-exec, with TCP_NODELAY. Errors name the address and the cause; their
// code is Code::kTimeout when the deadline passed, Code::kRefused when every address refused.
Result<int> dial(std::string_view addr, Clock::time_point deadline, std::span<const int> cancel_fds = {});

}  // namespace codis::net
