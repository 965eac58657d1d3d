// TOML configuration files of our daemons, with Codis 3.2's keys.
//
// codis-proxy reads proxy.toml through load_proxy_config(); `--default-config`
// prints default_proxy_config_text(). Keys, meanings and defaults are Codis's
// (pkg/proxy/config.go) plus a few of ours (proxy_max_*_len,
// slowlog_log_slower_than). Parsing never throws: an unknown key, a wrong
// type, a bad duration or size, or a value out of range is an error naming
// the line, the key and what is expected. The dashboard's config will sit
// beside this one and reuse the same key-table machinery in config.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "codis/status.h"
#include <nlohmann/json_fwd.hpp>

namespace codis {

struct ProxyConfig {
  using Duration = std::chrono::milliseconds;

  std::string product_name = "codis-demo";
  std::string product_auth;  // password of the backend redis servers (and the dashboard)
  std::string session_auth;  // password clients must AUTH with; empty = none
  std::string users_file;    // Redis ACL-file syntax users (proxy/src/acl.h); empty = only the default user
  // The restricted Redis user the proxy runs client commands as (codis/backend_identity.h);
  // backend_password empty = derived from product_auth. backend_user empty = the default user.
  std::string backend_user = "codis-proxy";
  std::string backend_password;

  std::string admin_addr = "0.0.0.0:11080";
  // The admin plane's security (config_table.h add_admin_security_fields).
  std::string admin_auth;
  std::string admin_auth_file;
  bool admin_compat_xauth = false;
  std::string metrics_auth;
  std::string admin_tls_cert_file;
  std::string admin_tls_key_file;
  std::string admin_tls_ca_file;
  std::string proto_type = "tcp4";  // tcp, tcp4, tcp6, unix, unixpacket
  std::string proxy_addr = "0.0.0.0:19000";

  std::string jodis_name;  // "", "zookeeper" or "etcd"
  std::string jodis_addr;
  std::string jodis_auth;
  Duration jodis_timeout = std::chrono::seconds(20);
  bool jodis_compatible = false;
  // TLS to etcd (--etcd, jodis_name = "etcd"): CoordinatorOptions::tls_*.
  std::string coordinator_tls_ca_file;
  std::string coordinator_tls_cert_file;
  std::string coordinator_tls_key_file;

  std::string proxy_datacenter;
  int proxy_max_clients = 1000;
  int proxy_max_clients_per_source = 0;  // 0: no limit
  uint64_t proxy_max_offheap_size = uint64_t(1024) << 20;  // Go-only; accepted, unused
  uint64_t proxy_heap_placeholder = uint64_t(256) << 20;   // Go-only; accepted, unused

  Duration backend_ping_period = std::chrono::seconds(5);
  uint64_t backend_recv_bufsize = uint64_t(128) << 10;
  Duration backend_recv_timeout = std::chrono::seconds(30);
  uint64_t backend_send_bufsize = uint64_t(128) << 10;
  Duration backend_send_timeout = std::chrono::seconds(30);
  int backend_max_pipeline = 20480;
  bool backend_primary_only = false;
  int backend_primary_parallel = 1;
  int backend_replica_parallel = 1;
  Duration backend_keepalive_period = std::chrono::seconds(75);
  int backend_number_databases = 16;

  uint64_t session_recv_bufsize = uint64_t(128) << 10;
  Duration session_recv_timeout = std::chrono::minutes(30);
  Duration session_request_timeout = std::chrono::seconds(30);  // a started command must arrive whole; 0: no limit
  uint64_t session_send_bufsize = uint64_t(64) << 10;
  Duration session_send_timeout = std::chrono::seconds(30);
  int session_max_pipeline = 10000;
  Duration session_keepalive_period = std::chrono::seconds(75);
  bool session_break_on_failure = false;

  std::string metrics_report_server;
  Duration metrics_report_period = std::chrono::seconds(1);
  std::string metrics_report_influxdb_server;
  Duration metrics_report_influxdb_period = std::chrono::seconds(1);
  std::string metrics_report_influxdb_username;
  std::string metrics_report_influxdb_password;
  std::string metrics_report_influxdb_database;
  std::string metrics_report_statsd_server;
  Duration metrics_report_statsd_period = std::chrono::seconds(1);
  std::string metrics_report_statsd_prefix;

  // Ours: request limits and the slow log.
  uint64_t proxy_max_bulk_len = uint64_t(512) << 20;
  int proxy_max_array_len = 1048576;
  uint64_t proxy_max_inline_len = uint64_t(64) << 10;
  uint64_t proxy_max_client_memory = uint64_t(1) << 30;  // all client buffers together; 0: no limit
  Duration slowlog_log_slower_than = std::chrono::milliseconds(10);
  // Ours: cluster-wide commands.
  bool proxy_allow_flush = false;          // FLUSHDB/FLUSHALL through the proxy flush every group
  int proxy_keys_max_results = 100000;     // KEYS answers an error past this many keys
  // Ours: TLS on the data plane (common/include/codis/tls.h).
  std::string proxy_tls_addr;       // a second client port speaking TLS; empty: none
  std::string proxy_tls_cert_file;
  std::string proxy_tls_key_file;
  std::string proxy_tls_ca_file;    // set: clients must present a certificate signed by it
  bool backend_tls = false;         // connect to the Redis servers with TLS
  std::string backend_tls_ca_file;  // empty: the system's trust store
  std::string backend_tls_cert_file;
  std::string backend_tls_key_file;
  std::string backend_tls_server_name;  // the name servers' certificates must carry; empty: the address's host

  bool operator==(const ProxyConfig&) const = default;
};

// Parses proxy.toml text. Keys absent from the text keep their defaults.
Result<ProxyConfig> parse_proxy_config(std::string_view toml_text);
// Reads and parses a file; errors start with the path.
Result<ProxyConfig> load_proxy_config(const std::string& path);
// Range and cross-key checks (run by the two above as well).
Status validate(const ProxyConfig& config);

// A commented proxy.toml with every key at its default.
std::string default_proxy_config_text();

// Every key with its value as text, in file order, for the admin API's
// overview. Secrets (product_auth, session_auth, jodis_auth,
// metrics_report_influxdb_password) are left out.
nlohmann::ordered_json describe(const ProxyConfig& config);

// Durations as Codis's timesize: Go's time.ParseDuration syntax ("5s",
// "100ms", "1h30m", "1.5s", units ns/us/ms/s/m/h), or a bare number of
// seconds ("0", "20"). Negative values and values that are not a whole
// number of milliseconds are errors.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);
// Shortest exact text: "0", "250ms", "5s", "30m", "2h".
std::string format_duration(std::chrono::milliseconds d);

// Sizes as Codis's bytesize: a number with an optional unit B, K/KB, M/MB,
// G/GB, T/TB, P/PB (case-insensitive, powers of 1024): "128kb", "1gb",
// "1.5mb", "4096". Negative values are errors.
Result<uint64_t> parse_bytesize(std::string_view text);
// Shortest exact text: "0", "100", "128kb", "512mb", "1gb".
std::string format_bytesize(uint64_t bytes);

}  // namespace codis
