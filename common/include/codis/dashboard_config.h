// dashboard.toml: the configuration of codis-dashboard, with Codis 3.2's keys
// and defaults (config/dashboard.toml, pkg/topom/config.go).
//
// codis-dashboard reads it through load_dashboard_config(); `--default-config`
// prints default_dashboard_config_text(). Parsing never throws: an unknown key,
// a wrong type, a bad duration/size or a value out of range is an error naming
// the line, the key and what is expected (same rules as proxy.toml, config.h).
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

struct DashboardConfig {
  using Duration = std::chrono::milliseconds;

  std::string coordinator_name = "filesystem";  // "zookeeper", "etcd" or "filesystem"
  std::string coordinator_addr = "/tmp/codis";
  std::string coordinator_auth;  // "user:password": ZooKeeper's digest, etcd's user
  // etcd only: TLS to its endpoints (CoordinatorOptions::tls_*).
  std::string coordinator_tls_ca_file;
  std::string coordinator_tls_cert_file;
  std::string coordinator_tls_key_file;

  std::string admin_addr = "0.0.0.0:18080";
  // The admin plane's security (config_table.h add_admin_security_fields).
  std::string admin_auth;
  std::string admin_auth_file;
  bool admin_compat_xauth = false;
  std::string metrics_auth;
  std::string admin_tls_cert_file;
  std::string admin_tls_key_file;
  std::string admin_tls_ca_file;
  // The web UI's sign-in (dashboard/src/admin_sessions.h).
  std::string admin_users_file;
  Duration admin_session_lifetime = std::chrono::hours(12);
  Duration admin_session_idle_timeout = std::chrono::hours(1);

  std::string product_name = "codis-demo";
  std::string product_auth;  // password of the redis servers
  // The restricted user the dashboard provisions for the proxies (codis/backend_identity.h).
  std::string backend_user = "codis-proxy";
  std::string backend_password;  // empty = derived from product_auth

  std::string migration_method = "semi-async";  // "sync" or "semi-async"
  int migration_parallel_slots = 100;
  int migration_async_maxbulks = 200;
  uint64_t migration_async_maxbytes = uint64_t(32) << 20;
  int migration_async_numkeys = 500;
  Duration migration_timeout = std::chrono::seconds(30);

  Duration sentinel_client_timeout = std::chrono::seconds(10);
  int sentinel_quorum = 2;
  int sentinel_parallel_syncs = 1;
  Duration sentinel_down_after = std::chrono::seconds(30);
  Duration sentinel_failover_timeout = std::chrono::minutes(5);
  std::string sentinel_notification_script;
  std::string sentinel_client_reconfig_script;

  // Ours: TLS to the redis servers (and sentinels), as the proxy's backend_tls_* keys.
  bool backend_tls = false;
  std::string backend_tls_ca_file;
  std::string backend_tls_cert_file;
  std::string backend_tls_key_file;
  std::string backend_tls_server_name;

  bool operator==(const DashboardConfig&) const = default;
};

// Parses dashboard.toml text; keys absent from the text keep their defaults.
Result<DashboardConfig> parse_dashboard_config(std::string_view toml_text);
// Reads and parses a file; errors start with the path.
Result<DashboardConfig> load_dashboard_config(const std::string& path);
// Range and cross-key checks (run by the two above as well).
Status validate(const DashboardConfig& config);

// A commented dashboard.toml with every key at its default.
std::string default_dashboard_config_text();

// Every key with its value as a JSON-ready pair (name, text), in file order,
// without the secrets (coordinator_auth, product_auth): GET /topom's config.
nlohmann::ordered_json describe(const DashboardConfig& config);

// 0 = sync, 1 = semi-async (models::kForward*); -1 if neither.
int migration_forward_method(std::string_view method);

}  // namespace codis
