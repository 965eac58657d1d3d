#include "codis/dashboard_config.h"
#include "codis/host_port.h"

#include <climits>

#include "codis/backend_identity.h"
#include "config_table.h"

namespace codis {
namespace {

using namespace config_table;
using D = DashboardConfig;

const std::vector<Field<D>>& fields() {
  static const std::vector<Field<D>> table = with_admin_security<D>({
      {"coordinator_name", &D::coordinator_name,
       "Where the topology lives: coordinator_name is \"zookeeper\" (coordinator_addr: \"host:port[,host:port]\"),\n"
       "\"etcd\" (coordinator_addr: its client endpoints, \"host:port[,host:port]\"; etcd 3.4+, v3 API) or\n"
       "\"filesystem\" (coordinator_addr: a directory, for a single machine). coordinator_auth is\n"
       "\"user:password\": ZooKeeper's digest or etcd's own user (empty: none)."},
      {"coordinator_addr", &D::coordinator_addr},
      {"coordinator_auth", &D::coordinator_auth, nullptr, 0, INT64_MAX, true},
      {"coordinator_tls_ca_file", &D::coordinator_tls_ca_file,
       "etcd only (not in Codis): TLS to the endpoints when coordinator_tls_ca_file is set (their\n"
       "certificates must chain to it and name the endpoint's host); coordinator_tls_cert_file and\n"
       "coordinator_tls_key_file for an etcd with --client-cert-auth."},
      {"coordinator_tls_cert_file", &D::coordinator_tls_cert_file},
      {"coordinator_tls_key_file", &D::coordinator_tls_key_file},
      {"admin_addr", &D::admin_addr, "Address of the dashboard's HTTP API, as \"host:port\"."},
      {"admin_users_file", &D::admin_users_file,
       "Operator accounts of the web UI besides \"admin\" (who signs in with admin_auth): a file of\n"
       "\"name:<Argon2id hash>\" lines (# comments), each made by `codis-dashboard --hash-password NAME`.\n"
       "It must not be readable by group or others. Edits take effect within a second (a bad file\n"
       "refuses every operator sign-in until fixed; a removed or changed account's sessions end).\n"
       "Empty: only admin."},
      {"admin_session_lifetime", &D::admin_session_lifetime,
       "A web UI session ends this long after sign-in, or after admin_session_idle_timeout without\n"
       "any request (the open UI polls every second). Sessions are kept in memory: a restart signs\n"
       "everyone out."},
      {"admin_session_idle_timeout", &D::admin_session_idle_timeout},
      {"product_name", &D::product_name,
       "Product (cluster) name: the topology is kept under /codis3/{product_name}.\n"
       "product_auth is the password of the redis servers (the proxies use the same)."},
      {"product_auth", &D::product_auth, nullptr, 0, INT64_MAX, true},
      {"backend_user", &D::backend_user,
       "The Redis ACL user the proxies send client commands as (not in Codis): the dashboard creates it\n"
       "on every server of every group (at start, when a server is added, resynced or promoted, after a\n"
       "failover and whenever a server restarted), denied admin, dangerous and migration commands so\n"
       "that EVAL/FCALL through a proxy cannot run them. The dashboard and slot migration keep using\n"
       "product_auth. backend_password: empty (the usual) derives it from product_auth, as the proxies\n"
       "do. Must match the proxies' keys of the same names. backend_user empty: provision nothing."},
      {"backend_password", &D::backend_password, nullptr, 0, INT64_MAX, true},
      {"migration_method", &D::migration_method,
       "Slot migration: \"semi-async\" (big keys move in chunks, clients are not blocked) or \"sync\"."},
      {"migration_parallel_slots", &D::migration_parallel_slots, nullptr, 1, 1024},
      {"migration_async_maxbulks", &D::migration_async_maxbulks, nullptr, 1},
      {"migration_async_maxbytes", &D::migration_async_maxbytes, nullptr, 1024, INT64_MAX},
      {"migration_async_numkeys", &D::migration_async_numkeys, nullptr, 1},
      {"migration_timeout", &D::migration_timeout},
      {"sentinel_client_timeout", &D::sentinel_client_timeout,
       "Redis Sentinel settings the dashboard writes when it registers the groups' masters."},
      {"sentinel_quorum", &D::sentinel_quorum, nullptr, 1},
      {"sentinel_parallel_syncs", &D::sentinel_parallel_syncs, nullptr, 1},
      {"sentinel_down_after", &D::sentinel_down_after},
      {"sentinel_failover_timeout", &D::sentinel_failover_timeout},
      {"sentinel_notification_script", &D::sentinel_notification_script},
      {"sentinel_client_reconfig_script", &D::sentinel_client_reconfig_script},
      {"backend_tls", &D::backend_tls,
       "TLS to the redis servers and sentinels (not in Codis; servers with tls-port and port 0), with\n"
       "the proxies' backend_tls_* keys and meanings: certificates must chain to backend_tls_ca_file\n"
       "(empty: the system's trust store) and name the host of the address, or backend_tls_server_name;\n"
       "backend_tls_cert_file/backend_tls_key_file for servers with tls-auth-clients yes. Read at start."},
      {"backend_tls_ca_file", &D::backend_tls_ca_file},
      {"backend_tls_cert_file", &D::backend_tls_cert_file},
      {"backend_tls_key_file", &D::backend_tls_key_file},
      {"backend_tls_server_name", &D::backend_tls_server_name},
  }, "admin_addr");
  return table;
}

Status validate_dashboard(const D& c, const Lines* lines) {
  if (auto st = check_table_ranges(c, fields(), lines); !st.ok()) return st;
  if (auto st = check_admin_security(c, lines); !st.ok()) return st;
  if (c.coordinator_name != "zookeeper" && c.coordinator_name != "etcd" && c.coordinator_name != "filesystem") {
    return Status::Error(at(lines, "coordinator_name") + "expected \"zookeeper\", \"etcd\" or \"filesystem\", got \"" +
                         c.coordinator_name + "\"");
  }
  if (c.coordinator_addr.empty()) {
    return Status::Error(at(lines, "coordinator_addr") +
                         "must not be empty (a ZooKeeper or etcd \"host:port\" list, or a directory)");
  }
  if (auto st = check_coordinator_tls(c, c.coordinator_name, lines); !st.ok()) return st;
  if (c.product_name.empty()) {
    return Status::Error(at(lines, "product_name") + "must not be empty");
  }
  if (!c.backend_user.empty() && !backend_identity::valid_user(c.backend_user)) {
    return Status::Error(at(lines, "backend_user") +
                         "expected 1..64 of letters, digits, '.', '_', '-', and not \"default\" (empty: "
                         "use product_auth), got " + text_quoted(c.backend_user));
  }
  for (char ch : c.product_name) {
    if (ch == '/' || static_cast<unsigned char>(ch) < 0x20 || ch == '.') {
      return Status::Error(at(lines, "product_name") +
                           "may not contain '/', '.' or control characters (it is a coordinator path component)");
    }
  }
  for (const auto& [key, d] : {std::pair{"admin_session_lifetime", c.admin_session_lifetime},
                                std::pair{"admin_session_idle_timeout", c.admin_session_idle_timeout}}) {
    if (d < std::chrono::seconds(1)) return Status::Error(at(lines, key) + "expected at least 1s");
  }
  if (auto hp = HostPort::parse(c.admin_addr); !hp) return Status::Error(at(lines, "admin_addr") + hp.message());
  if (c.backend_tls_cert_file.empty() != c.backend_tls_key_file.empty()) {
    return Status::Error(at(lines, c.backend_tls_cert_file.empty() ? "backend_tls_cert_file" : "backend_tls_key_file") +
                         "backend_tls_cert_file and backend_tls_key_file go together");
  }
  if (migration_forward_method(c.migration_method) < 0) {
    return Status::Error(at(lines, "migration_method") +
                         "expected \"semi-async\" or \"sync\", got \"" + c.migration_method + "\"");
  }
  return Status::Ok();
}

}  // namespace

int migration_forward_method(std::string_view method) {
  if (method == "sync") return 0;
  if (method == "semi-async") return 1;
  return -1;
}

Status validate(const DashboardConfig& config) { return validate_dashboard(config, nullptr); }

Result<DashboardConfig> parse_dashboard_config(std::string_view toml_text) {
  return parse_with_table<D>(toml_text, fields(), &validate_dashboard);
}

Result<DashboardConfig> load_dashboard_config(const std::string& path) {
  return load_file<D>(path, &parse_dashboard_config);
}

std::string default_dashboard_config_text() {
  return default_text<D>(
      "##################################################\n"
      "#                                                #\n"
      "#                  Codis-Dashboard               #\n"
      "#                                                #\n"
      "##################################################\n"
      "#\n"
      "# Durations: \"100ms\", \"30s\", \"5m\", \"1h\". Sizes: \"32mb\", \"1gb\" (units of 1024) or bytes.\n",
      fields());
}

nlohmann::ordered_json describe(const DashboardConfig& config) {
  return describe_fields(config, fields());
}

}  // namespace codis
