#include "auth_throttle.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cmath>

namespace codis::proxy {

namespace {
constexpr int64_t kBaseDelayMs = 10;
constexpr int64_t kLogEveryMs = 1000;
std::atomic<int64_t> g_last_log_ms{INT64_MIN / 2};
std::atomic<uint64_t> g_unlogged{0};
}  // namespace

AuthThrottle::Source& AuthThrottle::decayed(std::string_view source, int64_t now_ms) {
  auto it = sources_.find(std::string(source));
  if (it == sources_.end()) {
    if (sources_.size() >= kMaxSources) {
      // Forget what has cooled down; if that is not enough (a flood of addresses), start over: the
      // per-connection delay still holds for each of them.
      std::erase_if(sources_, [&](const auto& kv) {
        const auto& s = kv.second;
        return s.next_ms <= now_ms && s.score * std::exp2(-double(now_ms - s.updated_ms) / kHalfLifeMs) < 1;
      });
      if (sources_.size() >= kMaxSources) sources_.clear();
    }
    it = sources_.emplace(std::string(source), Source{0, now_ms, 0}).first;
  }
  Source& s = it->second;
  if (now_ms > s.updated_ms) {
    s.score *= std::exp2(-double(now_ms - s.updated_ms) / kHalfLifeMs);
    s.updated_ms = now_ms;
  }
  return s;
}

int64_t AuthThrottle::source_delay_ms(double score) {
  if (score < kFreeFailures) return 0;
  const double d = kBaseDelayMs * std::exp2(std::min(score - kFreeFailures, 16.0));
  return std::min<int64_t>(kMaxDelayMs, static_cast<int64_t>(d));
}

int64_t AuthThrottle::connection_delay_ms(uint32_t failures) {
  if (failures == 0) return 0;
  return std::min<int64_t>(kMaxDelayMs, kBaseDelayMs << std::min<uint32_t>(failures - 1, 20));
}

int64_t AuthThrottle::admit(std::string_view source, int64_t now_ms) {
  auto it = sources_.find(std::string(source));
  if (it == sources_.end()) return now_ms;  // no failure from there: nothing to look up or keep
  Source& s = decayed(source, now_ms);
  const int64_t d = source_delay_ms(s.score);
  if (d == 0) return now_ms;
  const int64_t start = std::max(now_ms, s.next_ms);
  if (start - now_ms > kMaxQueueMs) return -1;
  s.next_ms = start + d;
  return start;
}

void AuthThrottle::failed(std::string_view source, int64_t now_ms) { decayed(source, now_ms).score += 1; }

AuthThrottle& thread_auth_throttle() {
  static thread_local AuthThrottle t;
  return t;
}

void log_auth_failure(std::string_view peer, uint32_t connection_failures, bool refused, int64_t now_ms) {
  int64_t last = g_last_log_ms.load(std::memory_order_relaxed);
  while (now_ms - last >= kLogEveryMs) {
    if (g_last_log_ms.compare_exchange_weak(last, now_ms, std::memory_order_relaxed)) {
      const uint64_t others = g_unlogged.exchange(0, std::memory_order_relaxed);
      spdlog::warn("client {}: AUTH {} ({} failed on this connection; {} other failed AUTHs since the last line)",
                   peer, refused ? "refused: too many failures from this address" : "failed: wrong password",
                   connection_failures, others);
      return;
    }
  }
  g_unlogged.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace codis::proxy
