#include "proxy.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <csignal>
#include <ctime>
#include <fstream>
#include <latch>

#include "codis/host_port.h"
#include "codis/http_server.h"
#include "codis/logging.h"
#include "codis/sha256.h"
#include "codis/systemd.h"
#include "acl.h"
#include "codis/tls.h"
#include "command_table.h"
#include "proxy_api.h"

namespace codis::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// A worker that has not ticked (once a second) for this long makes /health fail.
constexpr int64_t kWorkerStallMs = 5000;

std::string go_time_now() {
  // Codis stores Go's time.Time.String(): "2006-01-02 15:04:05.999999999 -0700 MST".
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count() % 1000000000;
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[96];
  char zone[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  std::strftime(zone, sizeof zone, "%z %Z", &tm);
  return std::string(buf) + "." + std::to_string(ns) + " " + zone;
}

Result<tcp::endpoint> parse_endpoint(const std::string& addr) {
  auto hp = HostPort::parse(addr);
  if (!hp) return hp.status();
  const std::string host = hp->host_or("0.0.0.0");
  const uint16_t port = hp->port;
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(host, ec);
  if (ec) {
    asio::io_context io;
    tcp::resolver r(io);
    auto res = r.resolve(host, std::to_string(port), ec);
    if (ec || res.empty())
      return Result<tcp::endpoint>::Error("cannot resolve '" + host + "': " + ec.message());
    return res.begin()->endpoint();
  }
  return tcp::endpoint(ip, port);
}

int64_t cpu_time_us() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

int64_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  long pages = 0, rss = 0;
  f >> pages >> rss;
  return rss * sysconf(_SC_PAGESIZE);
}

}  // namespace

Proxy::Proxy(ProxyConfig config, int threads)
    : threads_(threads < 1 ? 1 : threads),
      acceptor_(control_),
      tls_acceptor_(control_),
      signals_(control_, SIGINT, SIGTERM, SIGHUP),
      stats_timer_(control_),
      table_(std::make_shared<RoutingTable>()) {
  ctx_.config = std::move(config);
  ctx_.token = random_token();
  const auto& c = ctx_.config;
  model_.token = ctx_.token;
  model_.start_time = go_time_now();
  model_.admin_addr = c.admin_addr;
  model_.proto_type = c.proto_type;
  model_.proxy_addr = c.proxy_addr;
  model_.product_name = c.product_name;
  model_.pid = static_cast<int>(::getpid());
  char cwd[4096];
  model_.pwd = ::getcwd(cwd, sizeof cwd) ? cwd : "";
  utsname u{};
  if (uname(&u) == 0) {
    model_.sys = std::string(u.sysname) + " " + u.nodename + " " + u.release + " " + u.version + " " + u.machine;
    model_.hostname = u.nodename;
  }
  model_.datacenter = c.proxy_datacenter;
  xauth_ = codis_xauth({c.product_name, c.product_auth, ctx_.token});
  baseline_ = WorkerStats(all_commands().size());
}

Proxy::~Proxy() {
  rewatch({});  // before the workers stop: a switch in progress waits for them
  if (handoff_.joinable()) handoff_.join();
  for (auto& w : workers_) w->stop();
  if (coordinator_) {
    // No longer serving: our registration goes too, so the dashboard stops
    // pushing to (and waiting for) a proxy that is gone. After a crash it
    // stays until the next run on this admin address or proxy/remove.
    const auto node = models::path::proxy(ctx_.config.product_name, ctx_.token);
    if (auto st = coordinator_->remove(node); st.ok()) {
      spdlog::info("removed our registration {} from {}", node, coordinator_->describe());
    } else {
      spdlog::warn("could not remove our registration {}: {}", node, st.message());
    }
  }
}

Status Proxy::open() {
  // OpenSSL writes with write(2): a peer gone mid-reply must be an error, not SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  if (auto st = load_tls(); !st.ok()) return st;
  tls_stamp_ = tls_files_stamp();
  auto ep = parse_endpoint(ctx_.config.proxy_addr);
  if (!ep) return Status::Error("proxy_addr: " + ep.message());
  boost::system::error_code ec;
  acceptor_.open(ep->protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(*ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::Error("cannot listen on proxy_addr " + ctx_.config.proxy_addr + ": " + ec.message());
  proxy_port_ = acceptor_.local_endpoint().port();
  if (!ctx_.config.proxy_tls_addr.empty()) {
    auto tep = parse_endpoint(ctx_.config.proxy_tls_addr);
    if (!tep) return Status::Error("proxy_tls_addr: " + tep.message());
    tls_acceptor_.open(tep->protocol(), ec);
    if (!ec) tls_acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) tls_acceptor_.bind(*tep, ec);
    if (!ec) tls_acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return Status::Error("cannot listen on proxy_tls_addr " + ctx_.config.proxy_tls_addr + ": " + ec.message());
    proxy_tls_port_ = tls_acceptor_.local_endpoint().port();
  }

  http::Server::Options admin_options;
  admin_options.name = "admin";
  admin_options.tls_cert_file = ctx_.config.admin_tls_cert_file;
  admin_options.tls_key_file = ctx_.config.admin_tls_key_file;
  admin_ = std::make_unique<http::Server>(control_, make_proxy_router(*this, rpc::security_from(ctx_.config)).http_router(), admin_options);
  if (auto st = admin_->listen(ctx_.config.admin_addr); !st.ok())
    return Status::Error("admin_addr " + ctx_.config.admin_addr + ": " + st.message());

  if (Status st = ctx_.acl.load(ctx_.config); !st.ok()) return Status::Error("users_file: " + st.message());
  if (!acl::table_matches_commands()) return Status::Error("internal: acl_commands.inc does not match the command table");

  ctx_.client_memory.init(static_cast<size_t>(threads_));
  for (int i = 0; i < threads_; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, ctx_));
    workers_.back()->start();
  }
  arm_signals();
  accept_next(acceptor_, false);
  if (tls_acceptor_.is_open()) accept_next(tls_acceptor_, true);
  arm_stats_tick();
  spdlog::info("proxy {} listening on {} (RESP) and {} (admin), {} worker threads, token {}",
               ctx_.config.product_name, ctx_.config.proxy_addr, ctx_.config.admin_addr, threads_, ctx_.token);
  if (tls_acceptor_.is_open())
    spdlog::info("TLS for clients on {}{}, certificate {}", ctx_.config.proxy_tls_addr,
                 ctx_.config.proxy_tls_ca_file.empty() ? "" : " (client certificates required)",
                 tls::describe_cert_file(ctx_.config.proxy_tls_cert_file));
  if (ctx_.config.backend_tls) spdlog::info("TLS to the backends");
  return Status::Ok();
}

Status Proxy::reload_users() {
  if (ctx_.config.users_file.empty()) return Status::Error("no users_file is configured");
  Status st = ctx_.acl.load(ctx_.config);
  if (st.ok()) spdlog::info("users_file {} reloaded", ctx_.config.users_file);
  return st;
}

void Proxy::arm_signals() {
  signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP: reloading the TLS files and users_file");
      if (auto st = reload_tls(); !st.ok()) spdlog::error("TLS reload failed, keeping the old certificates: {}", st.message());
      if (!ctx_.config.users_file.empty()) {
        if (Status st = reload_users(); !st.ok()) spdlog::error("SIGHUP: users_file not reloaded: {}", st.message());
      }
      arm_signals();
      return;
    }
    request_shutdown(sig == SIGINT ? "SIGINT" : "SIGTERM");
  });
}

// ------------------------------------------------------------------ TLS

Status Proxy::load_tls() {
  const auto& c = ctx_.config;
  tls::Context client, backend;
  if (!c.proxy_tls_addr.empty()) {
    auto r = tls::make_server_context({c.proxy_tls_cert_file, c.proxy_tls_key_file, c.proxy_tls_ca_file});
    if (!r) return Status::Error("proxy_tls: " + r.message());
    client = *r;
  }
  if (c.backend_tls) {
    auto r = tls::make_client_context({c.backend_tls_ca_file, c.backend_tls_cert_file, c.backend_tls_key_file});
    if (!r) return Status::Error("backend_tls: " + r.message());
    backend = *r;
  }
  std::lock_guard lk(ctx_.tls_mu);
  ctx_.client_tls_ctx = std::move(client);
  ctx_.backend_tls_ctx = std::move(backend);
  return Status::Ok();
}

Status Proxy::reload_tls() {
  const auto& c = ctx_.config;
  if (c.proxy_tls_addr.empty() && !c.backend_tls) return Status::Ok();
  if (auto st = load_tls(); !st.ok()) return st;
  if (!c.proxy_tls_addr.empty())
    spdlog::info("TLS reloaded; new client connections get certificate {}", tls::describe_cert_file(c.proxy_tls_cert_file));
  else
    spdlog::info("TLS reloaded (backend_tls files)");
  return Status::Ok();
}

// Size and modification time of every TLS file in use, to notice a replaced file.
std::string Proxy::tls_files_stamp() const {
  const auto& c = ctx_.config;
  std::vector<const std::string*> files;
  if (!c.proxy_tls_addr.empty()) files = {&c.proxy_tls_cert_file, &c.proxy_tls_key_file, &c.proxy_tls_ca_file};
  if (c.backend_tls)
    for (auto* f : {&c.backend_tls_ca_file, &c.backend_tls_cert_file, &c.backend_tls_key_file}) files.push_back(f);
  std::string out;
  for (const std::string* f : files) {
    if (f->empty()) continue;
    struct stat st{};
    if (::stat(f->c_str(), &st) != 0) {
      out += "-;";
      continue;
    }
    out += std::to_string(st.st_size) + "," + std::to_string(st.st_mtim.tv_sec) + "." +
           std::to_string(st.st_mtim.tv_nsec) + ";";
  }
  return out;
}

uint16_t Proxy::admin_port() const { return admin_ ? admin_->port() : 0; }

void Proxy::accept_next(tcp::acceptor& acceptor, bool tls) {
  acceptor.async_accept([this, &acceptor, tls](const boost::system::error_code& ec, tcp::socket sock) {
    if (ec == asio::error::operation_aborted || closing_) return;
    if (!ec) {
      // Over a limit: an error line, then the connection is closed; open sessions are not touched.
      std::string ip;
      std::string_view refusal;
      const int64_t n = ctx_.clients.fetch_add(1, std::memory_order_relaxed) + 1;
      if (n > ctx_.config.proxy_max_clients) {
        ctx_.clients.fetch_sub(1, std::memory_order_relaxed);
        ctx_.refused_max_clients.fetch_add(1, std::memory_order_relaxed);
        refusal = "max number of clients reached";
      } else if (ctx_.config.proxy_max_clients_per_source > 0) {
        boost::system::error_code pec;
        auto peer = sock.remote_endpoint(pec);
        if (!pec) ip = peer.address().to_string();  // else a client already gone: not counted
        if (!ip.empty() && !ctx_.take_source(ip)) {
          ctx_.clients.fetch_sub(1, std::memory_order_relaxed);
          ctx_.refused_per_source.fetch_add(1, std::memory_order_relaxed);
          refusal = "max number of clients from this address reached";
        }
      }
      if (!refusal.empty()) {
        std::string msg = "-ERR " + std::string(refusal) + "\r\n";
        boost::system::error_code wec;
        sock.non_blocking(true, wec);  // a full socket buffer must not stall the acceptor
        sock.send(asio::buffer(msg), 0, wec);
        sock.close(wec);
        const int64_t now = monotonic_ms();
        if (now - refused_logged_ms_ >= 1000) {
          spdlog::warn("refused a client: {} (proxy_max_clients {}, per source {}){}", refusal,
                       ctx_.config.proxy_max_clients, ctx_.config.proxy_max_clients_per_source,
                       refused_unlogged_ ? fmt::format("; {} more refused since the last such line", refused_unlogged_)
                                         : std::string());
          refused_logged_ms_ = now;
          refused_unlogged_ = 0;
        } else {
          ++refused_unlogged_;
        }
      } else {
        Worker& w = *workers_[next_worker_++ % workers_.size()];
        int fd = sock.release();
        if (!w.post([&w, fd, tls, ip] { w.adopt_client(fd, tls, ip); })) {
          ::close(fd);
          ctx_.clients.fetch_sub(1, std::memory_order_relaxed);
          if (!ip.empty()) ctx_.release_source(ip);
        }
      }
    } else {
      spdlog::warn("accept: {}", ec.message());
    }
    accept_next(acceptor, tls);
  });
}

void Proxy::arm_stats_tick() {
  stats_timer_.expires_after(std::chrono::seconds(1));
  stats_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || closing_) return;
    if (ctx_.config.backend_tls || !ctx_.config.proxy_tls_addr.empty()) {
      // Replaced certificate files are picked up without a SIGHUP too. A file
      // caught half-written fails to load and is tried again at its next change.
      std::string stamp = tls_files_stamp();
      if (stamp != tls_stamp_) {
        tls_stamp_ = stamp;
        spdlog::info("TLS files changed: reloading");
        if (auto st = reload_tls(); !st.ok())
          spdlog::error("TLS reload failed, keeping the old certificates: {}", st.message());
      }
    }
    if (watchdog_ms_ > 0) {
      // systemd's watchdog (WatchdogSec= in the unit): fed only while every worker turns, so a stuck
      // proxy is restarted. collect() below waits for every worker: a stuck one stops this tick too.
      const int64_t now = monotonic_ms();
      if (now - watchdog_sent_ms_ >= watchdog_ms_ && stalled_worker().empty()) {
        systemd::notify("WATCHDOG=1");
        watchdog_sent_ms_ = now;
      }
    }
    StatsSnapshot s = collect();
    int64_t cpu = cpu_time_us();
    {
      std::lock_guard lk(mu_);
      qps_ = s.totals.ops_total >= last_ops_ ? s.totals.ops_total - last_ops_ : 0;
      last_ops_ = s.totals.ops_total;
      cpu_ = last_cpu_us_ ? (cpu - last_cpu_us_) / 1e6 : 0;
      last_cpu_us_ = cpu;
    }
    arm_stats_tick();
  });
}

void Proxy::run() {
  watchdog_ms_ = systemd::watchdog_period().count();
  systemd::notify("READY=1");  // Type=notify units: the ports are bound and the workers run
  control_.run();
  rewatch({});
  for (auto& w : workers_) w->stop();
  spdlog::info("proxy stopped");
}

void Proxy::request_shutdown(const std::string& why) {
  asio::post(control_, [this, why] {
    if (closing_) return;
    spdlog::warn("proxy shutting down: {}", why);
    systemd::notify("STOPPING=1");
    {
      std::lock_guard lk(mu_);
      closing_ = true;
    }
    boost::system::error_code ec;
    acceptor_.close(ec);
    tls_acceptor_.close(ec);
    signals_.cancel(ec);
    stats_timer_.cancel();
    if (admin_) admin_->stop();
    rewatch({});  // before the workers stop: a switch in progress waits for them
    for (auto& w : workers_) w->stop();
    control_.stop();
  });
}

StatsSnapshot Proxy::collect() const {
  std::vector<StatsSnapshot> parts(workers_.size());
  std::latch done(static_cast<std::ptrdiff_t>(workers_.size()));
  for (size_t i = 0; i < workers_.size(); ++i) {
    Worker* w = workers_[i].get();
    if (!w->post([w, &parts, &done, i] {
          w->snapshot(parts[i]);
          done.count_down();
        }))
      done.count_down();
  }
  done.wait();
  StatsSnapshot out;
  out.totals = WorkerStats(all_commands().size());
  out.refused_max_clients = ctx_.refused_max_clients.load(std::memory_order_relaxed);
  out.refused_per_source = ctx_.refused_per_source.load(std::memory_order_relaxed);
  for (auto& p : parts) {
    out.totals.add(p.totals);
    for (auto& b : p.backends) {
      auto it = std::find_if(out.backends.begin(), out.backends.end(),
                             [&](const BackendState& x) { return x.addr == b.addr && x.db == b.db; });
      if (it == out.backends.end()) {
        out.backends.push_back(b);
      } else {
        it->connected = it->connected && b.connected;
        it->pending += b.pending;
        it->reconnects += b.reconnects;
        it->errors += b.errors;
        it->unrestricted += b.unrestricted;
      }
    }
  }
  std::lock_guard lk(mu_);
  out.totals.subtract(baseline_);
  return out;
}

uint64_t Proxy::table_version() const {
  std::lock_guard lk(mu_);
  return table_->version();
}

Status Proxy::load_slots(const std::vector<models::Slot>& slots, std::optional<uint64_t> only_if_version) {
  for (const auto& s : slots)
    if (auto st = models::validate_slot(s); !st.ok()) return st;
  // One table change at a time, end to end, so workers see versions in order.
  std::lock_guard apply_lock(apply_mu_);
  std::shared_ptr<const RoutingTable> next;
  {
    std::lock_guard lk(mu_);
    if (closing_) return Status::Error("proxy is shutting down");
    if (only_if_version && table_->version() != *only_if_version)
      return Status::Error("the routing table changed meanwhile");
    next = RoutingTable::apply(*table_, slots);
    table_ = next;
  }
  publish(next);
  spdlog::info("routing table v{}: {} slots updated", next->version(), slots.size());
  return Status::Ok();
}

void Proxy::publish(const std::shared_ptr<const RoutingTable>& next) {
  // Wait until every worker uses the new table: once the caller hears OK, no
  // worker routes by the old one (the migration protocol depends on it).
  std::latch done(static_cast<std::ptrdiff_t>(workers_.size()));
  for (auto& w : workers_) {
    Worker* wp = w.get();
    if (!wp->post([wp, next, &done] {
          wp->set_table(next);
          done.count_down();
        }))
      done.count_down();
  }
  done.wait();
}

// ------------------------------------------------------------------ sentinels

void Proxy::rewatch(const std::vector<std::string>& servers) {
  std::lock_guard lk(watch_mu_);
  if (watcher_) {
    watcher_->cancel();
    watcher_.reset();  // joins its threads: milliseconds, every wait there wakes on cancel
  }
  {
    std::lock_guard m(mu_);
    ha_masters_.clear();
    if (closing_ || servers.empty()) return;
  }
  sentinel::Watcher::Options o;
  o.product = ctx_.config.product_name;
  o.auth = ctx_.config.product_auth;
  o.servers = servers;
  o.timeout = std::chrono::seconds(5);
  o.ping_period = std::chrono::seconds(5);
  o.who = "proxy";
  watcher_ = std::make_unique<sentinel::Watcher>(
      std::move(o), [this](const std::map<int, std::string>& masters, const std::string& reason) {
        on_sentinel_masters(masters, reason);
      });
}

void Proxy::on_sentinel_masters(const std::map<int, std::string>& masters, const std::string& reason) {
  std::lock_guard apply_lock(apply_mu_);
  std::shared_ptr<const RoutingTable> next;
  std::map<int, std::pair<std::string, std::string>> moved;  // gid -> (old master, new master)
  std::map<int, int> count;                                   // gid -> slots re-routed
  size_t changed = 0;
  {
    std::lock_guard lk(mu_);
    if (closing_) return;
    ha_masters_ = masters;
    auto slots = table_->switched_slots(masters);
    if (slots.empty()) {
      spdlog::debug("sentinel masters ({}): every slot already routes to its group's master", reason);
      return;
    }
    for (const auto& s : slots) {
      const Route& r = table_->route(static_cast<uint32_t>(s.id));
      if (s.backend_addr != r.backend) {
        moved[r.group_id] = {r.backend, s.backend_addr};
        ++count[r.group_id];
      }
      if (s.migrate_from != r.migrate_from) moved[r.migrate_from_group_id] = {r.migrate_from, s.migrate_from};
    }
    changed = slots.size();
    next = RoutingTable::apply(*table_, slots);
    table_ = next;
    ha_switched_ = true;
  }
  for (const auto& [gid, m] : moved) {
    spdlog::warn("group-[{}] master switched from {} to {} by sentinel ({}): {} slots re-routed", gid, m.first,
                 m.second, reason, count[gid]);
  }
  publish(next);
  spdlog::warn("routing table v{}: {} slots re-routed to new masters by sentinel", next->version(), changed);
}

// ------------------------------------------------------------------ admin API

nlohmann::json Proxy::model() const {
  nlohmann::json j = model_;
  return j;
}

nlohmann::json Proxy::slots() const {
  std::shared_ptr<const RoutingTable> t;
  {
    std::lock_guard lk(mu_);
    t = table_;
  }
  nlohmann::json j = t->to_models();
  return j;
}

nlohmann::json Proxy::stats(bool with_cmds) const {
  StatsSnapshot s = collect();
  nlohmann::json j;
  std::lock_guard lk(mu_);
  j["online"] = online_;
  j["closed"] = closing_;
  nlohmann::json sentinels = nlohmann::json::object();
  if (!sentinel_.servers.empty()) sentinels["servers"] = sentinel_.servers;
  if (!ha_masters_.empty()) {
    nlohmann::json masters = nlohmann::json::object();
    for (const auto& [gid, addr] : ha_masters_) masters[std::to_string(gid)] = addr;
    sentinels["masters"] = masters;
  }
  if (ha_switched_) sentinels["switched"] = true;
  j["sentinels"] = sentinels;
  nlohmann::json ops;
  ops["total"] = s.totals.ops_total;
  ops["fails"] = s.totals.ops_fails;
  ops["redis"] = {{"errors", s.totals.ops_redis_errors}};
  ops["qps"] = qps_;
  if (with_cmds) {
    nlohmann::json cmds = nlohmann::json::array();
    auto table = all_commands();
    for (size_t i = 0; i < s.totals.commands.size() && i < table.size(); ++i) {
      const auto& c = s.totals.commands[i];
      if (!c.calls) continue;
      cmds.push_back({{"opstr", std::string(table[i].name)},
                      {"calls", c.calls},
                      {"usecs", c.usecs},
                      {"usecs_percall", c.calls ? c.usecs / c.calls : 0},
                      {"fails", c.fails},
                      {"redis_errtype", c.redis_errors}});
    }
    ops["cmd"] = cmds;
  }
  j["ops"] = ops;
  j["sessions"] = {{"total", s.totals.sessions_total}, {"alive", s.totals.sessions_alive}};
  int64_t mem = rss_bytes();
  j["rusage"] = {{"now", go_time_now()}, {"cpu", cpu_}, {"mem", mem}};
  j["backend"] = {{"primary_only", ctx_.config.backend_primary_only}};
  j["runtime"] = {{"general", {{"alloc", mem}, {"sys", mem}, {"lookups", 0}, {"mallocs", 0}, {"frees", 0}}},
                  {"heap", {{"alloc", mem}, {"sys", mem}, {"idle", 0}, {"inuse", mem}, {"objects", 0}}},
                  {"gc", {{"num", 0}, {"cpu_fraction", 0}, {"total_pausems", 0}}},
                  {"num_procs", threads_},
                  {"num_goroutines", 0},
                  {"num_cgo_call", 0},
                  {"mem_offheap", 0}};
  j["timeout_cmd_number"] = 0;
  nlohmann::json backends = nlohmann::json::array();
  for (const auto& b : s.backends)
    backends.push_back({{"addr", b.addr}, {"db", b.db}, {"connected", b.connected}, {"pending", b.pending},
                        {"errors", b.errors}});
  j["backends"] = backends;  // ours, beyond Codis
  return j;
}

nlohmann::json Proxy::overview() const {
  // Parsed back into a plain json: the overview's other fields are unordered.
  const nlohmann::json cfg = nlohmann::json::parse(describe(ctx_.config).dump());
  return {{"version", ctx_.product_version},
          {"compile", std::string(__DATE__) + " " + __TIME__},
          {"config", cfg},
          {"model", model()},
          {"stats", stats(false)},
          {"slots", slots()}};
}

Status Proxy::start() {
  std::lock_guard lk(mu_);
  if (closing_) return Status::Error("proxy is shutting down");
  if (!online_) spdlog::info("proxy is online");
  online_ = true;
  return Status::Ok();
}

Status Proxy::fill_slots(const nlohmann::json& body) {
  std::vector<models::Slot> slots;
  try {
    if (!body.is_array()) return Status::Error("fillslots: the body must be a JSON array of slots");
    slots = body.get<std::vector<models::Slot>>();
  } catch (const std::exception& e) {
    return Status::Error(std::string("fillslots: bad slot JSON: ") + e.what());
  }
  return load_slots(slots);
}

void Proxy::reset_stats() {
  StatsSnapshot s = collect();
  std::lock_guard lk(mu_);
  // collect() already subtracted the old baseline: add it back to get the raw totals.
  s.totals.add(baseline_);
  baseline_ = s.totals;
  baseline_.sessions_alive = 0;
  last_ops_ = 0;
  spdlog::info("stats reset");
}

Status Proxy::set_log_level(std::string_view level) { return log::set_level(level); }

Status Proxy::shutdown() {
  request_shutdown("admin API shutdown");
  return Status::Ok();
}

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : ", ") + x;
  return "[" + out + "]";
}

}  // namespace

Status Proxy::set_sentinels(const nlohmann::json& body) {
  models::Sentinel s;
  try {
    s = body.get<models::Sentinel>();
  } catch (const std::exception& e) {
    return Status::Error(std::string("sentinels: bad JSON: ") + e.what());
  }
  {
    std::lock_guard lk(mu_);
    if (closing_) return Status::Error("proxy is shutting down");
    sentinel_ = s;
  }
  spdlog::warn("set sentinels = {}", join(s.servers));
  rewatch(s.servers);
  return Status::Ok();
}

Status Proxy::rewatch_sentinels() {
  std::vector<std::string> servers;
  {
    std::lock_guard lk(mu_);
    if (closing_) return Status::Error("proxy is shutting down");
    servers = sentinel_.servers;
  }
  spdlog::warn("rewatch sentinels = {}", join(servers));
  rewatch(servers);
  return Status::Ok();
}

std::string Proxy::unhealthy() const {
  {
    std::lock_guard lk(mu_);
    if (closing_) return "shutting down";
    if (!online_) return "not online yet (waiting for the dashboard, or --fillslots)";
  }
  return stalled_worker();
}

std::string Proxy::stalled_worker() const {
  // A worker whose loop is stuck (a bug, or a CPU starved for seconds) serves nobody.
  const int64_t now = monotonic_ms();
  for (size_t i = 0; i < workers_.size(); ++i) {
    const int64_t last = workers_[i]->last_tick_ms();
    if (last != 0 && now - last > kWorkerStallMs)
      return fmt::format("worker thread {} has not run its loop for {} ms", i, now - last);
  }
  return "";
}

std::string Proxy::metrics() const {
  StatsSnapshot s = collect();
  std::string coordinators = coordinator_metrics({{"coordinator", coordinator_.get()}, {"jodis", jodis_.get()}});
  std::lock_guard lk(mu_);
  return render_prometheus(s, qps_, online_, ctx_.config.product_name) + coordinators;
}

}  // namespace codis::proxy
