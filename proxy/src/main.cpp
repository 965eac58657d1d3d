// codis-proxy: the stateless sharding proxy. See proxy/README.md.
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "codis/admin_auth.h"
#include "codis/config.h"
#include "codis/coordinator.h"
#include "codis/logging.h"
#include "codis/models.h"
#include "proxy.h"

namespace {

int fail(const std::string& msg) {
  std::fprintf(stderr, "codis-proxy: %s\n", msg.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  // Memory goes back to the system after a burst (docs/design.md §8.5): buffers of 1 MB and more
  // are mmap'ed, so freeing them unmaps them, and an arena keeps at most 1 MB free at its top.
  // (By default glibc raises both thresholds as big buffers come and go, up to 32 and 64 MB, and
  // a burst's memory stayed with the process.)
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 20);
  CLI::App app{
      "codis-proxy: a stateless Redis sharding proxy, wire-compatible with Codis 3.2.\n"
      "Clients speak plain Redis (RESP2) to proxy_addr; each key's slot (crc32 % 1024)\n"
      "is routed to the group that owns it. The routing table comes from the coordinator\n"
      "(--zookeeper / --etcd / --filesystem: read at start, then pushed by the dashboard through\n"
      "PUT /api/proxy/fillslots on admin_addr) or, without any coordinator, from a JSON\n"
      "file given with --fillslots.\n\n"
      "Examples:\n"
      "  codis-proxy --default-config > proxy.toml\n"
      "  codis-proxy --config proxy.toml --zookeeper 127.0.0.1:2181\n"
      "  codis-proxy --config proxy.toml --etcd 127.0.0.1:2379\n"
      "  codis-proxy --config proxy.toml --fillslots slots.json --log-level info\n",
      "codis-proxy"};
  std::string config_file, log_file, log_level = "info", pidfile, fillslots, dashboard, zookeeper, etcd, filesystem;
  int ncpu = 0;
  bool default_config = false, version = false;
  app.add_option("-c,--config", config_file, "TOML configuration file (see --default-config)");
  app.add_option("-l,--log", log_file, "log file (default: stderr)");
  app.add_option("--log-level", log_level, "debug, info, warn or error")->capture_default_str();
  app.add_option("--ncpu", ncpu, "worker threads (default: number of CPUs)");
  app.add_option("--pidfile", pidfile, "write the process id to this file");
  app.add_option("--fillslots", fillslots,
                 "load the routing table from a JSON file (an array of Codis slot objects:\n"
                 "{\"id\":0,\"backend_addr\":\"127.0.0.1:6379\",\"backend_addr_group_id\":1}) and go online");
  app.add_option("--dashboard", dashboard,
                 "ask this dashboard (its admin address) to take the proxy over (not available yet: use --zookeeper)");
  app.add_option("--zookeeper", zookeeper,
                 "coordinator: ZooKeeper ensemble (host:port[,host:port...]); the proxy registers there,\n"
                 "serves the routing stored there at once, and hands itself to the running dashboard");
  app.add_option("--etcd", etcd,
                 "coordinator: etcd endpoints (host:port[,host:port...]; v3 API), as --zookeeper; TLS to them\n"
                 "with the coordinator_tls_* keys of the config file");
  app.add_option("--filesystem", filesystem, "coordinator: a directory shared with the dashboard on this machine");
  std::string zk_auth, etcd_auth;
  app.add_option("--zookeeper-auth", zk_auth, "digest auth (user:password) for the ZooKeeper nodes");
  app.add_option("--etcd-auth", etcd_auth, "etcd user (user:password) of etcd's authentication");
  app.add_flag("--default-config", default_config, "print a commented default configuration and exit");
  app.add_flag("--version", version, "print the version and exit");
  CLI11_PARSE(app, argc, argv);

  if (default_config) {
    std::cout << codis::default_proxy_config_text();
    return 0;
  }
  if (version) {
    std::cout << "codis-proxy 0.1.0\n";
    return 0;
  }
  if (!dashboard.empty())
    return fail("--dashboard is not available in this version; use --zookeeper, --etcd or --filesystem (the proxy then "
                "finds the dashboard itself), --fillslots FILE, or push the routing table to the admin API");
  if (!zookeeper.empty() + !etcd.empty() + !filesystem.empty() + !fillslots.empty() > 1)
    return fail("give only one of --zookeeper, --etcd, --filesystem and --fillslots");

  codis::ProxyConfig config;
  if (!config_file.empty()) {
    auto c = codis::load_proxy_config(config_file);
    if (!c) return fail(c.message());
    config = std::move(c.value());
  }
  if (auto st = codis::log::init(log_file, log_level); !st.ok()) return fail(st.message());
  if (auto st = codis::resolve_admin_auth(config, config_file, "proxy"); !st.ok()) return fail(st.message());

  std::vector<codis::models::Slot> slots;
  if (!fillslots.empty()) {
    std::ifstream in(fillslots);
    if (!in) return fail("cannot read --fillslots file " + fillslots);
    std::stringstream ss;
    ss << in.rdbuf();
    auto parsed = codis::models::parse_slots(ss.str());
    if (!parsed) return fail(fillslots + ": " + parsed.message());
    slots = std::move(parsed.value());
  }

  if (ncpu <= 0) ncpu = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  codis::proxy::Proxy proxy(config, ncpu);
  if (auto st = proxy.open(); !st.ok()) return fail(st.message());
  if (!fillslots.empty()) {
    if (auto st = proxy.load_slots(slots); !st.ok()) return fail(fillslots + ": " + st.message());
    (void)proxy.start();
  }
  if (!zookeeper.empty() || !etcd.empty() || !filesystem.empty()) {
    codis::CoordinatorOptions options;
    std::string name = "filesystem", addr = filesystem;
    if (!zookeeper.empty()) {
      name = "zookeeper", addr = zookeeper, options.auth = zk_auth;
    } else if (!etcd.empty()) {
      name = "etcd", addr = etcd, options.auth = etcd_auth;
      options.tls_ca_file = config.coordinator_tls_ca_file;
      options.tls_cert_file = config.coordinator_tls_cert_file;
      options.tls_key_file = config.coordinator_tls_key_file;
    }
    auto c = codis::connect_coordinator_with(name, addr, options);
    if (!c) return fail("coordinator: " + c.message());
    if (auto st = proxy.attach_coordinator(std::move(c.value())); !st.ok()) return fail(st.message());
  }
  if (!pidfile.empty()) {
    std::ofstream pf(pidfile);
    pf << ::getpid() << "\n";
    if (!pf) return fail("cannot write --pidfile " + pidfile);
  }
  proxy.run();
  if (!pidfile.empty()) std::remove(pidfile.c_str());
  return 0;
}
