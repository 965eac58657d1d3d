// AuthThrottle: slows down guessing session_auth. Without it one connection
// could try ~667,000 passwords a second (issue 13). Two brakes, both on the
// answer to AUTH (and HELLO ... AUTH), never on other commands:
// - per connection: after its n-th failure the session holds that answer (and
//   reads nothing more) for 10 ms * 2^(n-1), at most 2 s;
// - per source address: failures raise a score that halves every minute;
//   past a few failures, every AUTH from that address (on any connection of
//   the worker) waits its turn, one per 10 ms * 2^(score-3) (at most 2 s), so
//   many parallel connections do not multiply the rate. When the queue is
//   more than 5 s long the AUTH is refused without looking at the password.
// One table per worker thread (thread_auth_throttle): no locks or atomics on
// any path; a client's connections spread over workers share nothing, which
// bounds the rate at (workers) times the per-worker one. Used by Session.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace codis::proxy {

class AuthThrottle {
 public:
  static constexpr int64_t kMaxDelayMs = 2000;
  static constexpr int64_t kMaxQueueMs = 5000;
  static constexpr double kFreeFailures = 3;  // a few typos cost nothing at the source level
  static constexpr int64_t kHalfLifeMs = 60000;
  static constexpr size_t kMaxSources = 10000;

  // Before a password from `source` is checked: the time its answer may go
  // out (>= now_ms), or -1 when the AUTH must be refused unchecked.
  int64_t admit(std::string_view source, int64_t now_ms);
  // The password was wrong.
  void failed(std::string_view source, int64_t now_ms);
  // How long a connection holds the answer to its `failures`-th failed AUTH.
  static int64_t connection_delay_ms(uint32_t failures);
  size_t sources() const { return sources_.size(); }

 private:
  struct Source {
    double score = 0;
    int64_t updated_ms = 0;
    int64_t next_ms = 0;  // the queue: the next AUTH from here is answered no earlier
  };
  Source& decayed(std::string_view source, int64_t now_ms);
  static int64_t source_delay_ms(double score);
  std::unordered_map<std::string, Source> sources_;
};

// The calling worker thread's table.
AuthThrottle& thread_auth_throttle();

// Logs a failed AUTH at a bounded rate for the whole process (one line per
// second at most, with the number of failures since the previous line).
void log_auth_failure(std::string_view peer, uint32_t connection_failures, bool refused, int64_t now_ms);

}  // namespace codis::proxy
