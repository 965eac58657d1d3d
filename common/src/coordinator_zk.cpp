// The ZooKeeper coordinator, on the C client (libzookeeper_mt).
//
// Threads: the C client runs an I/O thread and a completion thread; we only
// use its synchronous calls (answered on the I/O thread) from the caller's
// thread or ours, and its watcher callbacks (on the completion thread) do
// nothing but queue an event for our own thread. Our thread ("worker") owns
// the session: it re-arms one-shot ZooKeeper watches and runs the user's
// callbacks, replaces an expired session with a new handle, re-creates this
// client's ephemeral nodes on the new session, and retries what failed while
// disconnected once a second. zookeeper_close() is never called from a C
// client thread (that would deadlock), and never while a call is using the
// handle: calls hold zh_mu_ shared, replacing the handle holds it exclusive.
//
// Watches are registered with the C client under (our static callback, the
// watch's id as context); the id is looked up in the registry when the event
// arrives, so a watch whose handle is gone is simply dropped, with no pointer
// left dangling inside the client.
//
// ACLs follow Codis's zkclient: directories get all permissions, nodes
// read/write/admin; "world:anyone" without auth, the digest identity of
// coordinator_auth ("auth" scheme, which the server expands to
// digest:user:base64(sha1(user:password)), as Codis's DigestACL) with it.
#include <zookeeper/zookeeper.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <set>
#include <shared_mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "coordinator_internal.h"

namespace codis::detail {
namespace {

using namespace std::chrono_literals;

// ZooKeeper refuses requests over jute.maxbuffer (1 MiB by default) by
// dropping the connection; refuse them here instead, with a message.
constexpr size_t kMaxValueSize = 1024 * 1024 - 4096;

char kSchemeWorld[] = "world";
char kIdAnyone[] = "anyone";
char kSchemeAuth[] = "auth";
char kIdEmpty[] = "";

std::string hex_session(int64_t id) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(id));
  return buf;
}

void log_from_client(const char* message) { spdlog::debug("zookeeper client: {}", message); }

void auth_done(int rc, const void*) {
  if (rc != ZOK) spdlog::error("zookeeper: digest authentication failed: {}", zerror(rc));
}

class ZkCoordinator;

// The context of one zhandle_t: which coordinator, which generation of its
// session (events from a replaced handle are ignored).
struct SessionContext {
  ZkCoordinator* self;
  uint64_t generation;
};

struct Event {
  enum Kind { kConnected, kConnecting, kExpired, kAuthFailed, kWatch } kind;
  uint64_t generation = 0;
  uint64_t watch_id = 0;
};

class ZkCoordinator final : public Coordinator {
 public:
  ZkCoordinator(std::string addr, const CoordinatorOptions& options)
      : addr_(std::move(addr)),
        auth_(options.auth),
        timeout_(options.timeout),
        watches_(std::make_shared<WatchRegistry>()) {
    ACL* dir = &dir_acl_;
    ACL* leaf = &leaf_acl_;
    dir->perms = ZOO_PERM_ALL;
    leaf->perms = ZOO_PERM_READ | ZOO_PERM_WRITE | ZOO_PERM_ADMIN;
    for (ACL* a : {dir, leaf}) {
      a->id.scheme = auth_.empty() ? kSchemeWorld : kSchemeAuth;
      a->id.id = auth_.empty() ? kIdAnyone : kIdEmpty;
    }
    dir_acls_ = {1, &dir_acl_};
    leaf_acls_ = {1, &leaf_acl_};
  }

  ~ZkCoordinator() override {
    {
      std::lock_guard lock(ev_mu_);
      stop_ = true;
    }
    ev_cv_.notify_all();
    if (worker_.joinable()) worker_.join();
    std::unique_lock lock(zh_mu_);
    if (zh_) zookeeper_close(zh_);  // closes the session: our ephemeral nodes go
    zh_ = nullptr;
  }

  Status start() {
    worker_ = std::thread([this] { run(); });
    {
      std::unique_lock lock(zh_mu_);
      if (auto s = open_handle_locked(); !s) return s;
    }
    std::unique_lock lock(state_mu_);
    if (!state_cv_.wait_for(lock, timeout_, [this] { return connected_; })) {
      return Status::Error("zookeeper " + addr_ + ": no session within " +
                           std::to_string(timeout_.count()) +
                           " ms: is ZooKeeper running and reachable at " + addr_ + "?");
    }
    return Status::Ok();
  }

  Status create(const std::string& path, const std::string& data) override {
    if (auto s = check(path, data, "create"); !s) return s;
    int rc = call([&](zhandle_t* zh) { return create_node(zh, path, data, ZOO_PERSISTENT); });
    if (rc == ZNODEEXISTS) return error("create", path, "node already exists");
    if (rc != ZOK) return error("create", path, rc);
    return Status::Ok();
  }

  Status create_ephemeral(const std::string& path, const std::string& data) override {
    if (auto s = check(path, data, "create ephemeral"); !s) return s;
    int rc = call([&](zhandle_t* zh) {
      int r = create_node(zh, path, data, ZOO_EPHEMERAL);
      // A retry after a lost reply finds its own node: that is success.
      if (r == ZNODEEXISTS && owned_by_session(zh, path)) {
        r = zoo_set(zh, path.c_str(), data.data(), static_cast<int>(data.size()), -1);
      }
      return r;
    });
    if (rc == ZNODEEXISTS) return error("create ephemeral", path, "node already exists");
    if (rc != ZOK) return error("create ephemeral", path, rc);
    std::lock_guard lock(eph_mu_);
    ephemerals_[path] = data;
    return Status::Ok();
  }

  Status update(const std::string& path, const std::string& data) override {
    if (auto s = check(path, data, "update"); !s) return s;
    int rc = call([&](zhandle_t* zh) {
      const int len = static_cast<int>(data.size());
      int r = zoo_set(zh, path.c_str(), data.data(), len, -1);
      if (r != ZNONODE) return r;
      r = create_node(zh, path, data, ZOO_PERSISTENT);
      if (r == ZNODEEXISTS) r = zoo_set(zh, path.c_str(), data.data(), len, -1);
      return r;
    });
    if (rc != ZOK) return error("update", path, rc);
    std::lock_guard lock(eph_mu_);
    if (auto it = ephemerals_.find(path); it != ephemerals_.end()) it->second = data;
    return Status::Ok();
  }

  Status update_many(const std::vector<std::pair<std::string, std::string>>& nodes) override {
    constexpr size_t kChunk = 128;  // well under ZooKeeper's 1 MiB request limit for slot-sized values
    for (size_t beg = 0; beg < nodes.size(); beg += kChunk) {
      const size_t end = std::min(nodes.size(), beg + kChunk);
      std::vector<zoo_op_t> ops(end - beg);
      std::vector<zoo_op_result_t> results(end - beg);
      for (size_t i = beg; i < end; ++i) {
        const auto& [path, data] = nodes[i];
        if (auto s = check(path, data, "update"); !s) return s;
        zoo_set_op_init(&ops[i - beg], path.c_str(), data.data(), static_cast<int>(data.size()), -1, nullptr);
      }
      int rc = call([&](zhandle_t* zh) { return zoo_multi(zh, static_cast<int>(ops.size()), ops.data(), results.data()); });
      if (rc != ZOK) {
        // A missing node (or any other failure): one by one, which creates what is missing.
        for (size_t i = beg; i < end; ++i) {
          if (auto st = update(nodes[i].first, nodes[i].second); !st.ok()) return st;
        }
        continue;
      }
      std::lock_guard lock(eph_mu_);
      for (size_t i = beg; i < end; ++i) {
        if (auto it = ephemerals_.find(nodes[i].first); it != ephemerals_.end()) it->second = nodes[i].second;
      }
    }
    return Status::Ok();
  }

  Status remove(const std::string& path) override {
    if (auto s = check_path(path, false); !s) return s;
    int rc = call([&](zhandle_t* zh) { return zoo_delete(zh, path.c_str(), -1); });
    if (rc == ZNOTEMPTY) return error("remove", path, "node has children");
    if (rc != ZOK && rc != ZNONODE) return error("remove", path, rc);
    std::lock_guard lock(eph_mu_);
    ephemerals_.erase(path);
    return Status::Ok();
  }

  Result<std::optional<std::string>> read(const std::string& path) override {
    if (auto s = check_path(path, false); !s) return s;
    std::string buf(64 * 1024, '\0');
    for (;;) {
      int len = static_cast<int>(buf.size());
      Stat st{};
      int rc = call([&](zhandle_t* zh) { return zoo_get(zh, path.c_str(), 0, buf.data(), &len, &st); });
      if (rc == ZNONODE) return std::optional<std::string>();
      if (rc != ZOK) return error("read", path, rc);
      if (st.dataLength > static_cast<int>(buf.size())) {  // grew since: read again
        buf.assign(static_cast<size_t>(st.dataLength), '\0');
        continue;
      }
      buf.resize(len < 0 ? 0 : static_cast<size_t>(len));
      return std::optional<std::string>(std::move(buf));
    }
  }

  Result<std::vector<std::string>> list(const std::string& dir) override {
    if (auto s = check_path(dir, true); !s) return s;
    std::vector<std::string> names;
    int rc = call([&](zhandle_t* zh) {
      String_vector sv{};
      int r = zoo_get_children(zh, dir.c_str(), 0, &sv);
      if (r == ZOK) {
        for (int i = 0; i < sv.count; ++i) names.emplace_back(sv.data[i]);
        deallocate_String_vector(&sv);
      }
      return r;
    });
    if (rc == ZNONODE) return names;
    if (rc != ZOK) return error("list", dir, rc);
    std::sort(names.begin(), names.end());
    return names;
  }

  Result<std::unique_ptr<WatchHandle>> watch_children(const std::string& dir,
                                                      std::function<void()> fn) override {
    if (auto s = check_path(dir, true); !s) return s;
    return add_watch(WatchKind::kChildren, dir, std::move(fn));
  }

  Result<std::unique_ptr<WatchHandle>> watch_data(const std::string& path,
                                                  std::function<void()> fn) override {
    if (auto s = check_path(path, false); !s) return s;
    return add_watch(WatchKind::kData, path, std::move(fn));
  }

  std::string describe() const override { return "zookeeper " + addr_; }

 private:
  // ---- C client callbacks (completion thread): queue and return.

  static void on_session_event(zhandle_t* zh, int type, int state, const char*, void*) {
    auto* ctx = static_cast<const SessionContext*>(zoo_get_context(zh));
    if (!ctx || type != ZOO_SESSION_EVENT) return;
    ZkCoordinator* self = ctx->self;
    Event ev{Event::kConnecting, ctx->generation, 0};
    if (state == ZOO_CONNECTED_STATE) {
      ev.kind = Event::kConnected;
    } else if (state == ZOO_EXPIRED_SESSION_STATE) {
      ev.kind = Event::kExpired;
    } else if (state == ZOO_AUTH_FAILED_STATE) {
      ev.kind = Event::kAuthFailed;
    } else if (state != ZOO_CONNECTING_STATE && state != ZOO_ASSOCIATING_STATE) {
      return;
    }
    if (ctx->generation == self->generation_.load()) {
      std::lock_guard lock(self->state_mu_);
      self->connected_ = ev.kind == Event::kConnected;
    }
    self->state_cv_.notify_all();
    self->push(ev);
  }

  static void on_watch_event(zhandle_t* zh, int type, int, const char*, void* watch_ctx) {
    // Session changes reach on_session_event too; only node events matter here.
    if (type == ZOO_SESSION_EVENT || type == ZOO_NOTWATCHING_EVENT) return;
    auto* ctx = static_cast<const SessionContext*>(zoo_get_context(zh));
    if (!ctx) return;
    ctx->self->push({Event::kWatch, ctx->generation, reinterpret_cast<uintptr_t>(watch_ctx)});
  }

  void push(Event ev) {
    {
      std::lock_guard lock(ev_mu_);
      if (stop_) return;
      events_.push_back(ev);
    }
    ev_cv_.notify_one();
  }

  // ---- the worker thread

  void run() {
    auto next_tick = std::chrono::steady_clock::now() + 1s;
    std::unique_lock lock(ev_mu_);
    while (!stop_) {
      ev_cv_.wait_until(lock, next_tick, [this] { return stop_ || !events_.empty(); });
      if (stop_) break;
      std::deque<Event> batch;
      batch.swap(events_);
      lock.unlock();
      std::set<uint64_t> fired;
      for (const Event& ev : batch) {
        if (ev.kind == Event::kWatch) {
          if (fired.insert(ev.watch_id).second) on_watch_fired(ev.watch_id);
        } else {
          on_state(ev);
        }
      }
      if (std::chrono::steady_clock::now() >= next_tick) {
        tick();
        next_tick = std::chrono::steady_clock::now() + 1s;
      }
      lock.lock();
    }
  }

  void on_state(const Event& ev) {
    if (ev.generation != generation_.load()) return;  // from a handle we replaced
    switch (ev.kind) {
      case Event::kConnected: {
        int64_t id = 0;
        {
          std::shared_lock lock(zh_mu_);
          if (!zh_) return;
          if (const clientid_t* cid = zoo_client_id(zh_)) id = cid->client_id;
        }
        if (id != session_id_) {
          if (session_id_ != 0) {
            spdlog::warn("zookeeper {}: new session {} (the old one expired): re-creating "
                         "ephemeral nodes, re-arming watches",
                         addr_, hex_session(id));
          } else {
            spdlog::info("zookeeper {}: connected, session {}", addr_, hex_session(id));
          }
          session_id_ = id;
          recreate_ephemerals();
          for (const auto& e : watches_->all()) e->armed = false;
        } else if (was_disconnected_) {
          spdlog::info("zookeeper {}: reconnected, session {}", addr_, hex_session(id));
        }
        was_disconnected_ = false;
        // Changes may have been missed while away: re-arm and tell everyone.
        for (const auto& e : watches_->all()) {
          if (!e->armed) arm(*e);
          WatchRegistry::fire(*e);
        }
        break;
      }
      case Event::kConnecting:
        if (!was_disconnected_) {
          spdlog::warn("zookeeper {}: connection lost, reconnecting", addr_);
          disconnected_since_ = std::chrono::steady_clock::now();
        }
        was_disconnected_ = true;
        break;
      case Event::kExpired:
        spdlog::warn("zookeeper {}: session {} expired; starting a new session", addr_,
                     hex_session(session_id_));
        was_disconnected_ = true;
        disconnected_since_ = std::chrono::steady_clock::now();
        renew_session();
        break;
      case Event::kAuthFailed:
        spdlog::error("zookeeper {}: authentication failed (check coordinator_auth); "
                      "starting a new session",
                      addr_);
        renew_session();
        break;
      case Event::kWatch:
        break;
    }
  }

  void on_watch_fired(uint64_t id) {
    auto e = watches_->find(id);
    if (!e) return;  // handle destroyed
    arm(*e);
    WatchRegistry::fire(*e);
  }

  // Once a second: retry what failed while the connection was down.
  void tick() {
    bool have_handle;
    {
      std::shared_lock lock(zh_mu_);
      have_handle = zh_ != nullptr;
    }
    if (!have_handle) {
      renew_session();
      return;
    }
    if (!is_connected()) {
      // Away for longer than the session timeout: the server has expired the
      // session, or cannot resume it (a server that lost its data refuses a
      // client that has seen a newer zxid, forever). Start afresh.
      auto away = std::chrono::steady_clock::now() - disconnected_since_;
      if (was_disconnected_ && away > session_timeout()) {
        spdlog::warn("zookeeper {}: no connection for {} ms, over the session timeout; "
                     "starting a new session",
                     addr_, std::chrono::duration_cast<std::chrono::milliseconds>(away).count());
        disconnected_since_ = std::chrono::steady_clock::now();
        renew_session();
      }
      return;
    }
    if (ephemerals_dirty_) recreate_ephemerals();
    for (const auto& e : watches_->all()) {
      if (!e->armed && arm(*e)) WatchRegistry::fire(*e);
    }
  }

  std::chrono::milliseconds session_timeout() {
    std::shared_lock lock(zh_mu_);
    int negotiated = zh_ ? zoo_recv_timeout(zh_) : 0;
    return negotiated > 0 ? std::chrono::milliseconds(negotiated) : timeout_;
  }

  bool is_connected() {
    std::lock_guard lock(state_mu_);
    return connected_;
  }

  void renew_session() {
    std::unique_lock lock(zh_mu_);
    if (zh_) zookeeper_close(zh_);
    zh_ = nullptr;
    if (auto s = open_handle_locked(); !s) spdlog::error("{} (retrying)", s.message());
  }

  Status open_handle_locked() {
    auto ctx = std::make_unique<SessionContext>(SessionContext{this, generation_.load() + 1});
    generation_ = ctx->generation;
    {
      std::lock_guard lock(state_mu_);
      connected_ = false;
    }
    zhandle_t* zh = zookeeper_init2(addr_.c_str(), &ZkCoordinator::on_session_event,
                                    static_cast<int>(timeout_.count()), nullptr, ctx.get(), 0,
                                    &log_from_client);
    if (!zh) {
      return Status::Error("zookeeper " + addr_ + ": cannot start a client: " +
                           std::strerror(errno) + " (addresses are host:port[,host:port...])");
    }
    if (!auth_.empty()) {
      int rc = zoo_add_auth(zh, "digest", auth_.data(), static_cast<int>(auth_.size()),
                            &auth_done, nullptr);
      if (rc != ZOK) spdlog::error("zookeeper {}: cannot send credentials: {}", addr_, zerror(rc));
    }
    zh_ = zh;
    context_ = std::move(ctx);  // the old context's handle is closed already
    return Status::Ok();
  }

  // Re-creates this client's ephemeral nodes on a new session. A path taken
  // by another session meanwhile is given up (and logged): for the dashboard
  // lock, that means another dashboard now holds it.
  void recreate_ephemerals() {
    std::map<std::string, std::string> todo;
    {
      std::lock_guard lock(eph_mu_);
      todo = ephemerals_;
    }
    ephemerals_dirty_ = false;
    for (const auto& [path, data] : todo) {
      int rc = call([&](zhandle_t* zh) {
        int r = create_node(zh, path, data, ZOO_EPHEMERAL);
        if (r == ZNODEEXISTS && owned_by_session(zh, path)) r = ZOK;
        return r;
      });
      if (rc == ZOK) {
        spdlog::info("zookeeper {}: ephemeral node {} re-created", addr_, path);
      } else if (rc == ZNODEEXISTS) {
        spdlog::warn("zookeeper {}: ephemeral node {} was taken by another session; "
                     "not re-created",
                     addr_, path);
        std::lock_guard lock(eph_mu_);
        ephemerals_.erase(path);
      } else {
        spdlog::warn("zookeeper {}: cannot re-create ephemeral node {}: {} (will retry)", addr_,
                     path, zerror(rc));
        ephemerals_dirty_ = true;
      }
    }
  }

  // ---- watches

  Result<std::unique_ptr<WatchHandle>> add_watch(WatchKind kind, const std::string& path,
                                                 std::function<void()> fn) {
    auto entry = watches_->make(kind, path, std::move(fn));
    auto* raw = entry.get();
    auto handle = watches_->add(std::move(entry));
    arm(*raw);  // if this fails, tick() retries once connected
    return handle;
  }

  // Sets the one-shot server watch for an entry: an exists-watch for data
  // (fires on create, change and delete), a child watch for a directory, or
  // an exists-watch until the directory appears.
  bool arm(WatchEntry& e) {
    void* ctx = reinterpret_cast<void*>(static_cast<uintptr_t>(e.id));
    int rc = call([&](zhandle_t* zh) {
      Stat st{};
      if (e.kind == WatchKind::kData) {
        int r = zoo_wexists(zh, e.path.c_str(), &ZkCoordinator::on_watch_event, ctx, &st);
        return r == ZNONODE ? ZOK : r;
      }
      for (int attempt = 0; attempt < 3; ++attempt) {
        String_vector sv{};
        int r = zoo_wget_children(zh, e.path.c_str(), &ZkCoordinator::on_watch_event, ctx, &sv);
        if (r == ZOK) deallocate_String_vector(&sv);
        if (r != ZNONODE) return r;
        r = zoo_wexists(zh, e.path.c_str(), &ZkCoordinator::on_watch_event, ctx, &st);
        if (r != ZOK) return r == ZNONODE ? ZOK : r;
        // created in between: take the child watch
      }
      return static_cast<int>(ZOPERATIONTIMEOUT);
    });
    e.armed = rc == ZOK;
    if (rc != ZOK) {
      spdlog::debug("zookeeper {}: cannot watch {}: {} (will retry)", addr_, e.path, zerror(rc));
    }
    return rc == ZOK;
  }

  // ---- helpers

  template <class F>
  int call(F&& f) {
    std::shared_lock lock(zh_mu_);
    if (!zh_) return ZINVALIDSTATE;
    return f(zh_);
  }

  int create_node(zhandle_t* zh, const std::string& path, const std::string& data, int mode) {
    auto attempt = [&] {
      return zoo_create(zh, path.c_str(), data.data(), static_cast<int>(data.size()), &leaf_acls_,
                        mode, nullptr, 0);
    };
    int rc = attempt();
    if (rc != ZNONODE) return rc;
    for (const auto& dir : ancestors(path)) {
      int r = zoo_create(zh, dir.c_str(), "", 0, &dir_acls_, ZOO_PERSISTENT, nullptr, 0);
      if (r != ZOK && r != ZNODEEXISTS) return r;
    }
    return attempt();
  }

  static bool owned_by_session(zhandle_t* zh, const std::string& path) {
    Stat st{};
    const clientid_t* cid = zoo_client_id(zh);
    return cid && zoo_exists(zh, path.c_str(), 0, &st) == ZOK && st.ephemeralOwner == cid->client_id;
  }

  Status check(const std::string& path, const std::string& data, std::string_view op) const {
    if (auto s = check_path(path, false); !s) return s;
    if (data.size() > kMaxValueSize) {
      return error(op, path,
                   "value of " + std::to_string(data.size()) +
                       " bytes is over ZooKeeper's limit (about 1 MiB)");
    }
    return Status::Ok();
  }

  Status error(std::string_view op, const std::string& path, const std::string& cause) const {
    return Status::Error("zookeeper " + addr_ + ": " + std::string(op) + " " + path + ": " + cause);
  }

  Status error(std::string_view op, const std::string& path, int rc) const {
    std::string cause = zerror(rc);
    if (rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT) {
      cause += " (not connected; the client keeps reconnecting, retry later)";
    } else if (rc == ZINVALIDSTATE || rc == ZSESSIONEXPIRED) {
      cause += " (session expired; a new session is being established, retry later)";
    } else if (rc == ZNOAUTH) {
      cause += " (not allowed by the node's ACL: check coordinator_auth)";
    } else if (rc == ZNOCHILDRENFOREPHEMERALS) {
      cause += " (a parent is an ephemeral node)";
    }
    return error(op, path, cause);
  }

  const std::string addr_;
  const std::string auth_;
  const std::chrono::milliseconds timeout_;
  ACL dir_acl_{}, leaf_acl_{};
  ACL_vector dir_acls_{}, leaf_acls_{};

  std::shared_mutex zh_mu_;
  zhandle_t* zh_ = nullptr;                  // guarded by zh_mu_
  std::unique_ptr<SessionContext> context_;  // guarded by zh_mu_ (exclusive)
  std::atomic<uint64_t> generation_{0};

  std::mutex state_mu_;
  std::condition_variable state_cv_;
  bool connected_ = false;  // guarded by state_mu_

  std::mutex ev_mu_;
  std::condition_variable ev_cv_;
  std::deque<Event> events_;
  bool stop_ = false;
  std::thread worker_;
  // Worker thread only:
  int64_t session_id_ = 0;
  bool was_disconnected_ = false;
  std::chrono::steady_clock::time_point disconnected_since_;
  std::atomic<bool> ephemerals_dirty_{false};

  std::mutex eph_mu_;
  std::map<std::string, std::string> ephemerals_;  // this client's ephemeral nodes -> data

  std::shared_ptr<WatchRegistry> watches_;
};

}  // namespace

Result<std::unique_ptr<Coordinator>> connect_zookeeper_coordinator(
    const std::string& addr, const CoordinatorOptions& options) {
  using R = Result<std::unique_ptr<Coordinator>>;
  if (addr.empty()) return R::Error("zookeeper: no address given (host:port[,host:port...])");
  if (!options.auth.empty()) {
    auto colon = options.auth.find(':');
    if (colon == std::string::npos || colon == 0) {
      return R::Error("zookeeper " + addr + ": invalid auth: expected \"user:password\"");
    }
  }
  auto c = std::make_unique<ZkCoordinator>(addr, options);
  if (auto s = c->start(); !s) return s;
  return std::unique_ptr<Coordinator>(std::move(c));
}

}  // namespace codis::detail
