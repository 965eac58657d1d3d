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
// ACLs. Without coordinator_auth, as Codis's zkclient: "world:anyone" with all
// permissions on directories and read/write/admin on leaves (a warning at
// start says so). With coordinator_auth = "user:password" the session
// authenticates with the digest scheme (on every new handle; the C client
// re-sends it on every reconnect) and every node we create, parents included,
// gets exactly "digest:user:base64(sha1(user:password))" with all permissions,
// which is ZooKeeper's own digest of that identity. Nodes under /jodis (and
// Codis 2's jodis tree /zk/codis) also get "world:anyone" READ: jodis clients
// discover proxies there without credentials.
//
// Nodes that already exist with an open ACL (a cluster created before auth
// was turned on): the first time this process touches a node (read, list,
// write, or as the parent of one) its ACL is read once; if it lets
// world:anyone do more than our ACL would, it is replaced with ours and
// logged. A dashboard loads its whole product at start, so restarting it with
// coordinator_auth protects the product's tree. An ACL that is not open but
// not ours either (an operator's own) is left alone.
#include <openssl/evp.h>
#include <zookeeper/zookeeper.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
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
char kSchemeDigest[] = "digest";

// ZooKeeper's digest identity of "user:password": user:base64(sha1(user:password)),
// as DigestAuthenticationProvider.generateDigest computes it.
std::string digest_identity(const std::string& auth) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_Digest(auth.data(), auth.size(), md, &md_len, EVP_sha1(), nullptr) != 1) return {};
  std::string b64(4 * ((md_len + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), md, static_cast<int>(md_len));
  b64.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return auth.substr(0, auth.find(':')) + ":" + b64;
}

// Paths that jodis clients read without credentials.
bool is_public_path(const std::string& path) {
  auto under = [&](std::string_view top) {
    return path.compare(0, top.size(), top) == 0 && (path.size() == top.size() || path[top.size()] == '/');
  };
  return under("/jodis") || under("/zk/codis");
}

bool is_world(const Id& id) {
  return id.scheme && id.id && std::strcmp(id.scheme, "world") == 0 && std::strcmp(id.id, "anyone") == 0;
}

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
        auth_user_(auth_.substr(0, auth_.find(':'))),
        digest_id_(auth_.empty() ? std::string() : digest_identity(auth_)),
        timeout_(options.timeout),
        watches_(std::make_shared<WatchRegistry>()) {
    if (auth_.empty()) {
      open_dir_ = {ZOO_PERM_ALL, {kSchemeWorld, kIdAnyone}};
      open_leaf_ = {ZOO_PERM_READ | ZOO_PERM_WRITE | ZOO_PERM_ADMIN, {kSchemeWorld, kIdAnyone}};
      dir_acls_ = {1, &open_dir_};
      leaf_acls_ = {1, &open_leaf_};
      public_acls_ = {1, &open_dir_};
      public_leaf_acls_ = {1, &open_leaf_};
    } else {
      ours_[0] = {ZOO_PERM_ALL, {kSchemeDigest, digest_id_.data()}};
      ours_[1] = {ZOO_PERM_READ, {kSchemeWorld, kIdAnyone}};
      dir_acls_ = leaf_acls_ = {1, ours_};
      public_acls_ = public_leaf_acls_ = {2, ours_};
    }
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
    if (auth_.empty()) {
      spdlog::warn("zookeeper {}: no coordinator_auth (a proxy: --zookeeper-auth): the nodes we create are open "
                   "to anyone who can reach ZooKeeper, who can read and change the cluster's topology",
                   addr_);
    } else if (digest_id_.empty()) {
      return Status::Error("zookeeper " + addr_ + ": cannot compute the digest of coordinator_auth (OpenSSL SHA-1)");
    }
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
    std::string where = path;
    int rc = call([&](zhandle_t* zh) {
      if (int r = protect(zh, path, false, &where); r != ZOK) return r;
      return create_node(zh, path, data, ZOO_PERSISTENT);
    });
    if (rc == ZNODEEXISTS) return error("create", path, "node already exists");
    if (rc != ZOK) return error("create", path, rc, where);
    checked_up_to(path);
    return Status::Ok();
  }

  Status create_ephemeral(const std::string& path, const std::string& data) override {
    if (auto s = check(path, data, "create ephemeral"); !s) return s;
    std::string where = path;
    int64_t owner = 0;
    int rc = call([&](zhandle_t* zh) {
      if (int r = protect(zh, path, false, &where); r != ZOK) return r;
      return take_node(zh, path, data, &owner);
    });
    if (rc == ZNODEEXISTS) {
      return error("create ephemeral", path,
                   owner ? "node already exists (ephemeral node of session " + hex_session(owner) + ")"
                         : "node already exists");
    }
    if (rc != ZOK) return error("create ephemeral", path, rc, where);
    checked_up_to(path);
    std::lock_guard lock(eph_mu_);
    ephemerals_[path] = data;
    pending_.erase(path);
    return Status::Ok();
  }

  Status update(const std::string& path, const std::string& data) override {
    if (auto s = check(path, data, "update"); !s) return s;
    std::string where = path;
    int rc = call([&](zhandle_t* zh) {
      if (int r = protect(zh, path, true, &where); r != ZOK) return r;
      const int len = static_cast<int>(data.size());
      int r = zoo_set(zh, path.c_str(), data.data(), len, -1);
      if (r != ZNONODE) return r;
      r = create_node(zh, path, data, ZOO_PERSISTENT);
      if (r == ZNODEEXISTS) r = zoo_set(zh, path.c_str(), data.data(), len, -1);
      return r;
    });
    if (rc != ZOK) return error("update", path, rc, where);
    checked_up_to(path);
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
      int rc = call([&](zhandle_t* zh) {
        std::string where;
        std::vector<std::string> paths;
        std::string last_parent;
        for (size_t i = beg; i < end; ++i) {
          paths.push_back(nodes[i].first);
          auto up = ancestors(nodes[i].first);
          if (!up.empty() && up.back() != last_parent) {  // the parent and its ancestors, once
            last_parent = up.back();
            if (int r = protect(zh, last_parent, true, &where); r != ZOK) return r;
          }
        }
        if (int r = protect_many(zh, paths); r != ZOK) return r;
        return zoo_multi(zh, static_cast<int>(ops.size()), ops.data(), results.data());
      });
      if (rc != ZOK) {
        // A missing node (or any other failure): one by one, which creates what
        // is missing, or says what failed.
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
    std::string where = path;
    int rc = call([&](zhandle_t* zh) {
      if (int r = protect(zh, path, false, &where); r != ZOK) return r;
      return zoo_delete(zh, path.c_str(), -1);
    });
    if (rc == ZNOTEMPTY) return error("remove", path, "node has children");
    if (rc != ZOK && rc != ZNONODE) return error("remove", path, rc, where);
    forget(path);
    return Status::Ok();
  }

  Result<bool> remove_if_unchanged(const std::string& path, const std::string& expected) override {
    if (auto s = check_path(path, false); !s) return s;
    std::string where = path;
    int rc = call([&](zhandle_t* zh) {
      if (int r = protect(zh, path, true, &where); r != ZOK) return r;
      std::string data;
      Stat st{};
      if (int r = get_node(zh, path, &data, &st); r != ZOK) return r;
      if (data != expected) return static_cast<int>(ZBADVERSION);
      return zoo_delete(zh, path.c_str(), st.version);  // only the version we compared
    });
    if (rc == ZNONODE || rc == ZBADVERSION) return false;
    if (rc == ZNOTEMPTY) return error("remove if unchanged", path, "node has children");
    if (rc != ZOK) return error("remove if unchanged", path, rc, where);
    forget(path);
    return true;
  }

  Result<std::optional<std::string>> read(const std::string& path) override {
    if (auto s = check_path(path, false); !s) return s;
    std::string data;
    std::string where = path;
    int rc = call([&](zhandle_t* zh) {
      if (int r = protect(zh, path, true, &where); r != ZOK) return r;
      Stat st{};
      return get_node(zh, path, &data, &st);
    });
    if (rc == ZNONODE) return std::optional<std::string>();
    if (rc != ZOK) return error("read", path, rc, where);
    return std::optional<std::string>(std::move(data));
  }

  Result<std::vector<std::string>> list(const std::string& dir) override {
    if (auto s = check_path(dir, true); !s) return s;
    std::vector<std::string> names;
    std::string where = dir;
    int rc = call([&](zhandle_t* zh) {
      if (dir != "/") {
        if (int r = protect(zh, dir, true, &where); r != ZOK) return r;
      }
      String_vector sv{};
      int r = zoo_get_children(zh, dir.c_str(), 0, &sv);
      if (r == ZOK) {
        for (int i = 0; i < sv.count; ++i) names.emplace_back(sv.data[i]);
        deallocate_String_vector(&sv);
        // Whoever lists a directory reads its nodes next (Codis's models are
        // a directory of JSON nodes): check their ACLs now, all at once. A
        // failure here fails nothing: each node is checked again when read.
        std::vector<std::string> children;
        for (const auto& n : names) children.push_back(dir == "/" ? "/" + n : dir + "/" + n);
        (void)protect_many(zh, children);
      }
      return r;
    });
    if (rc == ZNONODE) return names;
    if (rc != ZOK) return error("list", dir, rc, where);
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

  Health health() const override {
    Health h;
    h.session_losses = session_losses_.load();
    h.ephemerals_recreated = recreated_.load();
    std::lock_guard lock(eph_mu_);
    h.ephemerals_pending = pending_.size();
    return h;
  }

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
            session_losses_.fetch_add(1);
            spdlog::warn("zookeeper {}: new session {} (session {} was lost): re-creating "
                         "ephemeral nodes, re-arming watches",
                         addr_, hex_session(id), hex_session(session_id_));
          } else {
            spdlog::info("zookeeper {}: connected, session {}", addr_, hex_session(id));
          }
          session_id_ = id;
          {
            std::lock_guard lock(eph_mu_);
            own_sessions_.insert(id);
            const auto now = std::chrono::steady_clock::now();
            for (const auto& [path, data] : ephemerals_) {
              pending_.try_emplace(path, Pending{now, now}).first->second.next_try = now;  // at once
            }
          }
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
    recreate_ephemerals();
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

  // Re-creates this client's ephemeral nodes after a session loss (those in
  // pending_ whose retry is due). A node still held by one of our earlier
  // sessions is ours: take_node() replaces it. One held by another session
  // with our data is a session of ours expiring that we did not know of:
  // retried with backoff until it goes. One with other data was taken by
  // another client: given up and logged (for the dashboard lock: another
  // dashboard took over, and Topom::on_lock_changed stops this one).
  // docs/design.md §4.
  void recreate_ephemerals() {
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::pair<std::string, std::string>> due;
    {
      std::lock_guard lock(eph_mu_);
      for (const auto& [path, p] : pending_) {
        auto it = ephemerals_.find(path);
        if (it != ephemerals_.end() && p.next_try <= now) due.emplace_back(path, it->second);
      }
    }
    for (const auto& [path, data] : due) {
      int64_t owner = 0;
      std::string held;
      int rc = call([&](zhandle_t* zh) {
        int r = take_node(zh, path, data, &owner);
        if (r == ZNODEEXISTS) {
          Stat st{};
          if (get_node(zh, path, &held, &st) != ZOK) held = data;  // look again at the next try
        }
        return r;
      });
      std::lock_guard lock(eph_mu_);
      auto it = pending_.find(path);
      if (it == pending_.end() || !ephemerals_.count(path)) continue;  // created or removed meanwhile
      Pending& p = it->second;
      ++p.attempts;
      const auto waited = std::chrono::duration_cast<std::chrono::seconds>(now - p.since).count();
      if (rc == ZOK) {
        recreated_.fetch_add(1);
        spdlog::warn("zookeeper {}: ephemeral node {} re-created on session {}{}", addr_, path,
                     hex_session(session_id_),
                     p.attempts > 1 ? fmt::format(" (attempt {}, after {} s)", p.attempts, waited) : std::string());
        pending_.erase(it);
        continue;
      }
      if (rc == ZNODEEXISTS && held != data) {
        spdlog::error("zookeeper {}: ephemeral node {} was taken by another client (session {}) with other "
                      "data; not re-created",
                      addr_, path, hex_session(owner));
        ephemerals_.erase(path);
        pending_.erase(it);
        continue;
      }
      const std::string why = rc == ZNODEEXISTS
                                  ? "still held by session " + hex_session(owner) + " with our data (an old "
                                    "session of ours, expiring on the server)"
                                  : std::string(zerror(rc));
      // Backoff 1, 2, 4, 8 s; one log line per node at most every 30 s.
      const auto delay = std::chrono::seconds(1 << std::min(p.attempts - 1, 3));
      p.next_try = now + delay;
      if (p.attempts == 1 || now - p.last_log >= std::chrono::seconds(30)) {
        p.last_log = now;
        spdlog::warn("zookeeper {}: cannot re-create ephemeral node {} yet: {} (attempt {}, {} s since the "
                     "session was lost; retrying every {} s)",
                     addr_, path, why, p.attempts, waited, delay.count());
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
      return zoo_create(zh, path.c_str(), data.data(), static_cast<int>(data.size()), acl_for(path, false),
                        mode, nullptr, 0);
    };
    int rc = attempt();
    if (rc != ZNONODE) return rc;
    for (const auto& dir : ancestors(path)) {
      int r = zoo_create(zh, dir.c_str(), "", 0, acl_for(dir, true), ZOO_PERSISTENT, nullptr, 0);
      if (r != ZOK && r != ZNODEEXISTS) return r;
    }
    return attempt();
  }

  // The ACL we give a node we create at `path`.
  ACL_vector* acl_for(const std::string& path, bool dir) {
    if (is_public_path(path)) return dir ? &public_acls_ : &public_leaf_acls_;
    return dir ? &dir_acls_ : &leaf_acls_;
  }

  // With coordinator_auth: the first time this process touches `path` (and,
  // with `self`, the path itself; always its existing ancestors), replace an
  // open ACL left from before auth was turned on with ours (see the top of
  // this file). ZOK, or the error of the step that failed, with *where set to
  // its path. Absent nodes are not remembered: we create them with our ACL.
  int protect(zhandle_t* zh, const std::string& path, bool self, std::string* where) {
    if (auth_.empty()) return ZOK;
    auto paths = ancestors(path);
    if (self) paths.push_back(path);
    for (const auto& p : paths) {
      {
        std::lock_guard lock(acl_mu_);
        if (acl_checked_.count(p)) continue;
      }
      int rc = protect_one(zh, p);
      if (rc == ZNONODE) break;  // nor are its descendants there
      if (rc != ZOK) {
        *where = p;
        return rc;
      }
      std::lock_guard lock(acl_mu_);
      acl_checked_.insert(p);
    }
    *where = path;
    return ZOK;
  }

  int protect_one(zhandle_t* zh, const std::string& path) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      ACL_vector acl{};
      Stat st{};
      int rc = zoo_get_acl(zh, path.c_str(), &acl, &st);
      // Anyone may read an ACL that gives anyone READ or ADMIN: a refusal means
      // the node is not open. Not ours either: left alone (the operation
      // itself then says whether we may do it; an ancestor may well be
      // someone else's, as ZooKeeper checks no path on the way).
      if (rc == ZNOAUTH) return ZOK;
      if (rc != ZOK) return rc;
      const bool open = is_open(path, acl);
      deallocate_ACL_vector(&acl);
      if (!open) return ZOK;
      rc = replace_open_acl(zh, path, st.aversion);
      if (rc != ZBADVERSION) return rc;  // else changed meanwhile: look again
    }
    return ZOK;  // kept changing: checked again the next time this process starts
  }

  // Whether `acl` lets anyone (world:anyone) do more than our ACL for `path` would.
  static bool is_open(const std::string& path, const ACL_vector& acl) {
    const int world_ok = is_public_path(path) ? ZOO_PERM_READ : 0;
    for (int i = 0; i < acl.count; ++i) {
      if (is_world(acl.data[i].id) && (acl.data[i].perms & ~world_ok) != 0) return true;
    }
    return false;
  }

  // Sets our ACL on an open node (if its ACL is still at `aversion`) and logs it.
  int replace_open_acl(zhandle_t* zh, const std::string& path, int32_t aversion) {
    int rc = zoo_set_acl(zh, path.c_str(), aversion, acl_for(path, true));  // with auth: one ACL for both
    if (rc == ZNOAUTH) {
      // The open ACL lacks ADMIN for anyone: only an operator can fix it.
      spdlog::warn("zookeeper {}: {} has an ACL that lets anyone read or write it, and we may not "
                   "change it (no ADMIN permission): set it by hand (zkCli.sh setAcl)",
                   addr_, path);
      return ZOK;
    }
    if (rc != ZOK) return rc;
    if (acl_fixed_.fetch_add(1) == 0) {
      spdlog::warn("zookeeper {}: {} had an open ACL (created without coordinator_auth): setting the "
                   "digest ACL of user '{}' on it, and on every other open node this process uses "
                   "(each logged at debug level)",
                   addr_, path, auth_user_);
    } else {
      spdlog::debug("zookeeper {}: {}: open ACL replaced by the digest ACL of user '{}'", addr_, path,
                    auth_user_);
    }
    return ZOK;
  }

  // protect() of many nodes (not their ancestors) in one round trip: their
  // ACLs are asked for all at once (asynchronous calls, pipelined on the
  // connection); the few open ones are then replaced one by one. A proxy
  // loading 1024 slots pays one round trip for the check, not 1024. ZOK or
  // the first error.
  struct AclBatch {
    std::mutex mu;
    std::condition_variable cv;
    int pending = 0;  // guarded by mu
  };
  struct AclProbe {
    AclBatch* batch;
    std::string path;
    int rc = ZOK;
    bool open = false;
    int32_t aversion = 0;
  };

  static void on_acl(int rc, ACL_vector* acl, Stat* stat, const void* data) {
    auto* probe = static_cast<AclProbe*>(const_cast<void*>(data));
    probe->rc = rc;
    if (rc == ZOK && acl && stat) {
      probe->open = is_open(probe->path, *acl);
      probe->aversion = stat->aversion;
    }
    std::lock_guard lock(probe->batch->mu);  // notify under the lock: the waiter then frees the batch
    --probe->batch->pending;
    probe->batch->cv.notify_all();
  }

  int protect_many(zhandle_t* zh, const std::vector<std::string>& paths) {
    if (auth_.empty()) return ZOK;
    AclBatch batch;
    std::vector<AclProbe> probes;
    {
      std::lock_guard lock(acl_mu_);
      for (const auto& p : paths) {
        if (!acl_checked_.count(p)) probes.push_back({&batch, p});
      }
    }
    if (probes.empty()) return ZOK;
    int sent = 0;
    for (auto& probe : probes) {  // `probes` no longer moves: the callbacks hold pointers into it
      probe.rc = zoo_aget_acl(zh, probe.path.c_str(), &ZkCoordinator::on_acl, &probe);
      if (probe.rc == ZOK) ++sent;
    }
    {
      // Every request sent gets its completion, also when the connection
      // drops (CONNECTIONLOSS) or the session ends: wait for all of them.
      std::unique_lock lock(batch.mu);
      batch.pending += sent;
      batch.cv.wait(lock, [&] { return batch.pending == 0; });
    }
    int first_error = ZOK;
    for (const auto& probe : probes) {
      int rc = probe.rc;
      // NOAUTH: not open (see protect_one). NONODE: created later by us, or
      // by someone allowed to by its parent, which protect() checked first.
      if (rc == ZNOAUTH || rc == ZNONODE) {
        rc = ZOK;
      } else if (rc == ZOK && probe.open) {
        rc = replace_open_acl(zh, probe.path, probe.aversion);
        if (rc == ZBADVERSION) rc = protect_one(zh, probe.path);
      }
      if (rc != ZOK) {
        if (first_error == ZOK) first_error = rc;
        continue;
      }
      std::lock_guard lock(acl_mu_);
      acl_checked_.insert(probe.path);
    }
    return first_error;
  }

  // After a successful write: the path and its ancestors were checked by
  // protect() or created by us with our ACL.
  void checked_up_to(const std::string& path) {
    if (auth_.empty()) return;
    std::lock_guard lock(acl_mu_);
    for (const auto& p : ancestors(path)) acl_checked_.insert(p);
    acl_checked_.insert(path);
  }

  void forget_acl(const std::string& path) {
    std::lock_guard lock(acl_mu_);
    acl_checked_.erase(path);
  }

  // Creates our ephemeral node at `path`. A node already there that one of
  // this client's sessions owns is ours: the current session's (a retry after
  // a lost reply) gets `data`; an earlier session's (lost, but still alive on
  // the server until it expires there, e.g. a ZooKeeper restarted after our
  // session timeout) is removed if unchanged since we looked, and created
  // again. Nobody else can hold that session: its handle was ours and is
  // closed. ZNODEEXISTS, with *owner, if another session (or none:
  // persistent) holds it.
  int take_node(zhandle_t* zh, const std::string& path, const std::string& data, int64_t* owner) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      int r = create_node(zh, path, data, ZOO_EPHEMERAL);
      const clientid_t* cid = zoo_client_id(zh);
      if (r == ZOK && cid) {
        std::lock_guard lock(eph_mu_);
        own_sessions_.insert(cid->client_id);
      }
      if (r != ZNODEEXISTS) return r;
      Stat st{};
      r = zoo_exists(zh, path.c_str(), 0, &st);
      if (r == ZNONODE) continue;  // gone meanwhile
      if (r != ZOK) return r;
      if (cid && st.ephemeralOwner == cid->client_id) {
        return zoo_set(zh, path.c_str(), data.data(), static_cast<int>(data.size()), -1);
      }
      *owner = st.ephemeralOwner;
      {
        std::lock_guard lock(eph_mu_);
        if (st.ephemeralOwner == 0 || !own_sessions_.count(st.ephemeralOwner)) return ZNODEEXISTS;
      }
      spdlog::warn("zookeeper {}: {} is still held by our lost session {}: replacing it", addr_, path,
                   hex_session(st.ephemeralOwner));
      r = zoo_delete(zh, path.c_str(), st.version);
      if (r != ZOK && r != ZNONODE && r != ZBADVERSION) return r;
    }
    return ZNODEEXISTS;
  }

  // A node's data and stat.
  static int get_node(zhandle_t* zh, const std::string& path, std::string* data, Stat* st) {
    data->assign(64 * 1024, '\0');
    for (;;) {
      int len = static_cast<int>(data->size());
      int rc = zoo_get(zh, path.c_str(), 0, data->data(), &len, st);
      if (rc != ZOK) return rc;
      if (st->dataLength > static_cast<int>(data->size())) {  // grew since: read again
        data->assign(static_cast<size_t>(st->dataLength), '\0');
        continue;
      }
      data->resize(len < 0 ? 0 : static_cast<size_t>(len));
      return ZOK;
    }
  }

  // After `path` was removed: no ACL to check again, no ephemeral node to re-create.
  void forget(const std::string& path) {
    forget_acl(path);
    std::lock_guard lock(eph_mu_);
    ephemerals_.erase(path);
    pending_.erase(path);
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

  Status error(std::string_view op, const std::string& path, int rc, const std::string& where = {}) const {
    std::string cause = zerror(rc);
    if (rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT) {
      cause += " (not connected; the client keeps reconnecting, retry later)";
    } else if (rc == ZINVALIDSTATE || rc == ZSESSIONEXPIRED) {
      cause += " (session expired; a new session is being established, retry later)";
    } else if (rc == ZNOAUTH) {
      // protect() says which node refused; otherwise creating and removing
      // may have been refused by the parent's ACL.
      const bool known = !where.empty() && where != path;
      const bool parent_too = !known && (op == "create" || op == "create ephemeral" || op == "remove" || op == "update");
      cause = "ZooKeeper refused access to " + (known ? where : path) + ": " +
              (auth_.empty() ? "the node has an ACL that needs credentials and coordinator_auth is not set"
                             : "coordinator_auth (user '" + auth_user_ + "') does not match the ACL of the node") +
              (parent_too ? " (or of its parent, which creating or removing a node needs)" : "");
    } else if (rc == ZNOCHILDRENFOREPHEMERALS) {
      cause += " (a parent is an ephemeral node)";
    }
    return error(op, path, cause);
  }

  const std::string addr_;
  const std::string auth_;       // "user:password": never logged
  const std::string auth_user_;  // "user"
  std::string digest_id_;  // "user:base64(sha1(user:password))"; not const: ACL wants a char*
  const std::chrono::milliseconds timeout_;
  // The ACLs of the nodes we create: (public = under /jodis) x (directory, leaf).
  ACL open_dir_{}, open_leaf_{}, ours_[2]{};
  ACL_vector dir_acls_{}, leaf_acls_{}, public_acls_{}, public_leaf_acls_{};
  // Paths whose ACL this process has checked (protect()).
  std::mutex acl_mu_;
  std::set<std::string> acl_checked_;
  std::atomic<int> acl_fixed_{0};

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

  // This client's ephemeral nodes, and those not re-created yet after a session loss.
  struct Pending {
    std::chrono::steady_clock::time_point since, next_try;
    std::chrono::steady_clock::time_point last_log{};
    int attempts = 0;
  };
  mutable std::mutex eph_mu_;
  std::map<std::string, std::string> ephemerals_;  // path -> data; guarded by eph_mu_
  std::map<std::string, Pending> pending_;         // guarded by eph_mu_
  std::set<int64_t> own_sessions_;                 // every session this client had; guarded by eph_mu_
  std::atomic<uint64_t> session_losses_{0}, recreated_{0};

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
