#include "topom.h"

#include "codis/coordinator_models.h"
#include "codis/routing.h"

#include <netdb.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <future>
#include <set>
#include <sstream>

#include "clients.h"
#include "codis/backend_identity.h"
#include "codis/host_port.h"
#include "codis/net.h"
#include "codis/sha256.h"

namespace codis::dashboard {

using nlohmann::json;
using nlohmann::ordered_json;
namespace path = models::path;

namespace {

constexpr auto kProxyTimeout = std::chrono::seconds(5);
constexpr auto kRedisTimeout = std::chrono::seconds(2);
constexpr auto kPromoteCatchUp = std::chrono::milliseconds(10000);  // a replica this far behind is not promoted
constexpr auto kStatsTimeout = std::chrono::milliseconds(900);
// The poller re-runs ACL SETUSER this often even when the server did not restart: an ACL changed or
// deleted by hand (ACL DELUSER, ACL LOAD) is repaired within this time.
constexpr auto kReprovisionEvery = std::chrono::minutes(5);

std::string gstr(int gid) { return "group-[" + std::to_string(gid) + "]"; }
std::string sstr(int sid) { return "slot-[" + std::to_string(sid) + "]"; }

int64_t unix_now() { return static_cast<int64_t>(std::time(nullptr)); }

// Go's time.Time.String() without the monotonic part.
std::string go_time_now() {
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count() % 1000000000;
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[64], zone[16];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  std::strftime(zone, sizeof(zone), "%z %Z", &tm);
  char frac[16];
  std::snprintf(frac, sizeof(frac), ".%09lld", static_cast<long long>(ns));
  return std::string(buf) + frac + " " + zone;
}

std::string uname_text() {
  utsname u{};
  if (::uname(&u) != 0) return "";
  return std::string(u.sysname) + " " + u.nodename + " " + u.release + " " + u.version + " " + u.machine;
}

// Codis's InfoFull: INFO as a map, master_addr when replicating, and
// maxmemory (CONFIG GET; INFO's maxmemory is not always there).
Result<std::map<std::string, std::string>> info_full(RedisClient& c) {
  auto info = c.info();
  if (!info) return info;
  auto& m = *info;
  const auto host = m.find("master_host");
  const auto port = m.find("master_port");
  if (host != m.end() || port != m.end()) {
    m["master_addr"] = (host != m.end() ? host->second : "") + ":" + (port != m.end() ? port->second : "");
  }
  if (auto mm = c.call({"CONFIG", "GET", "maxmemory"});
      mm && mm->type == resp::Value::Type::kArray && mm->elements.size() == 2) {
    m["maxmemory"] = mm->elements[1].str;
  }
  return info;
}

// Redis replies -> JSON: what SENTINEL MASTERS / SLAVES return (flat
// field/value arrays) becomes an object.
json field_pairs(const resp::Value& v) {
  json o = json::object();
  for (size_t i = 0; i + 1 < v.elements.size(); i += 2) o[v.elements[i].str] = v.elements[i + 1].str;
  return o;
}

std::string sentinel_error(const std::string& addr, const std::string& what, const Result<resp::Value>& r) {
  if (!r) return "sentinel " + addr + ": " + what + " failed: " + r.message();
  return "sentinel " + addr + ": " + what + " failed: " + r->str;
}

bool failed_reply(const Result<resp::Value>& r) { return !r || r->type == resp::Value::Type::kError; }

// INFO server's run_id ("" when unknown): it changes when the server restarts, which loses its ACL users.
std::string server_run_id(RedisClient& c) {
  auto r = c.call({"INFO", "server"});
  if (!r || r->type != resp::Value::Type::kBulk) return "";
  const std::string& s = r->str;
  const auto pos = s.find("run_id:");
  if (pos == std::string::npos) return "";
  const auto end = s.find_first_of("\r\n", pos);
  return s.substr(pos + 7, end == std::string::npos ? std::string::npos : end - pos - 7);
}

// The lock node holds Codis's Topom model and, after it, this process's
// identity (Codis's Go tools decode it into their Topom struct and ignore
// fields they do not know): "boot_id" and "pid_start" (start time of "pid" in
// clock ticks since boot). A restarted dashboard reads them back to prove
// that the holder was an earlier run of itself that is gone.
std::string lock_node_data(const models::Topom& model) {
  auto j = ordered_json::parse(models::encode(model));
  j["boot_id"] = boot_id();
  j["pid_start"] = process_start_time(model.pid);
  return j.dump(4);
}

// The host name in a `sys` field: uname's second word (ours, and Codis's `uname -a`).
std::string sys_host(const std::string& sys) {
  std::istringstream in(sys);
  std::string kernel, host;
  in >> kernel >> host;
  return host;
}

// Whether anything accepts TCP connections at host:port (within 500 ms). A
// timeout or an unresolvable name count as yes: only a refusal proves no one
// serves there.
bool something_listens(const std::string& addr) {
  auto fd = net::dial(addr, net::Clock::now() + std::chrono::milliseconds(500));
  if (fd) ::close(*fd);
  return fd.ok() || fd.code() != Code::kRefused;
}

}  // namespace

// Proof that the lock's holder was an earlier run of this dashboard and is
// gone (docs/operations.md, "Restarting the dashboard"): the same admin
// address and host, the same boot, its pid no longer that process (absent, or
// started at another time), and nothing listening at the admin address. Then
// the reason, else "" and *why_not. Anything unreadable proves nothing.
std::string Topom::dead_self_holder(const std::string& held, std::string* why_not) const {
  auto j = json::parse(held, nullptr, false);
  auto text = [&](const char* key) {
    return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
  };
  auto number = [&](const char* key) -> long long {
    return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<long long>() : 0;
  };
  const std::string admin = text("admin_addr"), host = sys_host(text("sys")), boot = text("boot_id");
  const long long pid = number("pid"), start = number("pid_start");
  if (admin != model_.admin_addr) {
    *why_not = "its admin address " + (admin.empty() ? std::string("(none)") : admin) + " is not ours";
  } else if (host.empty() || host != sys_host(model_.sys)) {
    *why_not = "it ran on host " + (host.empty() ? std::string("(unknown)") : host) + ", not this one";
  } else if (boot.empty() || start <= 0 || pid <= 0) {
    *why_not = "it did not record its process identity (Codis's dashboard, or an older codis-ng)";
  } else if (boot != boot_id()) {
    *why_not = "this machine has restarted since it wrote the lock";
  } else if (process_start_time(static_cast<int>(pid)) == static_cast<unsigned long long>(start)) {
    *why_not = "its process (pid " + std::to_string(pid) + ") still runs";
  } else if (something_listens(admin)) {
    *why_not = "something still answers at " + admin;
  } else {
    return "it was an earlier run of this dashboard (same admin address and host, pid " + std::to_string(pid) +
           " gone)";
  }
  return "";
}

Topom::Topom(DashboardConfig config, std::unique_ptr<Coordinator> coordinator)
    : config_(std::move(config)), coord_(std::move(coordinator)) {
  xauth_ = codis_xauth({config_.product_name});
  slots_.resize(models::kMaxSlotNum);
  for (int i = 0; i < models::kMaxSlotNum; ++i) slots_[i].id = i;
}

Topom::~Topom() { close(); }

Status Topom::acquire_lock(const std::string& admin_addr, const std::function<bool()>& should_stop) {
  char cwd[4096] = {};
  model_.token = random_token();
  model_.start_time = go_time_now();
  model_.admin_addr = admin_addr;
  model_.product_name = config_.product_name;
  model_.pid = static_cast<int>(::getpid());
  model_.pwd = ::getcwd(cwd, sizeof(cwd) - 1) ? cwd : "";
  model_.sys = uname_text();
  const std::string lock = path::topom(config_.product_name);
  lock_data_ = lock_node_data(model_);
  const std::string& data = lock_data_;

  // The watch wakes us when the holder's node changes or goes away.
  auto watch = coord_->watch_data(lock, [this] {
    std::lock_guard lk(lock_wait_mu_);
    lock_changed_ = true;
    lock_wait_cv_.notify_all();
  });
  if (!watch) return watch.status();
  bool told = false;
  for (;;) {
    if (should_stop()) return Status::Error("stopped while waiting for the dashboard lock");
    {
      std::lock_guard lk(lock_wait_mu_);
      lock_changed_ = false;
    }
    auto st = coord_->create_ephemeral(lock, data);
    if (st.ok()) {
      locked_ = true;
      spdlog::info("topom: took the dashboard lock {} (token {}){}", lock, model_.token,
                   told ? ": the previous dashboard is gone, taking over" : "");
      return Status::Ok();
    }
    auto cur = coord_->read(lock);
    if (!cur) return Status::Error("cannot read the dashboard lock " + lock + ": " + cur.message());
    if (!cur->has_value()) continue;  // released meanwhile: try again at once
    // A lock left by a killed run of this very dashboard would stay until its
    // ZooKeeper session expires (up to the session timeout): remove it now if
    // we can prove it is ours and dead, and unchanged since we read it.
    std::string why_not;
    if (auto why = dead_self_holder(**cur, &why_not); !why.empty()) {
      auto removed = coord_->remove_if_unchanged(lock, **cur);
      if (removed && *removed) {
        spdlog::warn("topom: removed the stale dashboard lock {}: {}", lock, why);
        told = true;  // "taking over" in the log
        continue;
      }
      why_not = removed ? "it changed meanwhile" : removed.message();
    }
    if (!told) {
      auto holder = models::parse_json<models::Topom>(**cur);
      spdlog::warn(
          "topom: another dashboard holds {} ({}); waiting as standby and taking over when it goes away "
          "(not taken at once: {})",
          lock, holder ? "admin " + holder->admin_addr + ", pid " + std::to_string(holder->pid) : std::string("unreadable"),
          why_not);
      told = true;
    }
    std::unique_lock lk(lock_wait_mu_);
    lock_wait_cv_.wait_for(lk, std::chrono::milliseconds(500), [this] { return lock_changed_; });
  }
}

Status Topom::load() {
  std::lock_guard op(op_mu_);
  const auto& product = config_.product_name;
  std::map<int, models::Group> groups;
  std::vector<models::SlotMapping> slots(models::kMaxSlotNum);
  std::map<std::string, models::Proxy> proxies;
  for (int i = 0; i < models::kMaxSlotNum; ++i) slots[i].id = i;

  auto group_list = models::read_dir<models::Group>(*coord_, path::group_dir(product));
  if (!group_list) return group_list.status();
  for (auto& g : *group_list) groups[g.id] = std::move(g);
  auto slot_list = models::read_dir<models::SlotMapping>(*coord_, path::slot_dir(product));
  if (!slot_list) return slot_list.status();
  for (auto& m : *slot_list) {
    if (m.id < 0 || m.id >= models::kMaxSlotNum) return Status::Error("bad slot node: id " + std::to_string(m.id));
    slots[m.id] = std::move(m);
  }
  auto proxy_nodes = models::read_dir<models::Proxy>(*coord_, path::proxy_dir(product));
  if (!proxy_nodes) return proxy_nodes.status();
  for (auto& p : *proxy_nodes) proxies[p.token] = std::move(p);
  auto sentinel = models::read_node<models::Sentinel>(*coord_, path::sentinel(product));
  if (!sentinel) return sentinel.status();
  std::lock_guard lk(models_mu_);
  groups_ = std::move(groups);
  slots_ = std::move(slots);
  proxies_ = std::move(proxies);
  sentinel_ = sentinel->value_or(models::Sentinel{});
  spdlog::info("topom: loaded {} groups, {} proxies from {}", groups_.size(), proxies_.size(), coord_->describe());
  return Status::Ok();
}

void Topom::start(std::function<void()> on_lost_lock) {
  on_lost_lock_ = std::move(on_lost_lock);
  auto watch = coord_->watch_data(path::topom(config_.product_name), [this] { on_lock_changed(); });
  if (watch) lock_watch_ = std::move(*watch);
  poller_ = std::thread([this] { poll_loop(); });
  executor_ = std::thread([this] { executor_loop(); });
  std::vector<std::string> sentinels;
  {
    std::lock_guard lk(models_mu_);
    sentinels = sentinel_.servers;
  }
  if (!sentinels.empty()) rewatch_sentinels(sentinels);
}

void Topom::on_lock_changed() {
  if (closed_ || lost_lock_) return;
  const std::string lock = path::topom(config_.product_name);
  auto cur = coord_->read(lock);
  if (!cur) return;  // unreachable store: the watch fires again once it is back
  if (!cur->has_value()) {
    // Our session was replaced and the node is not back yet: take it again.
    auto st = coord_->create_ephemeral(lock, lock_data_);
    if (st.ok()) spdlog::warn("topom: re-created the dashboard lock {}", lock);
    return;
  }
  auto holder = models::parse_json<models::Topom>(**cur);
  if (holder && holder->token == model_.token) return;
  lost_lock_ = true;
  spdlog::error("topom: the dashboard lock {} now belongs to another dashboard ({}); shutting down", lock,
                holder ? holder->admin_addr : std::string("unreadable"));
  if (on_lost_lock_) on_lost_lock_();
}

void Topom::close() {
  if (closed_.exchange(true)) return;
  rewatch_sentinels({});  // stops the watcher (its callback gives up on closed_)
  {
    std::lock_guard lk(poll_mu_);
    poll_stop_ = true;
  }
  poll_cv_.notify_all();
  {
    std::lock_guard lk(exec_mu_);
    exec_stop_ = true;
  }
  exec_cv_.notify_all();
  if (executor_.joinable()) executor_.join();
  if (poller_.joinable()) poller_.join();
  lock_watch_.reset();
  if (locked_ && !lost_lock_) {
    const std::string lock = path::topom(config_.product_name);
    auto cur = coord_->read(lock);
    if (cur && cur->has_value()) {
      auto holder = models::parse_json<models::Topom>(**cur);
      if (holder && holder->token == model_.token) {
        if (auto st = coord_->remove(lock); !st.ok()) spdlog::warn("topom: {}", st.message());
      }
    }
    spdlog::info("topom: released the dashboard lock {}", lock);
  }
  locked_ = false;
}

// ---- store ----

Status Topom::store_group(const models::Group& g) {
  if (auto st = coord_->update(path::group(config_.product_name, g.id), models::encode(g)); !st.ok()) return st;
  std::lock_guard lk(models_mu_);
  groups_[g.id] = g;
  return Status::Ok();
}

Status Topom::store_remove_group(int gid) {
  if (auto st = coord_->remove(path::group(config_.product_name, gid)); !st.ok()) return st;
  std::lock_guard lk(models_mu_);
  groups_.erase(gid);
  return Status::Ok();
}

Status Topom::store_slot(const models::SlotMapping& m) {
  if (auto st = coord_->update(path::slot(config_.product_name, m.id), models::encode(m)); !st.ok()) return st;
  std::lock_guard lk(models_mu_);
  slots_[m.id] = m;
  return Status::Ok();
}

Status Topom::store_proxy(const models::Proxy& p) {
  if (auto st = coord_->update(path::proxy(config_.product_name, p.token), models::encode(p)); !st.ok()) return st;
  std::lock_guard lk(models_mu_);
  proxies_[p.token] = p;
  return Status::Ok();
}

Status Topom::store_remove_proxy(const std::string& token) {
  if (auto st = coord_->remove(path::proxy(config_.product_name, token)); !st.ok()) return st;
  std::lock_guard lk(models_mu_);
  proxies_.erase(token);
  return Status::Ok();
}

Status Topom::store_sentinel(const models::Sentinel& p) {
  if (auto st = coord_->update(path::sentinel(config_.product_name), models::encode(p)); !st.ok()) return st;
  std::lock_guard lk(models_mu_);
  sentinel_ = p;
  return Status::Ok();
}

Status Topom::mark_sentinels_out_of_sync() {
  models::Sentinel p;
  {
    std::lock_guard lk(models_mu_);
    p = sentinel_;
  }
  if (p.servers.empty() || p.out_of_sync) return Status::Ok();
  p.out_of_sync = true;
  return store_sentinel(p);
}

// ---- context (Codis's pkg/topom/context.go) ----

std::string Topom::group_master(int gid) const {
  auto it = groups_.find(gid);
  if (it == groups_.end() || it->second.servers.empty()) return "";
  return it->second.servers[0].server;
}

bool Topom::group_locked(int gid) const {
  auto it = groups_.find(gid);
  return it != groups_.end() && !it->second.promoting.state.empty();
}

bool Topom::group_in_use(int gid) const {
  for (const auto& m : slots_) {
    if (m.group_id == gid || m.action.target_id == gid) return true;
  }
  return false;
}

models::Slot Topom::to_slot(const models::SlotMapping& m, const models::Proxy* p) const {
  models::RoutingOptions options;
  options.forward_method = migration_forward_method(config_.migration_method);
  if (p) options.datacenter = p->datacenter;
  return models::slot_route(m, groups_, options);
}

std::vector<models::Proxy> Topom::proxy_list() const {
  std::vector<models::Proxy> out;
  for (const auto& [t, p] : proxies_) out.push_back(p);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

std::string Topom::proxy_xauth(const models::Proxy& p) const {
  return codis_xauth({p.product_name, config_.product_auth, p.token});
}

// ---- proxies ----

Status Topom::resync_slots(const std::vector<models::SlotMapping>& slots) {
  if (slots.empty()) return Status::Ok();
  refresh_proxies();  // proxies that registered or deregistered themselves since
  std::vector<std::pair<models::Proxy, std::string>> bodies;
  {
    std::lock_guard lk(models_mu_);
    for (const auto& p : proxy_list()) {
      std::vector<models::Slot> table;
      for (const auto& m : slots) table.push_back(to_slot(m, &p));
      bodies.emplace_back(p, models::encode(table));
    }
  }
  std::vector<std::future<Result<json>>> futures;
  for (const auto& [p, body] : bodies) {
    futures.push_back(std::async(std::launch::async, [this, p = p, body = body] {
      return rpc_call(p.admin_addr, "PUT", "/api/proxy/fillslots/" + proxy_xauth(p), body, kProxyTimeout, config_.admin_auth);
    }));
  }
  std::string failed;
  for (size_t i = 0; i < futures.size(); ++i) {
    auto r = futures[i].get();
    const auto& p = bodies[i].first;
    if (!r.ok()) {
      spdlog::error("topom: proxy-[{}] ({}) resync slots failed: {}", p.token, p.admin_addr, r.message());
      if (!failed.empty()) failed += "; ";
      failed += "proxy-[" + p.token + "] (" + p.admin_addr + "): " + r.message();
    }
  }
  if (!failed.empty()) {
    return Status::Error("the change is stored in the coordinator, but proxies resync slots failed: " + failed +
                         " (fix or remove the proxy, then reinit it)");
  }
  return Status::Ok();
}

Status Topom::resync_slots_of_group(int gid) {
  std::vector<models::SlotMapping> slots;
  {
    std::lock_guard lk(models_mu_);
    for (const auto& m : slots_) {
      if (m.group_id == gid || m.action.target_id == gid) slots.push_back(m);
    }
  }
  return resync_slots(slots);
}

Status Topom::reinit(const models::Proxy& p) {
  std::string table;
  {
    std::lock_guard lk(models_mu_);
    std::vector<models::Slot> all;
    for (const auto& m : slots_) all.push_back(to_slot(m, &p));
    table = models::encode(all);
  }
  const std::string x = proxy_xauth(p);
  spdlog::info("topom: proxy-[{}] reinit ({})", p.token, p.admin_addr);
  if (auto r = rpc_call(p.admin_addr, "PUT", "/api/proxy/fillslots/" + x, table, kProxyTimeout, config_.admin_auth); !r) {
    return Status::Error("proxy-[" + p.token + "] fillslots failed: " + r.message());
  }
  if (auto r = rpc_call(p.admin_addr, "PUT", "/api/proxy/start/" + x, "", kProxyTimeout, config_.admin_auth); !r) {
    return Status::Error("proxy-[" + p.token + "] start failed: " + r.message());
  }
  // Codis's reinit also hands over the sentinels, so the proxy follows failovers.
  models::Sentinel sentinel;
  {
    std::lock_guard lk(models_mu_);
    sentinel = sentinel_;
  }
  if (!sentinel.servers.empty()) {
    if (auto r = rpc_call(p.admin_addr, "PUT", "/api/proxy/sentinels/" + x, models::encode(sentinel), kProxyTimeout, config_.admin_auth);
        !r) {
      return Status::Error("proxy-[" + p.token + "] set sentinels failed: " + r.message());
    }
  }
  return Status::Ok();
}

Result<models::Proxy> Topom::fetch_proxy_model(const std::string& addr) {
  auto r = rpc_call(addr, "GET", "/api/proxy/model", "", kProxyTimeout, config_.admin_auth);
  if (!r) return Result<models::Proxy>::Error("proxy@" + addr + " fetch model failed: " + r.message());
  auto p = models::parse_json<models::Proxy>(r->dump());
  if (!p) return Result<models::Proxy>::Error("proxy@" + addr + " fetch model failed: " + p.message());
  if (p->product_name != config_.product_name) {
    return Result<models::Proxy>::Error("proxy-[" + p->token + "] product name doesn't match (proxy: \"" +
                                        p->product_name + "\", dashboard: \"" + config_.product_name + "\")");
  }
  return p;
}

Status Topom::create_proxy(const std::string& addr) {
  std::lock_guard op(op_mu_);
  auto p = fetch_proxy_model(addr);
  if (!p) return p.status();
  int max_id = 0;
  {
    std::lock_guard lk(models_mu_);
    if (proxies_.count(p->token)) return Status::Error("proxy-[" + p->token + "] already exists");
    for (const auto& [t, x] : proxies_) max_id = std::max(max_id, x.id);
  }
  p->id = max_id + 1;
  if (auto st = store_proxy(*p); !st.ok()) return st;
  return reinit(*p);
}

Status Topom::online_proxy(const std::string& addr) {
  std::lock_guard op(op_mu_);
  auto p = fetch_proxy_model(addr);
  if (!p) return p.status();
  {
    std::lock_guard lk(models_mu_);
    int max_id = 0;
    for (const auto& [t, x] : proxies_) max_id = std::max(max_id, x.id);
    auto it = proxies_.find(p->token);
    p->id = it != proxies_.end() ? it->second.id : max_id + 1;
  }
  if (auto st = store_proxy(*p); !st.ok()) return st;
  return reinit(*p);
}

Status Topom::reinit_proxy(const std::string& token) {
  std::lock_guard op(op_mu_);
  models::Proxy p;
  {
    std::lock_guard lk(models_mu_);
    auto it = proxies_.find(token);
    if (it == proxies_.end()) return Status::Error("proxy-[" + token + "] doesn't exist");
    p = it->second;
  }
  return reinit(p);
}

Status Topom::remove_proxy(const std::string& token, bool force) {
  std::lock_guard op(op_mu_);
  models::Proxy p;
  {
    std::lock_guard lk(models_mu_);
    auto it = proxies_.find(token);
    if (it == proxies_.end()) return Status::Error("proxy-[" + token + "] doesn't exist");
    p = it->second;
  }
  if (auto r = rpc_call(p.admin_addr, "PUT", "/api/proxy/shutdown/" + proxy_xauth(p), "", kProxyTimeout, config_.admin_auth); !r) {
    spdlog::warn("topom: proxy-[{}] shutdown failed, force remove = {}: {}", token, force, r.message());
    if (!force) {
      return Status::Error("proxy-[" + token + "] shutdown failed: " + r.message() +
                           " (remove it with force = 1 if it is gone for good)");
    }
  }
  if (auto st = store_remove_proxy(token); !st.ok()) return st;
  std::lock_guard lk(stats_mu_);
  proxy_stats_.erase(token);
  return Status::Ok();
}

// ---- groups ----

Status Topom::create_group(int gid) {
  std::lock_guard op(op_mu_);
  if (gid <= 0 || gid > models::kMaxGroupId) {
    return Status::Error("invalid group id = " + std::to_string(gid) + ", out of range (1-" +
                         std::to_string(models::kMaxGroupId) + ")");
  }
  {
    std::lock_guard lk(models_mu_);
    if (groups_.count(gid)) return Status::Error(gstr(gid) + " already exists");
  }
  models::Group g;
  g.id = gid;
  return store_group(g);
}

Status Topom::remove_group(int gid) {
  std::lock_guard op(op_mu_);
  {
    std::lock_guard lk(models_mu_);
    auto it = groups_.find(gid);
    if (it == groups_.end()) return Status::Error(gstr(gid) + " doesn't exist");
    if (!it->second.servers.empty()) return Status::Error(gstr(gid) + " isn't empty");
    if (group_in_use(gid)) return Status::Error(gstr(gid) + " is still in use by slots");
  }
  return store_remove_group(gid);
}

// ---- the proxies' restricted user ----

Status Topom::provision_backend_user(RedisClient& c, const std::string& addr, const std::string& run_id) {
  const std::string& user = config_.backend_user;
  if (user.empty()) return Status::Ok();
  // The module's commands are denied by name (Redis 7.0 puts them in no admin category); asking the
  // server keeps the list right for whatever codis_slots version it loaded.
  auto list = c.call({"COMMAND", "LIST", "FILTERBY", "PATTERN", "slots*"});
  if (!list) return Status::Error("redis " + addr + ": COMMAND LIST failed: " + list.message());
  if (list->type != resp::Value::Type::kArray) {
    return Status::Error("redis " + addr + ": COMMAND LIST failed (" + list->str + "); Redis 7.0 or later is needed");
  }
  std::vector<std::string> module_commands;
  for (const auto& e : list->elements) module_commands.push_back(e.str);
  std::vector<std::string> args = {"ACL", "SETUSER", user};
  for (auto& a : backend_identity::acl_setuser_args(
           backend_identity::password(config_.backend_password, config_.product_auth), module_commands,
           migration_hosts(addr))) {
    args.push_back(std::move(a));
  }
  auto r = c.call(args);
  if (!r) return Status::Error("redis " + addr + ": ACL SETUSER " + user + " failed: " + r.message());
  if (r->type == resp::Value::Type::kError) {
    return Status::Error("redis " + addr + ": ACL SETUSER " + user + " failed: " + r->str);
  }
  // Kept across a restart where the server can keep it: its aclfile, else its config file. Without
  // either, a restarted server has no such user until the stats poller provisions it again (about a
  // second), and proxies run unrestricted there meanwhile.
  const char* kept = "in memory only (the server has neither an aclfile nor a writable config file: after a "
                     "restart, proxies run unrestricted there until the user is provisioned again)";
  if (auto save = c.call({"ACL", "SAVE"}); save && save->type != resp::Value::Type::kError) {
    kept = "saved to its aclfile";
  } else if (auto rw = c.call({"CONFIG", "REWRITE"}); rw && rw->type != resp::Value::Type::kError) {
    kept = "saved to its config file";
  }
  std::string before;
  bool known = false;
  {
    std::lock_guard lk(acl_mu_);
    if (auto it = acl_done_.find(addr); it != acl_done_.end()) {
      known = true;
      before = it->second.run_id;
    }
    acl_done_[addr] = Provisioned{run_id, std::chrono::steady_clock::now()};
    acl_failed_.erase(addr);
  }
  if (!known || before != run_id) {
    spdlog::info("topom: redis {}: provisioned the proxies' restricted user {}{}, {}", addr, user,
                 known ? " again (the server restarted)" : "", kept);
  }
  return Status::Ok();
}

void Topom::ensure_backend_user(RedisClient& c, const std::string& addr,
                                const std::map<std::string, std::string>& info) {
  if (config_.backend_user.empty()) return;
  const auto rid_it = info.find("run_id");
  const std::string rid = rid_it == info.end() ? "" : rid_it->second;
  {
    std::lock_guard lk(acl_mu_);
    auto it = acl_done_.find(addr);
    if (it != acl_done_.end() && it->second.run_id == rid &&
        std::chrono::steady_clock::now() - it->second.at < kReprovisionEvery) {
      return;
    }
  }
  if (auto st = provision_backend_user(c, addr, rid); !st.ok()) {
    std::lock_guard lk(acl_mu_);
    auto& last = acl_failed_[addr];
    if (last != st.message()) {  // once per distinct failure, not every second
      last = st.message();
      spdlog::error("topom: {}; proxies run client commands there unrestricted until this works", st.message());
    }
  }
}

std::vector<std::string> Topom::migration_hosts(const std::string& also) const {
  std::set<std::string> hosts;
  auto add = [&](const std::string& addr) {
    // As the proxy sends them (worker.cpp): an IPv6 host without brackets.
    if (auto hp = HostPort::parse(addr); hp && !hp->host.empty()) hosts.insert(hp->host);
  };
  add(also);
  std::lock_guard lk(models_mu_);
  for (const auto& [gid, g] : groups_) {
    for (const auto& s : g.servers) add(s.server);
  }
  return {hosts.begin(), hosts.end()};
}

void Topom::provision_all_servers() {
  std::vector<std::string> servers;
  {
    std::lock_guard lk(models_mu_);
    for (const auto& [gid, g] : groups_) {
      for (const auto& s : g.servers) servers.push_back(s.server);
    }
  }
  for (const auto& addr : servers) {
    auto c = RedisClient::connect(addr, config_.product_auth, kRedisTimeout);
    Status st = c ? provision_backend_user(*c, addr, server_run_id(*c)) : c.status();
    if (!st.ok()) spdlog::warn("topom: {}", st.message());
  }
}

void Topom::forget_backend_users() {
  std::lock_guard lk(acl_mu_);
  acl_done_.clear();
}

Status Topom::replicate_group(const models::Group& g) {
  std::string failed;
  for (size_t i = 0; i < g.servers.size(); ++i) {
    const auto& addr = g.servers[i].server;
    const std::string master = i == 0 ? "NO:ONE" : g.servers[0].server;
    auto c = RedisClient::connect(addr, config_.product_auth, kRedisTimeout);
    Status st = c ? c->set_master(master, config_.product_auth) : c.status();
    // Replicas too: proxies read from them when replica reads are on, and ACLs are not replicated.
    if (st.ok()) st = provision_backend_user(*c, addr, server_run_id(*c));
    if (!st.ok()) {
      spdlog::error("topom: {} server {}: set master to {} failed: {}", gstr(g.id), addr, master, st.message());
      if (!failed.empty()) failed += "; ";
      failed += st.message();
    } else {
      spdlog::info("topom: {} server {}: {}", gstr(g.id), addr,
                   i == 0 ? std::string("master (SLAVEOF NO ONE)") : "replica of " + master);
    }
  }
  if (!failed.empty()) return Status::Error(gstr(g.id) + " resync failed: " + failed);
  return Status::Ok();
}

Status Topom::resync_group(int gid) {
  std::lock_guard op(op_mu_);
  models::Group g;
  {
    std::lock_guard lk(models_mu_);
    auto it = groups_.find(gid);
    if (it == groups_.end()) return Status::Error(gstr(gid) + " doesn't exist");
    g = it->second;
  }
  if (!g.promoting.state.empty()) return Status::Error(gstr(gid) + " is promoting");
  if (auto st = replicate_group(g); !st.ok()) return st;
  if (auto st = resync_slots_of_group(gid); !st.ok()) return st;
  g.out_of_sync = false;
  return store_group(g);
}

Status Topom::resync_group_all() {
  std::vector<int> gids;
  {
    std::lock_guard lk(models_mu_);
    for (const auto& [gid, g] : groups_) gids.push_back(gid);
  }
  for (int gid : gids) {
    if (auto st = resync_group(gid); !st.ok()) return st;
  }
  return Status::Ok();
}

Status Topom::group_add_server(int gid, const std::string& datacenter, const std::string& addr) {
  std::lock_guard op(op_mu_);
  if (auto hp = HostPort::parse(addr); !hp || hp->host.empty()) {
    return Status::Error("invalid server address \"" + addr + "\" (expected host:port, or [IPv6]:port)");
  }
  models::Group g;
  {
    std::lock_guard lk(models_mu_);
    auto it = groups_.find(gid);
    if (it == groups_.end()) return Status::Error(gstr(gid) + " doesn't exist");
    for (const auto& [id, x] : groups_) {
      for (const auto& s : x.servers) {
        if (s.server == addr) return Status::Error("server-[" + addr + "] already exists in " + gstr(id));
      }
    }
    g = it->second;
  }
  if (!g.promoting.state.empty()) return Status::Error(gstr(gid) + " is promoting");
  // The server must answer (with product_auth) before it joins a group.
  auto c = RedisClient::connect(addr, config_.product_auth, kRedisTimeout);
  if (!c) return Status::Error("redis " + addr + " is not reachable: " + c.message());
  auto pong = c->call({"PING"});
  if (!pong) return pong.status();
  if (pong->type == resp::Value::Type::kError) return Status::Error("redis " + addr + ": PING failed: " + pong->str);
  // Codis checks SLOTSINFO: a server without the slot commands cannot take
  // part in slot migration, so it never joins a group.
  auto info = c->call({"SLOTSINFO"});
  if (!info) return Status::Error("redis " + addr + ": check slots-info failed: " + info.message());
  if (info->type == resp::Value::Type::kError) {
    spdlog::warn("topom: redis {} check slots-info failed: {}", addr, info->str);
    return Status::Error("redis " + addr + " check slots-info failed (" + info->str +
                         "): the codis_slots module is not loaded; restart redis-server with "
                         "--loadmodule /path/to/codis_slots.so (built as server-patches/codis_slots.so) "
                         "and add the server again");
  }
  // Before any proxy routes to it: the proxies' user, so client scripts never run there unrestricted.
  if (auto st = provision_backend_user(*c, addr, server_run_id(*c)); !st.ok()) {
    return Status::Error(st.message() + " (the proxies' restricted user must exist before the server joins)");
  }
  if (auto st = mark_sentinels_out_of_sync(); !st.ok()) return st;
  const auto hosts_before = migration_hosts();
  models::GroupServer s;
  s.server = addr;
  s.datacenter = datacenter;
  g.servers.push_back(s);
  if (auto st = store_group(g); !st.ok()) return st;
  // A new host: every server must let the proxies' SLOTSMGRTTAGONE reach it before a slot moves there.
  if (migration_hosts() != hosts_before) provision_all_servers();
  return Status::Ok();
}

Status Topom::group_del_server(int gid, const std::string& addr) {
  std::lock_guard op(op_mu_);
  models::Group g;
  {
    std::lock_guard lk(models_mu_);
    auto it = groups_.find(gid);
    if (it == groups_.end()) return Status::Error(gstr(gid) + " doesn't exist");
    g = it->second;
    auto pos = std::find_if(g.servers.begin(), g.servers.end(), [&](const auto& s) { return s.server == addr; });
    if (pos == g.servers.end()) return Status::Error(gstr(gid) + " doesn't have server-[" + addr + "]");
    if (pos == g.servers.begin() && (g.servers.size() != 1 || group_in_use(gid))) {
      return Status::Error(gstr(gid) + " can't remove master, still in use");
    }
    if (!g.promoting.state.empty()) return Status::Error(gstr(gid) + " is promoting");
    if (pos != g.servers.begin() && pos->replica_group) g.out_of_sync = true;
    g.servers.erase(pos);
  }
  if (auto st = mark_sentinels_out_of_sync(); !st.ok()) return st;
  if (auto st = store_group(g); !st.ok()) return st;
  {
    std::lock_guard lk(acl_mu_);
    acl_done_.erase(addr);
    acl_failed_.erase(addr);
  }
  std::lock_guard lk(stats_mu_);
  redis_stats_.erase(addr);
  return Status::Ok();
}

Status Topom::group_promote_server(int gid, const std::string& addr) {
  std::lock_guard op(op_mu_);
  models::Group g;
  int index = -1;
  {
    std::lock_guard lk(models_mu_);
    auto it = groups_.find(gid);
    if (it == groups_.end()) return Status::Error(gstr(gid) + " doesn't exist");
    g = it->second;
  }
  for (size_t i = 0; i < g.servers.size(); ++i) {
    if (g.servers[i].server == addr) index = static_cast<int>(i);
  }
  if (index < 0) return Status::Error(gstr(gid) + " doesn't have server-[" + addr + "]");
  if (!g.promoting.state.empty()) {
    if (index != g.promoting.index) {
      return Status::Error(gstr(gid) + " is promoting index = " + std::to_string(g.promoting.index));
    }
  } else if (index == 0) {
    return Status::Error(gstr(gid) + " can't promote master");
  }
  // Codis's steps, each stored so a restarted dashboard resumes: preparing
  // (stored), prepared (the group's slots are locked on every proxy), the
  // new server list with the old master last, then finished (slots unlocked
  // and pointed at the new master).
  if (g.promoting.state.empty()) {
    g.promoting.index = index;
    g.promoting.state = std::string(models::action::kPreparing);
    if (auto st = store_group(g); !st.ok()) return st;
  }
  if (g.promoting.state == models::action::kPreparing) {
    g.promoting.state = std::string(models::action::kPrepared);
    if (auto st = store_group(g); !st.ok()) return st;
    if (auto st = resync_slots_of_group(gid); !st.ok()) {
      g.promoting.state = std::string(models::action::kPreparing);
      (void)store_group(g);
      (void)resync_slots_of_group(gid);
      return st;
    }
  }
  if (g.promoting.state == models::action::kPrepared) {
    // Every proxy holds the group's requests now. A planned switchover loses
    // nothing: wait until the replica has all the master acknowledged (and
    // WAITs pending on the master are answered) before it becomes master.
    if (auto st = wait_replica_caught_up(g.servers[0].server, g.servers[g.promoting.index].server); !st.ok()) {
      spdlog::warn("topom: {} promote cancelled: {}", gstr(gid), st.message());
      g.promoting = {};
      (void)store_group(g);
      (void)resync_slots_of_group(gid);  // unlock
      return Status::Error(gstr(gid) + " promote cancelled, nothing changed: " + st.message());
    }
    if (auto st = mark_sentinels_out_of_sync(); !st.ok()) return st;
    // Codis unmonitors the group first, so no sentinel fails it over midway;
    // sentinels/resync-all registers the new master.
    std::vector<std::string> sentinels;
    {
      std::lock_guard lk(models_mu_);
      sentinels = sentinel_.servers;
    }
    for (const auto& addr : sentinels) {
      const std::string name = config_.product_name + "-" + std::to_string(gid);
      auto c = RedisClient::connect(addr, "", config_.sentinel_client_timeout);
      auto r = c ? c->call({"SENTINEL", "REMOVE", name}) : Result<resp::Value>(c.status());
      if (failed_reply(r)) spdlog::warn("topom: {} unmonitor: {}", gstr(gid), sentinel_error(addr, "SENTINEL REMOVE", r));
    }
    const int i = g.promoting.index;
    std::vector<models::GroupServer> servers;
    servers.push_back(g.servers[i]);
    for (size_t k = 1; k < g.servers.size(); ++k) {
      if (static_cast<int>(k) != i) servers.push_back(g.servers[k]);
    }
    servers.push_back(g.servers[0]);
    for (auto& s : servers) {
      s.action = {};
      s.replica_group = false;
    }
    g.servers = servers;
    g.promoting.index = 0;
    g.promoting.state = std::string(models::action::kFinished);
    if (auto st = store_group(g); !st.ok()) return st;
    auto c = RedisClient::connect(g.servers[0].server, config_.product_auth, kRedisTimeout);
    Status st = c ? c->set_master("NO:ONE", config_.product_auth) : c.status();
    if (!st.ok()) spdlog::warn("topom: {} promote: {}", gstr(gid), st.message());
  }
  if (g.promoting.state == models::action::kFinished) {
    g.promoting = {};
    if (auto st = store_group(g); !st.ok()) return st;
    Status pushed = resync_slots_of_group(gid);
    // The others follow the new master.
    Status followed = replicate_group(g);
    if (!followed.ok()) {
      g.out_of_sync = true;
      (void)store_group(g);
    }
    if (!pushed.ok()) return pushed;
    if (!followed.ok()) return followed;
  }
  return Status::Ok();
}

Status Topom::wait_replica_caught_up(const std::string& master, const std::string& replica) {
  auto m = RedisClient::connect(master, config_.product_auth, kRedisTimeout);
  if (!m) {
    // The usual reason to promote by hand: the master is gone. Nothing to wait for.
    spdlog::warn("topom: promote: master {} unreachable ({}): promoting {} without waiting for it to catch up",
                 master, m.message(), replica);
    return Status::Ok();
  }
  auto master_offset = [&]() -> Result<long long> {
    auto info = m->info();
    if (!info) return Result<long long>::Error("cannot read the replication offset of master " + master + ": " +
                                               info.message());
    return std::atoll((*info)["master_repl_offset"].c_str());
  };
  auto target = master_offset();
  if (!target) return target.status();
  auto r = RedisClient::connect(replica, config_.product_auth, kRedisTimeout);
  if (!r) return Status::Error("replica " + replica + " unreachable: " + r.message());
  const auto deadline = std::chrono::steady_clock::now() + kPromoteCatchUp;
  long long have = -1;
  for (;;) {
    auto ri = r->info();
    if (!ri) return Status::Error("cannot read the replication offset of replica " + replica + ": " + ri.message());
    auto& fields = *ri;
    if (fields["role"] != "slave") {
      // Not a replica at all (Codis promotes such a server too): there is no
      // offset to wait for, and what the master has that it lacks is lost.
      spdlog::warn("topom: promote: {} does not replicate (role {}): promoting it without waiting for a catch-up",
                   replica, fields["role"]);
      return Status::Ok();
    }
    const bool linked = fields["master_link_status"] == "up";
    have = std::atoll(fields[fields.count("slave_repl_offset") ? "slave_repl_offset" : "master_repl_offset"].c_str());
    if (linked && have >= *target) {
      // A request the proxies sent just before they held the group may have
      // landed after the first sample: done only when the master stood still.
      auto now = master_offset();
      if (!now) return now.status();
      if (*now == *target) {
        spdlog::info("topom: promote: replica {} has master {}'s offset {}", replica, master, *target);
        return Status::Ok();
      }
      target = now;
    }
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return Status::Error("replica " + replica + " did not catch up with master " + master + " within " +
                       std::to_string(kPromoteCatchUp.count()) + " ms (offset " + std::to_string(have) + " of " +
                       std::to_string(*target) + "): is it replicating? (group/resync)");
}

// ---- slots ----

Status Topom::slots_assign(std::vector<models::SlotMapping> slots) {
  std::lock_guard op(op_mu_);
  std::set<int> targets;
  {
    std::lock_guard lk(models_mu_);
    for (const auto& m : slots) {
      if (m.id < 0 || m.id >= models::kMaxSlotNum) return Status::Error(sstr(m.id) + " doesn't exist");
      auto it = groups_.find(m.group_id);
      if (it == groups_.end()) return Status::Error(gstr(m.group_id) + " doesn't exist");
      if (it->second.servers.empty()) return Status::Error(gstr(m.group_id) + " is empty");
      if (!m.action.state.empty()) return Status::Error("invalid " + sstr(m.id) + " action = " + m.action.state);
      const auto& cur = slots_[m.id];
      if (!cur.action.state.empty()) {
        return Status::Error(sstr(m.id) + " is migrating (action = " + cur.action.state +
                             "): wait for it or remove the action first");
      }
      targets.insert(m.group_id);
    }
  }
  for (int gid : targets) {
    models::Group g;
    {
      std::lock_guard lk(models_mu_);
      g = groups_[gid];
    }
    if (!g.out_of_sync) {
      g.out_of_sync = true;
      if (auto st = store_group(g); !st.ok()) return st;
    }
  }
  std::vector<models::SlotMapping> stored;
  for (const auto& m : slots) {
    models::SlotMapping x;
    x.id = m.id;
    x.group_id = m.group_id;
    spdlog::info("topom: {} will be mapped to {}", sstr(x.id), gstr(x.group_id));
    if (auto st = store_slot(x); !st.ok()) return st;
    stored.push_back(x);
  }
  return resync_slots(stored);
}

Status Topom::slots_assign_offline(std::vector<models::SlotMapping> slots) {
  std::lock_guard op(op_mu_);
  {
    std::lock_guard lk(models_mu_);
    for (const auto& m : slots) {
      if (m.id < 0 || m.id >= models::kMaxSlotNum) return Status::Error(sstr(m.id) + " doesn't exist");
      if (m.group_id != 0) return Status::Error("group of " + sstr(m.id) + " should be 0");
      if (!slots_[m.id].action.state.empty()) {
        return Status::Error(sstr(m.id) + " is migrating (action = " + slots_[m.id].action.state + ")");
      }
    }
  }
  std::vector<models::SlotMapping> stored;
  for (const auto& m : slots) {
    models::SlotMapping x;
    x.id = m.id;
    spdlog::info("topom: {} will be mapped to group-[0] (offline)", sstr(x.id));
    if (auto st = store_slot(x); !st.ok()) return st;
    stored.push_back(x);
  }
  return resync_slots(stored);
}

Result<json> Topom::slots_rebalance(bool confirm) {
  std::map<int, int> plans;  // sid -> gid
  std::vector<std::pair<int, int>> moves;  // owned slots that would need migration
  {
    std::lock_guard op(op_mu_);
    std::lock_guard lk(models_mu_);
    std::map<int, int> count;
    for (const auto& [gid, g] : groups_) {
      if (!g.servers.empty()) count[gid] = 0;
    }
    if (count.empty()) return Result<json>::Error("no valid group could be found");
    const int bound = (models::kMaxSlotNum + static_cast<int>(count.size()) - 1) / static_cast<int>(count.size());
    std::vector<int> pending;
    for (const auto& m : slots_) {
      if (!m.action.state.empty()) count[m.action.target_id]++;
    }
    for (const auto& m : slots_) {
      if (!m.action.state.empty()) continue;
      if (m.group_id != 0 && count.count(m.group_id) && count[m.group_id] < bound) {
        count[m.group_id]++;
      } else {
        pending.push_back(m.id);
      }
    }
    size_t next = 0;
    for (const auto& [gid, g] : groups_) {
      if (g.servers.empty()) continue;
      while (count[gid] < bound && next < pending.size()) {
        count[gid]++;
        plans[pending[next++]] = gid;
      }
    }
    for (const auto& [sid, gid] : plans) {
      if (slots_[sid].group_id != 0) moves.emplace_back(sid, gid);
    }
  }
  json plan = json::object();
  for (const auto& [sid, gid] : plans) plan[std::to_string(sid)] = gid;
  if (!confirm || plans.empty()) return plan;
  // Unowned slots are assigned at once; owned ones get migration actions.
  std::vector<models::SlotMapping> assign;
  for (const auto& [sid, gid] : plans) {
    if (std::find(moves.begin(), moves.end(), std::make_pair(sid, gid)) != moves.end()) continue;
    models::SlotMapping m;
    m.id = sid;
    m.group_id = gid;
    assign.push_back(m);
  }
  if (!assign.empty()) {
    if (auto st = slots_assign(std::move(assign)); !st.ok()) return st;
  }
  if (!moves.empty()) {
    std::lock_guard op(op_mu_);
    if (auto st = create_actions_locked(moves); !st.ok()) return st;
  }
  return plan;
}

// ---- replica reads, sync actions, server info ----

Status Topom::group_enable_replica(int gid, const std::string& addr, bool value) {
  std::lock_guard op(op_mu_);
  models::Group g;
  bool was_out_of_sync = false;
  {
    std::lock_guard lk(models_mu_);
    auto it = groups_.find(gid);
    if (it == groups_.end()) return Status::Error(gstr(gid) + " doesn't exist");
    g = it->second;
    was_out_of_sync = g.out_of_sync;
    auto pos = std::find_if(g.servers.begin(), g.servers.end(), [&](const auto& s) { return s.server == addr; });
    if (pos == g.servers.end()) return Status::Error(gstr(gid) + " doesn't have server-[" + addr + "]");
    if (!g.promoting.state.empty()) return Status::Error(gstr(gid) + " is promoting");
    // Codis: the proxies' view differs from the stored one until the push below.
    if (g.servers.size() != 1 && group_in_use(gid)) g.out_of_sync = true;
    pos->replica_group = value;
  }
  spdlog::info("topom: {} server {} replica_group = {}", gstr(gid), addr, value);
  if (auto st = store_group(g); !st.ok()) return st;
  if (auto st = resync_slots_of_group(gid); !st.ok()) return st;
  if (g.out_of_sync != was_out_of_sync) {
    g.out_of_sync = was_out_of_sync;  // every proxy has it now
    return store_group(g);
  }
  return Status::Ok();
}

Status Topom::group_enable_replica_all(bool value) {
  std::lock_guard op(op_mu_);
  std::vector<models::Group> changed;
  std::map<int, bool> was_out_of_sync;
  {
    std::lock_guard lk(models_mu_);
    for (const auto& [gid, g] : groups_) {
      if (!g.promoting.state.empty()) return Status::Error(gstr(gid) + " is promoting");
    }
    for (const auto& [gid, x] : groups_) {
      models::Group g = x;
      bool dirty = false;
      for (auto& s : g.servers) {
        if (s.replica_group != value) {
          s.replica_group = value;
          dirty = true;
        }
      }
      if (!dirty) continue;
      was_out_of_sync[gid] = g.out_of_sync;
      if (g.servers.size() != 1 && group_in_use(gid)) g.out_of_sync = true;
      changed.push_back(std::move(g));
    }
  }
  spdlog::info("topom: replica_group = {} for every server ({} groups changed)", value, changed.size());
  for (const auto& g : changed) {
    if (auto st = store_group(g); !st.ok()) return st;
  }
  std::vector<models::SlotMapping> slots;
  {
    std::lock_guard lk(models_mu_);
    for (const auto& m : slots_) {
      for (const auto& g : changed) {
        if (m.group_id == g.id || m.action.target_id == g.id) {
          slots.push_back(m);
          break;
        }
      }
    }
  }
  if (auto st = resync_slots(slots); !st.ok()) return st;
  for (auto g : changed) {
    if (g.out_of_sync == was_out_of_sync[g.id]) continue;
    g.out_of_sync = was_out_of_sync[g.id];
    if (auto st = store_group(g); !st.ok()) return st;
  }
  return Status::Ok();
}

Status Topom::sync_create_action(const std::string& addr) {
  std::lock_guard op(op_mu_);
  models::Group g;
  {
    std::lock_guard lk(models_mu_);
    int max_index = 0;
    bool found = false;
    for (const auto& [gid, x] : groups_) {
      for (const auto& s : x.servers) {
        if (s.action.state == models::action::kPending) max_index = std::max(max_index, s.action.index);
        if (s.server == addr) {
          g = x;
          found = true;
        }
      }
    }
    if (!found) return Status::Error("server-[" + addr + "] doesn't exist");
    if (!g.promoting.state.empty()) return Status::Error(gstr(g.id) + " is promoting");
    for (auto& s : g.servers) {
      if (s.server != addr) continue;
      if (s.action.state == models::action::kPending) {
        return Status::Error("server-[" + addr + "] action already exist");
      }
      s.action.index = max_index + 1;
      s.action.state = std::string(models::action::kPending);
    }
  }
  spdlog::info("topom: server-[{}] sync action created", addr);
  return store_group(g);
}

Status Topom::sync_remove_action(const std::string& addr) {
  std::lock_guard op(op_mu_);
  models::Group g;
  {
    std::lock_guard lk(models_mu_);
    bool found = false;
    for (const auto& [gid, x] : groups_) {
      for (const auto& s : x.servers) {
        if (s.server == addr) {
          g = x;
          found = true;
        }
      }
    }
    if (!found) return Status::Error("server-[" + addr + "] doesn't exist");
    if (!g.promoting.state.empty()) return Status::Error(gstr(g.id) + " is promoting");
    for (auto& s : g.servers) {
      if (s.server != addr) continue;
      if (s.action.state.empty()) return Status::Error("server-[" + addr + "] action doesn't exist");
      s.action = {};
    }
  }
  spdlog::info("topom: server-[{}] sync action removed", addr);
  return store_group(g);
}

void Topom::process_sync_action() {
  // Never wait behind an operation: the next poll tries again.
  std::unique_lock op(op_mu_, std::try_to_lock);
  if (!op.owns_lock() || closed_) return;
  models::Group g;
  size_t index = 0;
  {
    std::lock_guard lk(models_mu_);
    int best = 0;
    bool found = false;
    for (const auto& [gid, x] : groups_) {
      if (!x.promoting.state.empty()) continue;
      for (size_t i = 0; i < x.servers.size(); ++i) {
        const auto& a = x.servers[i].action;
        if (a.state != models::action::kPending) continue;
        if (!found || a.index < best) {
          best = a.index;
          g = x;
          index = i;
          found = true;
        }
      }
    }
    if (!found) return;
  }
  const std::string addr = g.servers[index].server;
  const std::string master = index == 0 ? "NO:ONE" : g.servers[0].server;
  g.servers[index].action = {0, std::string(models::action::kSyncing)};
  if (auto st = store_group(g); !st.ok()) {
    spdlog::warn("topom: server-[{}] sync action: {}", addr, st.message());
    return;
  }
  auto c = RedisClient::connect(addr, config_.product_auth, kRedisTimeout);
  Status st = c ? c->set_master(master, config_.product_auth) : c.status();
  if (!st.ok()) spdlog::warn("topom: server-[{}] sync action: set master to {} failed: {}", addr, master, st.message());
  {
    std::lock_guard lk(models_mu_);
    auto it = groups_.find(g.id);
    if (it == groups_.end() || index >= it->second.servers.size() || it->second.servers[index].server != addr) return;
    g = it->second;
  }
  g.servers[index].action.state = st.ok() ? "synced" : "synced_failed";
  spdlog::info("topom: server-[{}] sync action {}", addr, g.servers[index].action.state);
  if (auto s2 = store_group(g); !s2.ok()) spdlog::warn("topom: server-[{}] sync action: {}", addr, s2.message());
}

// group/info and sentinels/info connect only to what the topology holds: an
// address from the caller would make the dashboard connect anywhere and send
// it product_auth.
bool Topom::known_server(const std::string& addr) const {
  std::lock_guard lk(models_mu_);
  for (const auto& [gid, g] : groups_) {
    for (const auto& s : g.servers) {
      if (s.server == addr) return true;
    }
  }
  return false;
}

bool Topom::known_sentinel(const std::string& addr) const {
  std::lock_guard lk(models_mu_);
  return std::find(sentinel_.servers.begin(), sentinel_.servers.end(), addr) != sentinel_.servers.end();
}

Result<json> Topom::server_info(const std::string& addr) const {
  if (!known_server(addr)) {
    return Result<json>::Error("server " + addr + " is not in any group of this cluster (add it first)");
  }
  auto c = RedisClient::connect(addr, config_.product_auth, kRedisTimeout);
  if (!c) return Result<json>::Error(c.message());
  auto info = info_full(*c);
  if (!info) return Result<json>::Error(info.message());
  return json(*info);
}

// ---- sentinels (Codis's topom_sentinel.go) ----

Status Topom::add_sentinel(const std::string& addr) {
  std::lock_guard op(op_mu_);
  if (auto hp = HostPort::parse(addr); !hp || hp->host.empty()) {
    return Status::Error("invalid sentinel address \"" + addr + "\" (expected host:port, or [IPv6]:port)");
  }
  models::Sentinel p;
  {
    std::lock_guard lk(models_mu_);
    p = sentinel_;
  }
  if (std::find(p.servers.begin(), p.servers.end(), addr) != p.servers.end()) {
    return Status::Error("sentinel-[" + addr + "] already exists");
  }
  auto c = RedisClient::connect(addr, "", config_.sentinel_client_timeout);
  if (!c) return Status::Error("sentinel " + addr + " is not reachable: " + c.message());
  if (auto r = c->call({"SENTINEL", "FLUSHCONFIG"}); failed_reply(r)) {
    return Status::Error(sentinel_error(addr, "SENTINEL FLUSHCONFIG", r) + " (is it a redis-sentinel?)");
  }
  p.servers.push_back(addr);
  p.out_of_sync = true;
  spdlog::info("topom: sentinel-[{}] added", addr);
  if (auto st = store_sentinel(p); !st.ok()) return st;
  rewatch_sentinels(p.servers);
  return Status::Ok();
}

Status Topom::sentinel_remove_groups(const std::string& addr) const {
  auto c = RedisClient::connect(addr, "", config_.sentinel_client_timeout);
  if (!c) return Status::Error("sentinel " + addr + " is not reachable: " + c.message());
  auto masters = c->call({"SENTINEL", "MASTERS"});
  if (failed_reply(masters)) return Status::Error(sentinel_error(addr, "SENTINEL MASTERS", masters));
  const std::string prefix = config_.product_name + "-";
  for (const auto& m : masters->elements) {
    const std::string name = field_pairs(m).value("name", "");
    if (!name.starts_with(prefix)) continue;
    if (auto r = c->call({"SENTINEL", "REMOVE", name}); failed_reply(r)) {
      return Status::Error(sentinel_error(addr, "SENTINEL REMOVE " + name, r));
    }
  }
  return Status::Ok();
}

Status Topom::del_sentinel(const std::string& addr, bool force) {
  std::lock_guard op(op_mu_);
  models::Sentinel p;
  {
    std::lock_guard lk(models_mu_);
    p = sentinel_;
  }
  auto pos = std::find(p.servers.begin(), p.servers.end(), addr);
  if (pos == p.servers.end()) return Status::Error("sentinel-[" + addr + "] not found");
  p.out_of_sync = true;
  if (auto st = store_sentinel(p); !st.ok()) return st;
  if (auto st = sentinel_remove_groups(addr); !st.ok()) {
    spdlog::warn("topom: remove sentinel {} failed, force = {}: {}", addr, force, st.message());
    if (!force) return Status::Error("remove sentinel " + addr + " failed: " + st.message() + " (use force = 1)");
  }
  p.servers.erase(std::find(p.servers.begin(), p.servers.end(), addr));
  spdlog::info("topom: sentinel-[{}] removed", addr);
  if (auto st = store_sentinel(p); !st.ok()) return st;
  rewatch_sentinels(p.servers);
  return Status::Ok();
}

Status Topom::resync_sentinels() {
  std::lock_guard op(op_mu_);
  models::Sentinel p;
  std::map<int, std::string> masters;
  std::vector<models::Proxy> proxies;
  {
    std::lock_guard lk(models_mu_);
    p = sentinel_;
    for (const auto& [gid, g] : groups_) {
      if (!g.servers.empty()) masters[gid] = g.servers[0].server;
    }
    proxies = proxy_list();
  }
  p.out_of_sync = true;
  if (auto st = store_sentinel(p); !st.ok()) return st;
  for (const auto& addr : p.servers) {
    if (auto st = sentinel_remove_groups(addr); !st.ok()) spdlog::warn("topom: resync sentinels: {}", st.message());
  }
  const auto ms = [](std::chrono::milliseconds d) { return std::to_string(d.count()); };
  for (const auto& addr : p.servers) {
    auto c = RedisClient::connect(addr, "", config_.sentinel_client_timeout);
    if (!c) return Status::Error("sentinel " + addr + " is not reachable: " + c.message());
    for (const auto& [gid, master] : masters) {
      const std::string name = config_.product_name + "-" + std::to_string(gid);
      auto hp = HostPort::parse(master);
      if (!hp) return Status::Error("group " + std::to_string(gid) + " master: " + hp.message());
      auto r = c->call({"SENTINEL", "MONITOR", name, hp->host, hp->port_text(),
                        std::to_string(config_.sentinel_quorum)});
      if (failed_reply(r)) return Status::Error(sentinel_error(addr, "SENTINEL MONITOR " + name, r));
      std::vector<std::string> set = {"SENTINEL",
                                      "SET",
                                      name,
                                      "down-after-milliseconds",
                                      ms(config_.sentinel_down_after),
                                      "failover-timeout",
                                      ms(config_.sentinel_failover_timeout),
                                      "parallel-syncs",
                                      std::to_string(config_.sentinel_parallel_syncs)};
      if (!config_.product_auth.empty()) set.insert(set.end(), {"auth-pass", config_.product_auth});
      if (!config_.sentinel_notification_script.empty()) {
        set.insert(set.end(), {"notification-script", config_.sentinel_notification_script});
      }
      if (!config_.sentinel_client_reconfig_script.empty()) {
        set.insert(set.end(), {"client-reconfig-script", config_.sentinel_client_reconfig_script});
      }
      r = c->call(set);
      if (failed_reply(r)) return Status::Error(sentinel_error(addr, "SENTINEL SET " + name, r));
      spdlog::info("topom: sentinel-[{}] monitors {} at {}", addr, name, master);
    }
  }
  rewatch_sentinels(p.servers);
  const std::string body = models::encode(p);
  std::string failed;
  for (const auto& x : proxies) {
    if (auto r = rpc_call(x.admin_addr, "PUT", "/api/proxy/sentinels/" + proxy_xauth(x), body, kProxyTimeout, config_.admin_auth); !r) {
      spdlog::error("topom: proxy-[{}] resync sentinel failed: {}", x.token, r.message());
      if (!failed.empty()) failed += "; ";
      failed += "proxy-[" + x.token + "] sentinel failed: " + r.message();
    }
  }
  if (!failed.empty()) return Status::Error(failed);
  p.out_of_sync = false;
  return store_sentinel(p);
}

Result<json> Topom::sentinel_info(const std::string& addr) const {
  if (!known_sentinel(addr)) return Result<json>::Error("sentinel " + addr + " is not a sentinel of this cluster");
  auto c = RedisClient::connect(addr, "", config_.sentinel_client_timeout);
  if (!c) return Result<json>::Error(c.message());
  auto info = c->info();
  if (!info) return Result<json>::Error(info.message());
  return json(*info);
}

Result<json> Topom::sentinel_monitored(const std::string& addr) const {
  if (!known_sentinel(addr)) return Result<json>::Error("sentinel " + addr + " is not a sentinel of this cluster");
  auto c = RedisClient::connect(addr, "", config_.sentinel_client_timeout);
  if (!c) return Result<json>::Error(c.message());
  auto masters = c->call({"SENTINEL", "MASTERS"});
  if (failed_reply(masters)) return Result<json>::Error(sentinel_error(addr, "SENTINEL MASTERS", masters));
  const std::string prefix = config_.product_name + "-";
  json out = {{"masters", json::object()}, {"slaves", json::object()}};
  for (const auto& m : masters->elements) {
    json fields = field_pairs(m);
    const std::string name = fields.value("name", "");
    if (!name.starts_with(prefix)) continue;
    out["masters"][name] = fields;
    json replicas = json::array();
    if (auto r = c->call({"SENTINEL", "SLAVES", name}); !failed_reply(r)) {
      for (const auto& x : r->elements) replicas.push_back(field_pairs(x));
    }
    out["slaves"][name] = replicas;
  }
  return out;
}

Status Topom::reload() {
  std::vector<std::string> before, after;
  {
    std::lock_guard lk(models_mu_);
    before = sentinel_.servers;
  }
  if (auto st = load(); !st.ok()) return st;
  forget_backend_users();  // the poller provisions every server again within a second
  {
    std::lock_guard lk(models_mu_);
    after = sentinel_.servers;
  }
  if (before != after && !closed_) rewatch_sentinels(after);
  return Status::Ok();
}

// ---- sentinel failover following ----

void Topom::rewatch_sentinels(const std::vector<std::string>& servers) {
  std::lock_guard lk(ha_mu_);
  ++ha_generation_;
  if (ha_watcher_) {
    ha_watcher_->cancel();
    ha_watcher_.reset();  // joins: every wait in the watcher wakes on cancel
  }
  {
    std::lock_guard s(stats_mu_);
    ha_masters_.clear();
  }
  if (servers.empty() || closed_) return;
  sentinel::Watcher::Options o;
  o.product = config_.product_name;
  o.auth = config_.product_auth;
  o.servers = servers;
  o.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(config_.sentinel_client_timeout);
  if (o.timeout <= std::chrono::milliseconds(0)) o.timeout = std::chrono::seconds(5);
  o.ping_period = std::chrono::seconds(5);
  o.who = "topom";
  const uint64_t generation = ha_generation_.load();
  std::string list;
  for (const auto& x : servers) list += (list.empty() ? "" : ", ") + x;
  spdlog::warn("topom: rewatch sentinels = [{}]", list);
  ha_watcher_ = std::make_unique<sentinel::Watcher>(
      std::move(o), [this, generation](const std::map<int, std::string>& masters, const std::string& reason) {
        on_sentinel_masters(generation, masters, reason);
      });
}

void Topom::on_sentinel_masters(uint64_t generation, const std::map<int, std::string>& masters,
                                const std::string& reason) {
  auto stale = [&] { return closed_.load() || ha_generation_.load() != generation; };
  if (stale()) return;
  {
    std::lock_guard lk(stats_mu_);
    ha_masters_ = masters;
  }
  {
    std::lock_guard lk(models_mu_);
    bool differs = false;
    for (const auto& [gid, addr] : masters) {
      auto it = groups_.find(gid);
      if (it != groups_.end() && !it->second.servers.empty() && it->second.servers[0].server != addr) differs = true;
    }
    if (!differs) {
      spdlog::debug("topom: sentinel masters ({}): every group's servers[0] is its master", reason);
      return;
    }
  }
  // The op lock, without waiting behind rewatch_sentinels() (which holds it
  // while it stops this watcher) or a closing dashboard.
  std::unique_lock op(op_mu_, std::defer_lock);
  while (!op.try_lock()) {
    if (stale()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (stale()) return;
  switch_group_masters(masters, reason);
}

void Topom::switch_group_masters(const std::map<int, std::string>& masters, const std::string& reason) {
  auto run_id = [this](const std::string& addr) -> std::string {
    auto c = RedisClient::connect(addr, config_.product_auth, std::chrono::milliseconds(500));
    if (!c) return "";
    auto info = c->info();
    if (!info) return "";
    auto it = info->find("run_id");
    return it == info->end() ? "" : it->second;
  };
  for (const auto& [gid, addr] : masters) {
    models::Group g;
    {
      std::lock_guard lk(models_mu_);
      auto it = groups_.find(gid);
      if (it == groups_.end() || it->second.servers.empty()) continue;
      g = it->second;
    }
    if (g.servers[0].server == addr) continue;
    if (!g.promoting.state.empty()) {
      spdlog::warn("topom: {} is promoting: the sentinels' master {} is ignored", gstr(gid), addr);
      continue;
    }
    int index = -1;
    for (size_t i = 0; i < g.servers.size(); ++i) {
      if (g.servers[i].server == addr) index = static_cast<int>(i);
    }
    if (index < 0) {  // the same server under another address (Codis compares run ids)
      if (const std::string rid = run_id(addr); !rid.empty()) {
        for (size_t i = 0; i < g.servers.size() && index < 0; ++i) {
          if (run_id(g.servers[i].server) == rid) index = static_cast<int>(i);
        }
      }
    }
    if (index < 0) {
      spdlog::warn("topom: {}: the sentinels' master {} is not a server of the group; ignored ({})", gstr(gid), addr,
                   reason);
      continue;
    }
    if (index == 0) continue;
    const std::string old = g.servers[0].server;
    std::swap(g.servers[0], g.servers[index]);
    g.out_of_sync = true;  // as Codis: the replicas are the sentinels' business until a resync
    if (auto st = store_group(g); !st.ok()) {
      spdlog::error("topom: {}: storing the sentinel's master switch failed: {}", gstr(gid), st.message());
      continue;
    }
    spdlog::warn("topom: {} master switched from {} to {} by sentinel ({})", gstr(gid), old, g.servers[0].server,
                 reason);
    // A failover often follows a restart; the poller checks (and provisions) every server within a second.
    forget_backend_users();
    if (auto st = resync_slots_of_group(gid); !st.ok()) {
      spdlog::error("topom: {} after the sentinel switch: {}", gstr(gid), st.message());
    } else {
      spdlog::info("topom: {} slots pushed to every proxy with master {}", gstr(gid), g.servers[0].server);
    }
  }
}

// ---- readers ----

namespace {

template <class T>
ordered_json ordered(const T& model) {
  return ordered_json::parse(models::encode(model));
}

}  // namespace

ordered_json Topom::model() const { return ordered(model_); }

ordered_json Topom::slots() const {
  std::vector<models::Slot> table;
  {
    std::lock_guard lk(models_mu_);
    for (const auto& m : slots_) table.push_back(to_slot(m, nullptr));
  }
  return ordered(table);
}

// Codis's topom.Stats: closed, slots, group{models, stats}, proxy{models,
// stats}, slot_action, sentinels.
ordered_json Topom::stats() const {
  ordered_json j = ordered_json::object();
  j["closed"] = closed_.load();
  std::vector<models::SlotMapping> slots;
  std::vector<models::Group> groups;
  std::vector<models::Proxy> proxies;
  {
    std::lock_guard lk(models_mu_);
    slots = slots_;
    for (const auto& [gid, g] : groups_) groups.push_back(g);
    proxies = proxy_list();
  }
  j["slots"] = ordered(slots);
  j["group"]["models"] = ordered(groups);
  j["group"]["stats"] = ordered_json::object();
  j["proxy"]["models"] = ordered(proxies);
  j["proxy"]["stats"] = ordered_json::object();
  {
    std::lock_guard lk(stats_mu_);
    for (const auto& [addr, s] : redis_stats_) {
      ordered_json x = ordered_json::object();
      if (!s.stats.empty()) x["stats"] = s.stats;
      if (!s.error.empty()) x["error"] = ordered_json{{"Cause", s.error}, {"Stack", nullptr}};
      x["unixtime"] = s.unixtime;
      if (s.timeout) x["timeout"] = true;
      j["group"]["stats"][addr] = std::move(x);
    }
    for (const auto& [token, s] : proxy_stats_) {
      ordered_json x = ordered_json::object();
      if (!s.stats.is_null()) x["stats"] = ordered_json::parse(s.stats.dump());
      if (!s.error.empty()) x["error"] = ordered_json{{"Cause", s.error}, {"Stack", nullptr}};
      x["unixtime"] = s.unixtime;
      if (s.timeout) x["timeout"] = true;
      j["proxy"]["stats"][token] = std::move(x);
    }
  }
  // Codis's shape; per-slot progress is in "slot_actions" (ours).
  ordered_json action = ordered_json::object();
  action["interval"] = action_interval_us_.load();
  action["disabled"] = action_disabled_.load();
  {
    std::lock_guard lk(action_mu_);
    action["progress"] = ordered_json{{"status", action_status_}};
  }
  action["executor"] = action_executors_.load();
  j["slot_action"] = std::move(action);
  {
    ordered_json actions = slot_actions();
    int64_t keys_left = 0;
    bool unknown = false;
    for (const auto& a : actions) {
      if (a["keys_left"].get<int64_t>() < 0) {
        unknown = true;
      } else {
        keys_left += a["keys_left"].get<int64_t>();
      }
    }
    ordered_json sa = ordered_json::object();
    sa["remaining"] = actions.size();
    sa["keys_left"] = keys_left;
    sa["keys_left_complete"] = !unknown;
    sa["estimate"] = slot_actions_estimate();
    sa["actions"] = std::move(actions);
    j["slot_actions"] = std::move(sa);
  }
  ordered_json ha = ordered_json::object();
  models::Sentinel sentinel;
  {
    std::lock_guard lk(models_mu_);
    sentinel = sentinel_;
  }
  ha["model"] = ordered(sentinel);
  ha["stats"] = ordered_json::object();
  ha["masters"] = ordered_json::object();
  {
    std::lock_guard lk(stats_mu_);
    for (const auto& [gid, addr] : ha_masters_) ha["masters"][std::to_string(gid)] = addr;
  }
  j["sentinels"] = std::move(ha);
  return j;
}

ordered_json Topom::overview() const {
  ordered_json o = ordered_json::object();
  o["version"] = "codis-ng 0.1.0";
  o["compile"] = std::string(__DATE__) + " " + __TIME__;
  o["config"] = describe(config_);  // Go's field order and types
  o["model"] = model();
  o["stats"] = stats();
  return o;
}

std::string Topom::metrics() const {
  std::ostringstream out;
  out << "# HELP codis_dashboard_up 1 while this dashboard holds the lock and serves.\n"
         "# TYPE codis_dashboard_up gauge\n"
      << "codis_dashboard_up " << (closed_ ? 0 : 1) << "\n";
  std::map<int, int> owned;
  int offline = 0;
  size_t ngroups = 0, nproxies = 0;
  std::vector<std::pair<int, std::string>> servers;
  std::vector<models::Proxy> proxies;
  {
    std::lock_guard lk(models_mu_);
    for (const auto& m : slots_) (m.group_id == 0 ? offline : owned[m.group_id])++;
    ngroups = groups_.size();
    for (const auto& [gid, g] : groups_) {
      for (const auto& s : g.servers) servers.emplace_back(gid, s.server);
    }
    proxies = proxy_list();
    nproxies = proxies.size();
  }
  out << "# HELP codis_dashboard_groups Groups in the topology.\n# TYPE codis_dashboard_groups gauge\n"
      << "codis_dashboard_groups " << ngroups << "\n";
  out << "# HELP codis_dashboard_proxies Proxies registered.\n# TYPE codis_dashboard_proxies gauge\n"
      << "codis_dashboard_proxies " << nproxies << "\n";
  out << "# HELP codis_dashboard_slots_offline Slots owned by no group.\n# TYPE codis_dashboard_slots_offline gauge\n"
      << "codis_dashboard_slots_offline " << offline << "\n";
  out << "# HELP codis_dashboard_group_slots Slots owned by a group.\n# TYPE codis_dashboard_group_slots gauge\n";
  for (const auto& [gid, n] : owned) out << "codis_dashboard_group_slots{group=\"" << gid << "\"} " << n << "\n";
  if (!config_.backend_user.empty()) {
    out << "# HELP codis_dashboard_server_backend_user 1 if the proxies' restricted user was provisioned on the "
           "server since it last started (0: proxies run client commands there unrestricted).\n"
           "# TYPE codis_dashboard_server_backend_user gauge\n";
    std::lock_guard lk(acl_mu_);
    for (const auto& [gid, addr] : servers) {
      const bool ok = acl_done_.count(addr) != 0 && acl_failed_.count(addr) == 0;
      out << "codis_dashboard_server_backend_user{group=\"" << gid << "\",server=\"" << addr << "\"} " << ok
          << "\n";
    }
  }
  std::lock_guard lk(stats_mu_);
  out << "# HELP codis_dashboard_proxy_up 1 if the proxy answered the last stats poll.\n"
         "# TYPE codis_dashboard_proxy_up gauge\n";
  for (const auto& p : proxies) {
    auto it = proxy_stats_.find(p.token);
    const bool up = it != proxy_stats_.end() && it->second.error.empty() && !it->second.timeout;
    out << "codis_dashboard_proxy_up{token=\"" << p.token << "\",admin_addr=\"" << p.admin_addr << "\"} " << up
        << "\n";
  }
  out << "# HELP codis_dashboard_server_up 1 if the redis server answered the last INFO poll.\n"
         "# TYPE codis_dashboard_server_up gauge\n";
  std::ostringstream mem, keys;
  for (const auto& [gid, addr] : servers) {
    auto it = redis_stats_.find(addr);
    const bool up = it != redis_stats_.end() && it->second.error.empty() && !it->second.timeout;
    const std::string labels = "{group=\"" + std::to_string(gid) + "\",server=\"" + addr + "\"}";
    out << "codis_dashboard_server_up" << labels << " " << up << "\n";
    if (!up) continue;
    if (auto m = it->second.stats.find("used_memory"); m != it->second.stats.end()) {
      mem << "codis_dashboard_server_used_memory_bytes" << labels << " " << m->second << "\n";
    }
    int64_t nkeys = 0;
    for (const auto& [k, v] : it->second.stats) {
      if (k.starts_with("db") && v.starts_with("keys=")) nkeys += std::atoll(v.c_str() + 5);
    }
    keys << "codis_dashboard_server_keys" << labels << " " << nkeys << "\n";
  }
  out << "# HELP codis_dashboard_server_used_memory_bytes INFO used_memory.\n"
         "# TYPE codis_dashboard_server_used_memory_bytes gauge\n"
      << mem.str();
  out << "# HELP codis_dashboard_server_keys Keys in all databases.\n# TYPE codis_dashboard_server_keys gauge\n"
      << keys.str();
  out << coordinator_metrics({{"coordinator", coord_.get()}});
  return out.str();
}

// ---- stats poller ----

void Topom::poll_loop() {
  for (;;) {
    poll_once();
    refresh_slot_keys();
    process_sync_action();
    std::unique_lock lk(poll_mu_);
    if (poll_cv_.wait_for(lk, std::chrono::seconds(1), [this] { return poll_stop_; })) return;
  }
}

void Topom::poll_once() {
  // Registrations that came or went (a restarted proxy removes its previous
  // run's node) show up within a poll, not only at the next slot push. Not
  // while an operation runs: proxy/create writes the node after it adds the
  // proxy, and a refresh in between would drop it.
  if (std::unique_lock op(op_mu_, std::try_to_lock); op.owns_lock()) refresh_proxies();
  std::vector<models::Proxy> proxies;
  std::vector<std::string> servers;
  {
    std::lock_guard lk(models_mu_);
    proxies = proxy_list();
    for (const auto& [gid, g] : groups_) {
      for (const auto& s : g.servers) servers.push_back(s.server);
    }
  }
  std::vector<std::future<ProxyStats>> pf;
  for (const auto& p : proxies) {
    pf.push_back(std::async(std::launch::async, [this, p] {
      ProxyStats s;
      auto r = rpc_call(p.admin_addr, "GET", "/api/proxy/stats/" + proxy_xauth(p), "", kStatsTimeout, config_.admin_auth);
      s.unixtime = unix_now();
      if (r) {
        s.stats = std::move(*r);
      } else {
        s.error = r.message();
        s.timeout = r.code() == Code::kTimeout;
      }
      return s;
    }));
  }
  std::vector<std::future<RedisStats>> rf;
  for (const auto& addr : servers) {
    rf.push_back(std::async(std::launch::async, [this, addr] {
      RedisStats s;
      auto c = RedisClient::connect(addr, config_.product_auth, kStatsTimeout);
      Result<std::map<std::string, std::string>> info =
          c ? info_full(*c) : Result<std::map<std::string, std::string>>(c.status());
      if (info) ensure_backend_user(*c, addr, *info);
      s.unixtime = unix_now();
      if (info) {
        s.stats = std::move(*info);
      } else {
        s.error = info.message();
        s.timeout = info.code() == Code::kTimeout;
      }
      return s;
    }));
  }
  std::map<std::string, ProxyStats> ps;
  for (size_t i = 0; i < pf.size(); ++i) ps[proxies[i].token] = pf[i].get();
  std::map<std::string, RedisStats> rs;
  for (size_t i = 0; i < rf.size(); ++i) rs[servers[i]] = rf[i].get();
  std::lock_guard lk(stats_mu_);
  proxy_stats_ = std::move(ps);
  redis_stats_ = std::move(rs);
}

}  // namespace codis::dashboard
