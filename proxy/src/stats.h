// Proxy statistics. Each worker thread owns a WorkerStats and is its only
// writer (plain counters, no atomics on the request path). The admin thread
// reads them by posting a copy request to each worker and merging the
// copies (Proxy::collect_stats), so readers never race with writers.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace codis::proxy {

// Upper bounds (microseconds) of the latency histogram buckets; one more bucket is +Inf.
inline constexpr std::array<uint64_t, 14> kLatencyBucketsUs = {
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 5000000};

struct CommandStats {
  uint64_t calls = 0;
  uint64_t usecs = 0;
  uint64_t fails = 0;         // answered with an error made by the proxy (refused, backend down, ...)
  uint64_t redis_errors = 0;  // answered with an error reply from Redis
  std::array<uint64_t, kLatencyBucketsUs.size() + 1> buckets{};  // not cumulative

  void add(const CommandStats& o);
  void subtract(const CommandStats& o);
};

struct BackendState {
  std::string addr;
  int db = 0;
  bool connected = false;
  uint64_t pending = 0;     // requests waiting for a reply
  uint64_t reconnects = 0;  // connections (re)established
  uint64_t errors = 0;      // connections lost or refused
  uint64_t unrestricted = 0;  // connections up that run as an unrestricted Redis identity (not backend_user)
};

struct WorkerStats {
  uint64_t ops_total = 0;
  uint64_t ops_fails = 0;
  uint64_t ops_redis_errors = 0;
  uint64_t sessions_total = 0;
  uint64_t sessions_alive = 0;
  uint64_t protocol_errors = 0;
  uint64_t slow_requests = 0;
  uint64_t auth_failures = 0;  // client AUTH (or HELLO AUTH) with a wrong password, or refused while throttled
  uint64_t request_timeouts = 0;  // clients closed: a started command did not arrive whole in session_request_timeout
  uint64_t client_memory_closes = 0;  // sessions closed over proxy_max_client_memory
  uint64_t client_memory_bytes = 0;   // gauge: the sessions' buffers now (set in snapshots only)
  std::vector<CommandStats> commands;  // indexed by CommandInfo::index

  explicit WorkerStats(size_t ncommands = 0) : commands(ncommands) {}
  void record(uint16_t cmd, uint64_t usecs, bool fail, bool redis_error);
  void add(const WorkerStats& o);
  void subtract(const WorkerStats& o);  // for "stats reset": we keep a baseline, never write a worker's counters
};

// A merged view for the admin API and /metrics.
struct StatsSnapshot {
  WorkerStats totals;
  uint64_t refused_max_clients = 0;  // connections refused: proxy_max_clients
  uint64_t refused_per_source = 0;   // connections refused: proxy_max_clients_per_source
  std::vector<BackendState> backends;
};

size_t latency_bucket(uint64_t usecs);

// Prometheus text exposition (format 0.0.4) of a snapshot plus proxy-level gauges.
std::string render_prometheus(const StatsSnapshot& s, uint64_t qps, bool online, const std::string& product);

}  // namespace codis::proxy
