// codis-dashboard: the topology owner. See dashboard/README.md.
#include <pthread.h>
#include <termios.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "admin_sessions.h"
#include "codis/admin_auth.h"
#include "codis/coordinator.h"
#include "codis/dashboard_config.h"
#include "codis/host_port.h"
#include "codis/http_client.h"
#include "codis/http_server.h"
#include "codis/logging.h"
#include "clients.h"
#include "redis_tls.h"
#include "topom.h"
#include "topom_api.h"
#include "web_assets.h"

namespace {

int fail(const std::string& msg) {
  std::fprintf(stderr, "codis-dashboard: %s\n", msg.c_str());
  return 1;
}

// What goes into the lock node: Codis replaces an unspecified host by the
// machine's name so that codis-fe/codis-admin can reach us.
std::string advertised_addr(const std::string& admin_addr) {
  auto hp = codis::HostPort::parse(admin_addr);  // checked with the config
  if (!hp) return admin_addr;
  if (hp->host.empty() || hp->host == "0.0.0.0" || hp->host == "::") {
    char buf[256] = {};
    ::gethostname(buf, sizeof(buf) - 1);
    hp->host = buf;
  }
  return hp->str();
}

// --hash-password NAME: reads the password (twice, without echo, from a
// terminal; else the first line of stdin) and prints a users file line.
int hash_password_command(const std::string& name) {
  if (!codis::dashboard::valid_user_name(name)) {
    return fail("--hash-password: invalid user name \"" + name + "\" (1 to 64 of A-Z a-z 0-9 . _ -)");
  }
  if (name == "admin") return fail("--hash-password: \"admin\" signs in with the admin secret (admin_auth)");
  const bool tty = ::isatty(STDIN_FILENO) == 1;
  auto read_line = [&](const char* prompt) -> std::optional<std::string> {
    termios saved{};
    if (tty) {
      std::fprintf(stderr, "%s", prompt);
      std::fflush(stderr);
      ::tcgetattr(STDIN_FILENO, &saved);
      termios quiet = saved;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    std::string line;
    const bool got = static_cast<bool>(std::getline(std::cin, line));
    if (tty) {
      ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
      std::fprintf(stderr, "\n");
    }
    if (!got && line.empty()) return std::nullopt;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  };
  auto password = read_line(("Password for " + name + ": ").c_str());
  if (!password || password->empty()) return fail("--hash-password: no password given (on stdin)");
  if (tty) {
    auto again = read_line("Again: ");
    if (!again || *again != *password) return fail("--hash-password: the passwords differ");
  }
  std::cout << name << ":" << codis::dashboard::hash_password(*password) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "codis-dashboard: the topology owner of a Codis-compatible cluster.\n"
      "It keeps groups, slots and proxies in the coordinator (ZooKeeper, etcd or a directory) under\n"
      "/codis3/{product_name}, holds the dashboard lock there (a second dashboard for the same\n"
      "product waits as standby and takes over when the first one dies), pushes the routing\n"
      "table to every proxy and serves Codis 3.2's HTTP API on admin_addr.\n\n"
      "Examples:\n"
      "  codis-dashboard --default-config > dashboard.toml\n"
      "  codis-dashboard --config dashboard.toml --log dashboard.log --log-level info\n"
      "Every call that changes something or reads the topology needs the admin secret (admin_auth;\n"
      "when it is empty the dashboard generates one into admin_auth_file and logs where):\n"
      "  A=\"Authorization: Bearer $(cat admin_auth)\"\n"
      "  X=codis   # Codis's xauth path segment: checked only with admin_compat_xauth = true\n"
      "  curl -H \"$A\" -X PUT http://127.0.0.1:18080/api/topom/group/create/$X/1\n"
      "  curl -H \"$A\" -X PUT http://127.0.0.1:18080/api/topom/group/add/$X/1/127.0.0.1:6379\n"
      "  curl -H \"$A\" -X PUT http://127.0.0.1:18080/api/topom/proxy/create/$X/127.0.0.1:11080\n"
      "  curl -H \"$A\" -X PUT -d '[{\"id\":0,\"group_id\":1}]' http://127.0.0.1:18080/api/topom/slots/assign/$X\n"
      "The operator web UI is served at http://admin_addr/ (sign in as admin with the secret; see --assets-dir).\n",
      "codis-dashboard"};
  std::string config_file, log_file, log_level = "info", pidfile, assets_dir, hash_user;
  bool default_config = false, version = false;
  app.add_option("-c,--config", config_file, "TOML configuration file (see --default-config)");
  app.add_option("-l,--log", log_file, "log file (default: stderr)");
  app.add_option("--log-level", log_level, "debug, info, warn or error")->capture_default_str();
  app.add_option("--pidfile", pidfile, "write the process id to this file");
  app.add_option("--assets-dir", assets_dir,
                 "the built web UI (web-fe/dist) to serve at /; default: <binary dir>/../../web-fe/dist, "
                 "<binary dir>/../share/codis/web-fe, /usr/share/codis/web-fe, the first with an index.html");
  app.add_option("--hash-password", hash_user,
                 "print a line for admin_users_file: NAME and the Argon2id hash of a password read from stdin "
                 "(asked twice, without echo, on a terminal), then exit")
      ->type_name("NAME");
  app.add_flag("--default-config", default_config, "print a commented default configuration and exit");
  app.add_flag("--version", version, "print the version and exit");
  CLI11_PARSE(app, argc, argv);

  if (default_config) {
    std::cout << codis::default_dashboard_config_text();
    return 0;
  }
  if (!hash_user.empty()) return hash_password_command(hash_user);
  if (version) {
    std::cout << "codis-dashboard 0.1.0\n";
    return 0;
  }
  if (config_file.empty()) return fail("--config FILE is required (codis-dashboard --default-config prints one)");
  auto loaded = codis::load_dashboard_config(config_file);
  if (!loaded) return fail(loaded.message());
  if (auto st = codis::log::init(log_file, log_level); !st.ok()) return fail(st.message());
  if (auto st = codis::resolve_admin_auth(loaded.value(), config_file, "dashboard"); !st.ok()) {
    return fail(st.message());
  }
  const codis::DashboardConfig config = std::move(loaded.value());
  // A bad certificate fails now, not when this dashboard takes the lock.
  if (!config.admin_tls_cert_file.empty()) {
    if (auto st = codis::http::check_server_tls(config.admin_tls_cert_file, config.admin_tls_key_file); !st.ok()) {
      return fail(st.message());
    }
  }
  // HTTPS to the proxies' admin ports, verified against our CA file.
  if (!config.admin_tls_ca_file.empty()) {
    auto tls = codis::http::load_client_tls(config.admin_tls_ca_file);
    if (!tls) return fail(tls.message());
    codis::dashboard::set_proxy_tls(std::move(*tls));
  }

  // The web UI's sign-in: "admin" with the admin secret, operators from admin_users_file.
  codis::dashboard::AdminSessions::Options session_options;
  session_options.admin_secret = config.admin_auth;
  session_options.compat_xauth = config.admin_compat_xauth;
  session_options.lifetime = config.admin_session_lifetime;
  session_options.idle_timeout = config.admin_session_idle_timeout;
  if (!config.admin_users_file.empty()) {
    auto users = codis::dashboard::load_users_file(config.admin_users_file);
    if (!users) return fail(users.message());
    session_options.users = std::move(*users);
    session_options.users_file = config.admin_users_file;
    spdlog::info("dashboard: {} operator account(s) from admin_users_file {}", session_options.users.size(),
                 config.admin_users_file);
  }
  codis::dashboard::AdminSessions sessions(std::move(session_options));
  if (auto st = codis::dashboard::redis_tls::configure({config.backend_tls, config.backend_tls_ca_file,
                                                       config.backend_tls_cert_file, config.backend_tls_key_file,
                                                       config.backend_tls_server_name});
      !st.ok()) {
    return fail(st.message());
  }

  // The web UI's bundle: --assets-dir, else the first default place with one.
  std::vector<std::string> searched;
  if (assets_dir.empty()) {
    searched = codis::dashboard::WebAssets::default_dirs(argc > 0 ? argv[0] : "");
    assets_dir = codis::dashboard::WebAssets::find(searched);
  } else {
    std::error_code ec;
    if (!std::filesystem::is_directory(assets_dir, ec)) return fail("--assets-dir " + assets_dir + ": no such directory");
    if (!std::filesystem::is_regular_file(std::filesystem::path(assets_dir) / "index.html", ec)) {
      spdlog::warn("web ui: no index.html in --assets-dir {} (build web-fe: deploy/build.sh); / says so", assets_dir);
    }
  }
  const codis::dashboard::WebAssets web(assets_dir, searched);
  if (assets_dir.empty()) {
    std::string where;
    for (const auto& d : searched) where += (where.empty() ? "" : ", ") + d;
    spdlog::warn("web ui: not built (looked in {}): / answers a page saying how to build it (deploy/build.sh, "
                 "or --assets-dir DIR)", where);
  } else {
    spdlog::info("web ui: serving {} at /", assets_dir);
  }

  // Signals are taken by one thread with sigwait; every other thread blocks them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  codis::CoordinatorOptions coord_options;
  coord_options.auth = config.coordinator_auth;
  coord_options.timeout = std::chrono::seconds(20);
  coord_options.tls_ca_file = config.coordinator_tls_ca_file;
  coord_options.tls_cert_file = config.coordinator_tls_cert_file;
  coord_options.tls_key_file = config.coordinator_tls_key_file;
  auto coord = codis::connect_coordinator_with(config.coordinator_name, config.coordinator_addr, coord_options);
  if (!coord) return fail(coord.message());
  spdlog::info("dashboard: product \"{}\", coordinator {}", config.product_name, (*coord)->describe());

  if (!pidfile.empty()) {
    std::ofstream pf(pidfile);
    pf << ::getpid() << "\n";
    if (!pf) return fail("cannot write --pidfile " + pidfile);
  }

  boost::asio::io_context io;
  codis::dashboard::Topom topom(config, std::move(coord.value()));
  std::atomic<bool> stopping{false};
  std::unique_ptr<codis::http::Server> server;
  std::mutex server_mu;
  auto stop_all = [&] {
    stopping = true;
    std::lock_guard lk(server_mu);
    if (server) server->stop();
  };
  std::thread signals([&] {
    int sig = 0;
    while (sigwait(&sigs, &sig) == 0) {
      if (sig == SIGINT || sig == SIGTERM) {
        spdlog::warn("dashboard: signal {}: shutting down", sig);
        stop_all();
        return;
      }
    }
  });
  signals.detach();

  int rc = 0;
  if (auto st = topom.acquire_lock(advertised_addr(config.admin_addr), [&] { return stopping.load(); }); !st.ok()) {
    spdlog::error("dashboard: {}", st.message());
    rc = stopping ? 0 : 1;
  } else if (auto lst = topom.load(); !lst.ok()) {
    spdlog::error("dashboard: cannot load the topology: {}", lst.message());
    rc = 1;
  } else {
    {
      std::lock_guard lk(server_mu);
      auto security = codis::rpc::security_from(config);
      security.session = [&sessions](const codis::http::Request& req, bool mutating) {
        return sessions.check(req, mutating);
      };
      security.audit = [&sessions](const codis::rpc::AuditEvent& e) { sessions.audit(e); };
      auto table = codis::dashboard::make_topom_router(topom, [&] { stop_all(); }, std::move(security));
      codis::dashboard::add_session_routes(table, sessions);
      auto router = table.http_router();
      codis::dashboard::add_web_routes(router, web);
      // Handlers on a small pool: Topom operations block on the coordinator,
      // proxies and redis servers, and a slow proxy must not stall GET /topom/stats.
      codis::http::Server::Options options;
      options.name = "api";
      options.handler_threads = 4;
      options.tls_cert_file = config.admin_tls_cert_file;
      options.tls_key_file = config.admin_tls_key_file;
      server = std::make_unique<codis::http::Server>(io, std::move(router), options);
      if (auto lst2 = server->listen(config.admin_addr); !lst2.ok()) {
        spdlog::error("dashboard: admin_addr {}: {}", config.admin_addr, lst2.message());
        rc = 1;
      }
    }
    if (rc == 0) {
      topom.start([&] { stop_all(); });
      if (stopping) stop_all();
      io.run();
    }
  }
  topom.close();
  {
    std::lock_guard lk(server_mu);
    server.reset();
  }
  if (!pidfile.empty()) std::remove(pidfile.c_str());
  spdlog::info("dashboard: exit");
  if (rc != 0) std::fprintf(stderr, "codis-dashboard: failed, see the log\n");
  return rc;
}
