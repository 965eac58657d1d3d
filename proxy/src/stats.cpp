#include "stats.h"

#include <algorithm>
#include <cstdio>

#include "command_table.h"

namespace codis::proxy {

void CommandStats::add(const CommandStats& o) {
  calls += o.calls;
  usecs += o.usecs;
  fails += o.fails;
  redis_errors += o.redis_errors;
  for (size_t i = 0; i < buckets.size(); ++i) buckets[i] += o.buckets[i];
}

void CommandStats::subtract(const CommandStats& o) {
  auto sub = [](uint64_t a, uint64_t b) { return a > b ? a - b : 0; };
  calls = sub(calls, o.calls);
  usecs = sub(usecs, o.usecs);
  fails = sub(fails, o.fails);
  redis_errors = sub(redis_errors, o.redis_errors);
  for (size_t i = 0; i < buckets.size(); ++i) buckets[i] = sub(buckets[i], o.buckets[i]);
}

size_t latency_bucket(uint64_t usecs) {
  size_t i = 0;  // most requests land in the first buckets: a forward scan beats a binary search
  while (i < kLatencyBucketsUs.size() && usecs > kLatencyBucketsUs[i]) ++i;
  return i;
}

void WorkerStats::record(uint16_t cmd, uint64_t usecs, bool fail, bool redis_error) {
  ++ops_total;
  CommandStats& c = commands[cmd];
  ++c.calls;
  c.usecs += usecs;
  ++c.buckets[latency_bucket(usecs)];
  if (fail) {
    ++ops_fails;
    ++c.fails;
  }
  if (redis_error) {
    ++ops_redis_errors;
    ++c.redis_errors;
  }
}

void WorkerStats::add(const WorkerStats& o) {
  ops_total += o.ops_total;
  ops_fails += o.ops_fails;
  ops_redis_errors += o.ops_redis_errors;
  sessions_total += o.sessions_total;
  sessions_alive += o.sessions_alive;
  protocol_errors += o.protocol_errors;
  slow_requests += o.slow_requests;
  auth_failures += o.auth_failures;
  request_timeouts += o.request_timeouts;
  client_memory_closes += o.client_memory_closes;
  client_memory_bytes += o.client_memory_bytes;
  if (commands.size() < o.commands.size()) commands.resize(o.commands.size());
  for (size_t i = 0; i < o.commands.size(); ++i) commands[i].add(o.commands[i]);
}

void WorkerStats::subtract(const WorkerStats& o) {
  auto sub = [](uint64_t a, uint64_t b) { return a > b ? a - b : 0; };
  ops_total = sub(ops_total, o.ops_total);
  ops_fails = sub(ops_fails, o.ops_fails);
  ops_redis_errors = sub(ops_redis_errors, o.ops_redis_errors);
  sessions_total = sub(sessions_total, o.sessions_total);
  protocol_errors = sub(protocol_errors, o.protocol_errors);
  slow_requests = sub(slow_requests, o.slow_requests);
  auth_failures = sub(auth_failures, o.auth_failures);
  request_timeouts = sub(request_timeouts, o.request_timeouts);
  client_memory_closes = sub(client_memory_closes, o.client_memory_closes);
  for (size_t i = 0; i < std::min(commands.size(), o.commands.size()); ++i)
    commands[i].subtract(o.commands[i]);
}

namespace {

void line(std::string& out, const char* fmt, auto... args) {
  char buf[512];
  int n = std::snprintf(buf, sizeof buf, fmt, args...);
  if (n > 0) out.append(buf, std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
}

// Label values come from our own tables and configuration; escape anyway.
std::string label(std::string_view v) {
  std::string s;
  for (char c : v) {
    if (c == '\\' || c == '"') s += '\\';
    if (c == '\n') { s += "\\n"; continue; }
    s += c;
  }
  return s;
}

}  // namespace

std::string render_prometheus(const StatsSnapshot& s, uint64_t qps, bool online,
                              const std::string& product) {
  std::string out;
  out.reserve(16 * 1024);
  const WorkerStats& t = s.totals;
  std::string p = label(product);
  out += "# HELP codis_proxy_up 1 when the proxy is online (started by the dashboard or by --fillslots).\n"
         "# TYPE codis_proxy_up gauge\n";
  line(out, "codis_proxy_up{product=\"%s\"} %d\n", p.c_str(), online ? 1 : 0);
  out += "# HELP codis_proxy_ops_total Commands answered.\n# TYPE codis_proxy_ops_total counter\n";
  line(out, "codis_proxy_ops_total %llu\n", (unsigned long long)t.ops_total);
  out += "# HELP codis_proxy_ops_fails_total Commands answered with an error made by the proxy.\n"
         "# TYPE codis_proxy_ops_fails_total counter\n";
  line(out, "codis_proxy_ops_fails_total %llu\n", (unsigned long long)t.ops_fails);
  out += "# HELP codis_proxy_redis_errors_total Commands answered with an error reply from Redis.\n"
         "# TYPE codis_proxy_redis_errors_total counter\n";
  line(out, "codis_proxy_redis_errors_total %llu\n", (unsigned long long)t.ops_redis_errors);
  out += "# HELP codis_proxy_qps Commands per second over the last second.\n# TYPE codis_proxy_qps gauge\n";
  line(out, "codis_proxy_qps %llu\n", (unsigned long long)qps);
  out += "# HELP codis_proxy_sessions_total Client connections accepted.\n# TYPE codis_proxy_sessions_total counter\n";
  line(out, "codis_proxy_sessions_total %llu\n", (unsigned long long)t.sessions_total);
  out += "# HELP codis_proxy_sessions Client connections open now.\n# TYPE codis_proxy_sessions gauge\n";
  line(out, "codis_proxy_sessions %llu\n", (unsigned long long)t.sessions_alive);
  out += "# HELP codis_proxy_protocol_errors_total Client connections closed for a protocol error.\n"
         "# TYPE codis_proxy_protocol_errors_total counter\n";
  line(out, "codis_proxy_protocol_errors_total %llu\n", (unsigned long long)t.protocol_errors);

  out += "# HELP codis_proxy_slow_commands_total Commands slower than slowlog_log_slower_than (each is logged).\n"
         "# TYPE codis_proxy_slow_commands_total counter\n";
  line(out, "codis_proxy_slow_commands_total %llu\n", (unsigned long long)t.slow_requests);
  out += "# HELP codis_proxy_auth_failures_total Client AUTH or HELLO AUTH refused (wrong password, or too many "
         "failures from the address).\n"
         "# TYPE codis_proxy_auth_failures_total counter\n";
  line(out, "codis_proxy_auth_failures_total %llu\n", (unsigned long long)t.auth_failures);
  out += "# HELP codis_proxy_request_timeouts_total Client connections closed because a command that had begun to "
         "arrive did not arrive whole within session_request_timeout.\n"
         "# TYPE codis_proxy_request_timeouts_total counter\n";
  line(out, "codis_proxy_request_timeouts_total %llu\n", (unsigned long long)t.request_timeouts);
  out += "# HELP codis_proxy_clients_refused_total New client connections refused, by the limit they hit.\n"
         "# TYPE codis_proxy_clients_refused_total counter\n";
  line(out, "codis_proxy_clients_refused_total{limit=\"proxy_max_clients\"} %llu\n",
       (unsigned long long)s.refused_max_clients);
  line(out, "codis_proxy_clients_refused_total{limit=\"proxy_max_clients_per_source\"} %llu\n",
       (unsigned long long)s.refused_per_source);
  out += "# HELP codis_proxy_client_memory_bytes Bytes of all client connections' buffers (proxy_max_client_memory "
         "is the limit).\n"
         "# TYPE codis_proxy_client_memory_bytes gauge\n";
  line(out, "codis_proxy_client_memory_bytes %llu\n", (unsigned long long)t.client_memory_bytes);
  out += "# HELP codis_proxy_client_memory_closes_total Client connections closed because all clients' buffers "
         "were over proxy_max_client_memory (the biggest first).\n"
         "# TYPE codis_proxy_client_memory_closes_total counter\n";
  line(out, "codis_proxy_client_memory_closes_total %llu\n", (unsigned long long)t.client_memory_closes);

  auto cmds = all_commands();
  out += "# HELP codis_proxy_command_calls_total Calls per command.\n# TYPE codis_proxy_command_calls_total counter\n";
  for (size_t i = 0; i < t.commands.size() && i < cmds.size(); ++i)
    if (t.commands[i].calls)
      line(out, "codis_proxy_command_calls_total{cmd=\"%s\"} %llu\n", label(cmds[i].name).c_str(),
           (unsigned long long)t.commands[i].calls);
  out += "# HELP codis_proxy_command_errors_total Errors per command (source=proxy or redis).\n"
         "# TYPE codis_proxy_command_errors_total counter\n";
  for (size_t i = 0; i < t.commands.size() && i < cmds.size(); ++i) {
    const auto& c = t.commands[i];
    if (c.fails)
      line(out, "codis_proxy_command_errors_total{cmd=\"%s\",source=\"proxy\"} %llu\n",
           label(cmds[i].name).c_str(), (unsigned long long)c.fails);
    if (c.redis_errors)
      line(out, "codis_proxy_command_errors_total{cmd=\"%s\",source=\"redis\"} %llu\n",
           label(cmds[i].name).c_str(), (unsigned long long)c.redis_errors);
  }
  out += "# HELP codis_proxy_command_duration_seconds Time from reading a command to its reply being ready.\n"
         "# TYPE codis_proxy_command_duration_seconds histogram\n";
  for (size_t i = 0; i < t.commands.size() && i < cmds.size(); ++i) {
    const auto& c = t.commands[i];
    if (!c.calls) continue;
    std::string name = label(cmds[i].name);
    uint64_t cum = 0;
    for (size_t b = 0; b < kLatencyBucketsUs.size(); ++b) {
      cum += c.buckets[b];
      line(out, "codis_proxy_command_duration_seconds_bucket{cmd=\"%s\",le=\"%g\"} %llu\n", name.c_str(),
           kLatencyBucketsUs[b] / 1e6, (unsigned long long)cum);
    }
    cum += c.buckets.back();
    line(out, "codis_proxy_command_duration_seconds_bucket{cmd=\"%s\",le=\"+Inf\"} %llu\n", name.c_str(),
         (unsigned long long)cum);
    line(out, "codis_proxy_command_duration_seconds_sum{cmd=\"%s\"} %.6f\n", name.c_str(), c.usecs / 1e6);
    line(out, "codis_proxy_command_duration_seconds_count{cmd=\"%s\"} %llu\n", name.c_str(),
         (unsigned long long)c.calls);
  }
  out += "# HELP codis_proxy_backend_up 1 when the worker's connection to the backend is established.\n"
         "# TYPE codis_proxy_backend_up gauge\n";
  for (const auto& b : s.backends)
    line(out, "codis_proxy_backend_up{addr=\"%s\",db=\"%d\"} %d\n", label(b.addr).c_str(), b.db,
         b.connected ? 1 : 0);
  out += "# HELP codis_proxy_backend_pending Requests sent to the backend and not answered yet.\n"
         "# TYPE codis_proxy_backend_pending gauge\n";
  for (const auto& b : s.backends)
    line(out, "codis_proxy_backend_pending{addr=\"%s\",db=\"%d\"} %llu\n", label(b.addr).c_str(), b.db,
         (unsigned long long)b.pending);
  out += "# HELP codis_proxy_backend_errors_total Backend connections lost or refused.\n"
         "# TYPE codis_proxy_backend_errors_total counter\n";
  for (const auto& b : s.backends)
    line(out, "codis_proxy_backend_errors_total{addr=\"%s\",db=\"%d\"} %llu\n", label(b.addr).c_str(), b.db,
         (unsigned long long)b.errors);
  out += "# HELP codis_proxy_backend_unrestricted Connections to the backend running client commands as an "
         "unrestricted Redis identity (not backend_user).\n"
         "# TYPE codis_proxy_backend_unrestricted gauge\n";
  for (const auto& b : s.backends)
    line(out, "codis_proxy_backend_unrestricted{addr=\"%s\",db=\"%d\"} %llu\n", label(b.addr).c_str(), b.db,
         (unsigned long long)b.unrestricted);
  return out;
}

}  // namespace codis::proxy
