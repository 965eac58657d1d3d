#include "codis/config.h"

#include <cctype>
#include <climits>

#include "codis/backend_identity.h"
#include "codis/host_port.h"
#include "config_table.h"

namespace codis {
namespace {

using namespace config_table;

using std::chrono::milliseconds;

// ---- durations and sizes ----

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool all_number_chars(std::string_view s) {
  bool digit = false;
  int dots = 0;
  for (char c : s) {
    if (is_digit(c)) {
      digit = true;
    } else if (c == '.') {
      dots++;
    } else {
      return false;
    }
  }
  return digit && dots <= 1;
}

// Parses "123.456" times `unit` (an integer scale) into *out, truncating like Go.
bool scaled_number(std::string_view num, __int128 unit, __int128* out) {
  __int128 whole = 0, frac = 0, scale = 1;
  size_t i = 0;
  for (; i < num.size() && is_digit(num[i]); i++) {
    whole = whole * 10 + (num[i] - '0');
    if (whole > (__int128(1) << 64)) return false;
  }
  if (i < num.size() && num[i] == '.') {
    for (i++; i < num.size() && is_digit(num[i]); i++) {
      if (scale < __int128(1000000000000000000LL)) {
        frac = frac * 10 + (num[i] - '0');
        scale *= 10;
      }
    }
  }
  *out = whole * unit + frac * unit / scale;
  return true;
}

constexpr const char* kDurationHint = "expected e.g. \"5s\", \"100ms\", \"30m\", \"1h30m\" or \"0\"";
constexpr const char* kSizeHint = "expected e.g. \"128kb\", \"512mb\", \"1gb\" or a number of bytes";

int64_t duration_unit_ns(std::string_view u) {
  if (u == "ns") return 1;
  if (u == "us" || u == "\xC2\xB5s" || u == "\xCE\xBCs") return 1000;
  if (u == "ms") return 1000000;
  if (u == "s") return 1000000000;
  if (u == "m") return 60LL * 1000000000;
  if (u == "h") return 3600LL * 1000000000;
  return 0;
}

// "host:port" as Go's net.SplitHostPort takes it: host may be empty
// (":19000") or a bracketed IPv6 address ("[::1]:19000").
bool valid_host_port(std::string_view addr) { return HostPort::parse(addr).ok(); }

// ---- proxy.toml ----

using P = ProxyConfig;

const std::vector<Field<P>>& proxy_fields() {
  static const std::vector<Field<P>> fields = with_admin_security<P>({
      {.key = "product_name", .member = &P::product_name,
       .comment = "Product (cluster) name: the coordinator keeps this cluster under /codis3/{product_name}."},
      {.key = "product_auth", .member = &P::product_auth,
       .comment = "Password of the backend redis servers; the dashboard and the proxies use it too.",
       .secret = true},
      {.key = "session_auth", .member = &P::session_auth,
       .comment = "Password clients must send with AUTH before any other command (empty: no AUTH needed).\n"
                  "It is separate from product_auth, which clients never see.",
       .secret = true},
      {.key = "users_file", .member = &P::users_file,
       .comment = "Users at the proxy, in Redis's ACL-file syntax (one `user NAME on >password ~keys +@category`\n"
                  "per line, as redis.conf's aclfile; '#' lines are comments). Clients log in with AUTH user pass,\n"
                  "AUTH pass (the default user) or HELLO 2 AUTH user pass; every command is checked against the\n"
                  "user's categories, commands, key patterns and channels as Redis 7.0 checks them. ACL LOAD,\n"
                  "SIGHUP and PUT /api/proxy/acl/reload re-read it; live sessions keep their login. Without a\n"
                  "`user default` line the default user is `on ~* &* +@all` with session_auth as its password\n"
                  "(nopass when session_auth is empty). Empty: no file, only that default user (Codis's behaviour)."},
      {.key = "backend_user", .member = &P::backend_user,
       .comment = "The Redis ACL user the proxy sends client commands as (not in Codis). The dashboard creates\n"
                  "it on every server, denied admin, dangerous and migration commands, so that EVAL/FCALL\n"
                  "cannot run FLUSHALL, MIGRATE, CONFIG, SLOTSDEL ... even from inside a script. Until a\n"
                  "server has it, the proxy authenticates with product_auth instead and warns (metric\n"
                  "codis_proxy_backend_unrestricted). Empty: always product_auth (unrestricted), which\n"
                  "proxy_allow_flush = true needs, since the user may not flush.\n"
                  "backend_password: its password; empty (the usual): derived from product_auth, as the\n"
                  "dashboard derives it. Set both keys to the same values in dashboard.toml."},
      {.key = "backend_password", .member = &P::backend_password, .secret = true},
      {.key = "admin_addr", .member = &P::admin_addr,
       .comment = "Address of the HTTP admin API (TCP only), as \"host:port\"."},
      {.key = "proto_type", .member = &P::proto_type,
       .comment = "Listener for clients: proto_type is \"tcp\", \"tcp4\", \"tcp6\", \"unix\" or \"unixpacket\";\n"
                  "proxy_addr is \"host:port\", or a socket path for the unix types."},
      {.key = "proxy_addr", .member = &P::proxy_addr},
      {.key = "jodis_name", .member = &P::jodis_name,
       .comment = "Register this proxy for client-side load balancing (jodis).\n"
                  "jodis_name is the coordinator kind (\"zookeeper\" or \"etcd\"; empty: do not register),\n"
                  "jodis_addr its address list, jodis_auth \"user:password\" if it needs one.\n"
                  "The node is /jodis/{product_name}/proxy-{token}, or with jodis_compatible = true\n"
                  "the Codis 2 path /zk/codis/db_{product_name}/proxy-{token}."},
      {.key = "jodis_addr", .member = &P::jodis_addr},
      {.key = "jodis_auth", .member = &P::jodis_auth, .secret = true},
      {.key = "jodis_timeout", .member = &P::jodis_timeout},
      {.key = "jodis_compatible", .member = &P::jodis_compatible},
      {.key = "coordinator_tls_ca_file", .member = &P::coordinator_tls_ca_file,
       .comment = "TLS to etcd (not in Codis), for --etcd and jodis_name = \"etcd\": set coordinator_tls_ca_file\n"
                  "(the endpoints' certificates must chain to it and name the endpoint's host), and\n"
                  "coordinator_tls_cert_file/coordinator_tls_key_file for an etcd with --client-cert-auth."},
      {.key = "coordinator_tls_cert_file", .member = &P::coordinator_tls_cert_file},
      {.key = "coordinator_tls_key_file", .member = &P::coordinator_tls_key_file},
      {.key = "proxy_datacenter", .member = &P::proxy_datacenter,
       .comment = "Datacenter of this proxy; replicas in the same datacenter are preferred for reads."},
      {.key = "proxy_max_clients", .member = &P::proxy_max_clients,
       .comment = "Most client connections served at once; more are refused with an error.", .min = 1,
       .max = INT_MAX},
      {.key = "proxy_max_clients_per_source", .member = &P::proxy_max_clients_per_source,
       .comment = "Most client connections from one source address (0: no limit); more are refused\n"
                  "with an error. Leave it 0 behind HAProxy, where every client has HAProxy's address.",
       .min = 0, .max = INT_MAX},
      {.key = "proxy_max_offheap_size", .member = &P::proxy_max_offheap_size,
       .comment = "Memory tuning of Codis's Go runtime. Accepted for compatibility and ignored."},
      {.key = "proxy_heap_placeholder", .member = &P::proxy_heap_placeholder},
      {.key = "backend_ping_period", .member = &P::backend_ping_period,
       .comment = "How often each backend connection is pinged, which also clears a MASTERDOWN state (0: never)."},
      {.key = "backend_recv_bufsize", .member = &P::backend_recv_bufsize,
       .comment = "Backend connections: buffer sizes and how long a read or a write may take (0: no limit).",
       .min = 1},
      {.key = "backend_recv_timeout", .member = &P::backend_recv_timeout},
      {.key = "backend_send_bufsize", .member = &P::backend_send_bufsize, .min = 1},
      {.key = "backend_send_timeout", .member = &P::backend_send_timeout},
      {.key = "backend_max_pipeline", .member = &P::backend_max_pipeline,
       .comment = "Most requests in flight on one backend connection.", .min = 1, .max = INT_MAX},
      {.key = "backend_primary_only", .member = &P::backend_primary_only,
       .comment = "Never read from replica groups, even where the dashboard enables them."},
      {.key = "backend_primary_parallel", .member = &P::backend_primary_parallel,
       .comment = "Connections per worker thread to each master and to each replica.", .min = 1, .max = INT_MAX},
      {.key = "backend_replica_parallel", .member = &P::backend_replica_parallel, .min = 1, .max = INT_MAX},
      {.key = "backend_keepalive_period", .member = &P::backend_keepalive_period,
       .comment = "TCP keepalive period of backend connections (0: off)."},
      {.key = "backend_number_databases", .member = &P::backend_number_databases,
       .comment = "Number of databases of the backends; clients may SELECT 0 to this minus one.", .min = 1,
       .max = INT_MAX},
      {.key = "session_recv_bufsize", .member = &P::session_recv_bufsize,
       .comment = "Client connections: buffer sizes and timeouts. A client that sends nothing for\n"
                  "session_recv_timeout is disconnected (0: never).",
       .min = 1},
      {.key = "session_recv_timeout", .member = &P::session_recv_timeout},
      {.key = "session_request_timeout", .member = &P::session_request_timeout,
       .comment = "A command that has begun to arrive must arrive whole within this (0: no limit):\n"
                  "a client that stalls in the middle of one is disconnected, whatever\n"
                  "session_recv_timeout says."},
      {.key = "session_send_bufsize", .member = &P::session_send_bufsize, .min = 1},
      {.key = "session_send_timeout", .member = &P::session_send_timeout},
      {.key = "session_max_pipeline", .member = &P::session_max_pipeline,
       .comment = "Most requests of one client in flight at once. Keep it above the longest pipeline\n"
                  "your clients send, or they wait for replies before sending more.",
       .min = 1, .max = INT_MAX},
      {.key = "session_keepalive_period", .member = &P::session_keepalive_period,
       .comment = "TCP keepalive period of client connections (0: off)."},
      {.key = "session_break_on_failure", .member = &P::session_break_on_failure,
       .comment = "On a backend failure, close the client connection instead of replying with an error."},
      {.key = "metrics_report_server", .member = &P::metrics_report_server,
       .comment = "Push metrics as JSON to an HTTP server (e.g. \"http://localhost:28000\") every period\n"
                  "(empty: off)."},
      {.key = "metrics_report_period", .member = &P::metrics_report_period},
      {.key = "metrics_report_influxdb_server", .member = &P::metrics_report_influxdb_server,
       .comment = "Push metrics to InfluxDB (e.g. \"http://localhost:8086\"; empty: off)."},
      {.key = "metrics_report_influxdb_period", .member = &P::metrics_report_influxdb_period},
      {.key = "metrics_report_influxdb_username", .member = &P::metrics_report_influxdb_username},
      {.key = "metrics_report_influxdb_password", .member = &P::metrics_report_influxdb_password, .secret = true},
      {.key = "metrics_report_influxdb_database", .member = &P::metrics_report_influxdb_database},
      {.key = "metrics_report_statsd_server", .member = &P::metrics_report_statsd_server,
       .comment = "Push metrics to statsd (e.g. \"localhost:8125\"; empty: off)."},
      {.key = "metrics_report_statsd_period", .member = &P::metrics_report_statsd_period},
      {.key = "metrics_report_statsd_prefix", .member = &P::metrics_report_statsd_prefix},
      {.key = "proxy_max_bulk_len", .member = &P::proxy_max_bulk_len,
       .comment = "Request limits (not in Codis): the largest bulk string, the most elements of a\n"
                  "command, and the longest inline command. A client going over gets an error.",
       .min = 1},
      {.key = "proxy_max_array_len", .member = &P::proxy_max_array_len, .min = 1, .max = INT_MAX},
      {.key = "proxy_max_inline_len", .member = &P::proxy_max_inline_len, .min = 1},
      {.key = "proxy_max_client_memory", .member = &P::proxy_max_client_memory,
       .comment = "Memory for all client connections' buffers together (not in Codis; as Redis's\n"
                  "maxmemory-clients): requests being received and replies waiting for slow clients.\n"
                  "Over it, the clients holding the most are disconnected first, and logged; the others go\n"
                  "on. Keep it above proxy_max_bulk_len, or one request of the largest size disconnects its\n"
                  "client (0: no limit, at least 1mb otherwise)."},
      {.key = "slowlog_log_slower_than", .member = &P::slowlog_log_slower_than,
       .comment = "Log commands that take longer than this, from request to reply (not in Codis; 0: off)."},
      {.key = "proxy_allow_flush", .member = &P::proxy_allow_flush,
       .comment = "Let clients run FLUSHDB/FLUSHALL through the proxy; they then flush every group\n"
                  "(not in Codis; off by default: one typo would empty the whole cluster). With a users_file\n"
                  "the users' rights decide instead (a user whose rules allow FLUSHALL may run it)."},
      {.key = "proxy_keys_max_results", .member = &P::proxy_keys_max_results,
       .comment = "KEYS runs on every group; past this many keys in total it answers an error\n"
                  "instead (not in Codis). Use SCAN for big keyspaces.",
       .min = 1, .max = INT_MAX},
      {.key = "proxy_tls_addr", .member = &P::proxy_tls_addr,
       .comment = "TLS for clients (not in Codis): a second RESP port, \"host:port\", speaking TLS 1.2 or newer\n"
                  "(empty: none; proxy_addr keeps serving plain TCP). proxy_tls_cert_file and\n"
                  "proxy_tls_key_file are the PEM certificate (chain) and its unencrypted key. With\n"
                  "proxy_tls_ca_file set, clients must present a certificate signed by that CA.\n"
                  "SIGHUP (or a change of the files' modification time) reloads the three files: new\n"
                  "connections get the new certificate, open ones keep theirs; a bad file keeps the old."},
      {.key = "proxy_tls_cert_file", .member = &P::proxy_tls_cert_file},
      {.key = "proxy_tls_key_file", .member = &P::proxy_tls_key_file},
      {.key = "proxy_tls_ca_file", .member = &P::proxy_tls_ca_file},
      {.key = "backend_tls", .member = &P::backend_tls,
       .comment = "TLS to the Redis servers (not in Codis; servers with tls-port and port 0). Their\n"
                  "certificates must chain to backend_tls_ca_file (empty: the system's trust store) and name\n"
                  "the host of the server's address (an IP address must be in the certificate's IP SANs), or\n"
                  "backend_tls_server_name when set. backend_tls_cert_file and backend_tls_key_file: the\n"
                  "proxy's client certificate, for servers with tls-auth-clients yes. Reloaded with SIGHUP\n"
                  "as the proxy_tls_* files. The dashboard has the same keys for its own connections."},
      {.key = "backend_tls_ca_file", .member = &P::backend_tls_ca_file},
      {.key = "backend_tls_cert_file", .member = &P::backend_tls_cert_file},
      {.key = "backend_tls_key_file", .member = &P::backend_tls_key_file},
      {.key = "backend_tls_server_name", .member = &P::backend_tls_server_name},
  }, "admin_addr");
  return fields;
}

Status validate_proxy_tls(const ProxyConfig& c, const Lines* lines) {
  if (!c.proxy_tls_addr.empty()) {
    if (!valid_host_port(c.proxy_tls_addr)) {
      return Status::Error(at(lines, "proxy_tls_addr") + "expected \"host:port\" (e.g. \"0.0.0.0:19443\"), got " +
                           text_quoted(c.proxy_tls_addr));
    }
    if (c.proxy_tls_cert_file.empty() || c.proxy_tls_key_file.empty()) {
      return Status::Error(at(lines, c.proxy_tls_cert_file.empty() ? "proxy_tls_cert_file" : "proxy_tls_key_file") +
                           "proxy_tls_addr needs proxy_tls_cert_file and proxy_tls_key_file");
    }
  }
  if (c.backend_tls_cert_file.empty() != c.backend_tls_key_file.empty()) {
    return Status::Error(at(lines, c.backend_tls_cert_file.empty() ? "backend_tls_cert_file" : "backend_tls_key_file") +
                         "backend_tls_cert_file and backend_tls_key_file go together");
  }
  return Status::Ok();
}

Status validate_proxy(const ProxyConfig& c, const Lines* lines) {
  if (auto st = check_table_ranges(c, proxy_fields(), lines); !st.ok()) return st;
  if (auto st = check_admin_security(c, lines); !st.ok()) return st;
  if (c.product_name.empty()) return Status::Error(at(lines, "product_name") + "must not be empty");
  if (!c.backend_user.empty() && !backend_identity::valid_user(c.backend_user)) {
    return Status::Error(at(lines, "backend_user") +
                         "expected 1..64 of letters, digits, '.', '_', '-', and not \"default\" (empty: "
                         "use product_auth), got " + text_quoted(c.backend_user));
  }
  static const char* const kProtos[] = {"tcp", "tcp4", "tcp6", "unix", "unixpacket"};
  bool known = false;
  for (auto p : kProtos) known = known || c.proto_type == p;
  if (!known) {
    return Status::Error(at(lines, "proto_type") +
                         "expected \"tcp\", \"tcp4\", \"tcp6\", \"unix\" or \"unixpacket\", got " +
                         text_quoted(c.proto_type));
  }
  if (!valid_host_port(c.admin_addr)) {
    return Status::Error(at(lines, "admin_addr") + "expected \"host:port\" (e.g. \"0.0.0.0:11080\"), got " +
                         text_quoted(c.admin_addr));
  }
  if (c.proto_type.starts_with("unix")) {
    if (c.proxy_addr.empty()) return Status::Error(at(lines, "proxy_addr") + "expected a socket path, got \"\"");
  } else if (!valid_host_port(c.proxy_addr)) {
    return Status::Error(at(lines, "proxy_addr") + "expected \"host:port\" (e.g. \"0.0.0.0:19000\"), got " +
                         text_quoted(c.proxy_addr));
  }
  if (auto st = validate_proxy_tls(c, lines); !st.ok()) return st;
  if (c.proxy_max_client_memory != 0 && c.proxy_max_client_memory < (uint64_t(1) << 20)) {
    return Status::Error(at(lines, "proxy_max_client_memory") + "expected 0 (no limit) or at least \"1mb\", got " +
                         std::to_string(c.proxy_max_client_memory) + " bytes");
  }
  if (!c.jodis_name.empty()) {
    if (c.jodis_name != "zookeeper" && c.jodis_name != "etcd") {
      return Status::Error(at(lines, "jodis_name") + "expected \"zookeeper\", \"etcd\" or \"\", got " +
                           text_quoted(c.jodis_name));
    }
    if (c.jodis_addr.empty()) {
      return Status::Error(at(lines, "jodis_addr") + "must be set when jodis_name is " + text_quoted(c.jodis_name));
    }
  }
  if (auto st = check_coordinator_tls(c, "", lines); !st.ok()) return st;
  return Status::Ok();
}

}  // namespace

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  using R = Result<milliseconds>;
  const std::string_view s = trim(text);
  auto bad = [&](const std::string& why) { return R::Error("invalid duration " + text_quoted(text) + ": " + why + "; " + kDurationHint); };
  if (s.empty()) return bad("empty");
  if (s.front() == '-') return bad("negative durations are not allowed");
  __int128 ns = 0;
  if (all_number_chars(s)) {  // Codis's timesize: a bare number means seconds
    if (!scaled_number(s, 1000000000, &ns)) return bad("too large");
  } else {
    // Codis's timesize allows blanks between the number and its unit ("5 s").
    std::string compact(s.front() == '+' ? s.substr(1) : s);
    const size_t num_end = compact.find_first_not_of("0123456789.");
    if (num_end != std::string::npos && num_end > 0) {
      const size_t unit_at = compact.find_first_not_of(" \t", num_end);
      if (unit_at != std::string::npos) compact.erase(num_end, unit_at - num_end);
    }
    std::string_view rest = compact;
    if (rest.empty()) return bad("no number");
    while (!rest.empty()) {
      size_t n = 0;
      while (n < rest.size() && (is_digit(rest[n]) || rest[n] == '.')) n++;
      const std::string_view num = rest.substr(0, n);
      if (!all_number_chars(num)) return bad("expected a number before the unit");
      size_t u = n;
      while (u < rest.size() && !is_digit(rest[u]) && rest[u] != '.') u++;
      const std::string_view unit = rest.substr(n, u - n);
      if (unit.empty()) return bad("missing unit after " + std::string(num));
      const int64_t scale = duration_unit_ns(unit);
      if (scale == 0) return bad("unknown unit " + text_quoted(unit));
      __int128 part = 0;
      if (!scaled_number(num, scale, &part)) return bad("too large");
      ns += part;
      if (ns > INT64_MAX) return bad("too large");
      rest.remove_prefix(u);
    }
  }
  if (ns > INT64_MAX) return bad("too large");
  if (ns % 1000000 != 0) return bad("not a whole number of milliseconds");
  return milliseconds(static_cast<int64_t>(ns / 1000000));
}

std::string format_duration(std::chrono::milliseconds d) {
  const int64_t ms = d.count();
  if (ms == 0) return "0";
  if (ms % 3600000 == 0) return std::to_string(ms / 3600000) + "h";
  if (ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

Result<uint64_t> parse_bytesize(std::string_view text) {
  using R = Result<uint64_t>;
  const std::string_view s = trim(text);
  auto bad = [&](const std::string& why) { return R::Error("invalid size " + text_quoted(text) + ": " + why + "; " + kSizeHint); };
  if (s.empty()) return bad("empty");
  if (s.front() == '-') return bad("negative sizes are not allowed");
  size_t n = 0;
  while (n < s.size() && (is_digit(s[n]) || s[n] == '.')) n++;
  const std::string_view num = s.substr(0, n);
  if (!all_number_chars(num)) return bad("expected a number");
  std::string unit(trim(s.substr(n)));
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (unit.size() == 2 && unit[1] == 'b') unit.pop_back();
  int shift;
  if (unit.empty() || unit == "b") {
    shift = 0;
  } else if (unit == "k") {
    shift = 10;
  } else if (unit == "m") {
    shift = 20;
  } else if (unit == "g") {
    shift = 30;
  } else if (unit == "t") {
    shift = 40;
  } else if (unit == "p") {
    shift = 50;
  } else {
    return bad("unknown unit " + text_quoted(trim(s.substr(n))));
  }
  __int128 bytes = 0;
  if (!scaled_number(num, __int128(1) << shift, &bytes) || bytes > INT64_MAX) return bad("too large");
  return static_cast<uint64_t>(bytes);
}

std::string format_bytesize(uint64_t bytes) {
  if (bytes == 0) return "0";
  static const std::pair<int, const char*> kUnits[] = {{50, "pb"}, {40, "tb"}, {30, "gb"}, {20, "mb"}, {10, "kb"}};
  for (auto [shift, name] : kUnits) {
    const uint64_t unit = uint64_t(1) << shift;
    if (bytes % unit == 0) return std::to_string(bytes / unit) + name;
  }
  return std::to_string(bytes);
}

Status validate(const ProxyConfig& config) { return validate_proxy(config, nullptr); }

Result<ProxyConfig> parse_proxy_config(std::string_view toml_text) {
  return parse_with_table<ProxyConfig>(toml_text, proxy_fields(), &validate_proxy);
}

Result<ProxyConfig> load_proxy_config(const std::string& path) {
  return load_file<ProxyConfig>(path, &parse_proxy_config);
}

std::string default_proxy_config_text() {
  return default_text<ProxyConfig>(
      "##################################################\n"
      "#                                                #\n"
      "#                  Codis-Proxy                   #\n"
      "#                                                #\n"
      "##################################################\n"
      "#\n"
      "# Durations: \"100ms\", \"5s\", \"30m\", \"1h\" (\"0\" disables where noted).\n"
      "# Sizes: \"64kb\", \"512mb\", \"1gb\" (units of 1024) or a number of bytes.\n",
      proxy_fields());
}

nlohmann::ordered_json describe(const ProxyConfig& config) {
  return describe_fields(config, proxy_fields());
}

}  // namespace codis
