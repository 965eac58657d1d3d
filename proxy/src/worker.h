// Worker: one thread, one io_context. It owns its sessions, its backend
// connections and its copy of the routing table, so nothing on the request
// path is shared with another thread. The io_context runs without any
// internal locking (BOOST_ASIO_CONCURRENCY_HINT_UNSAFE); other threads talk to
// a worker only through post(), a mutex-protected mailbox that wakes the
// worker through an eventfd (a new client socket, a new routing table, a
// request for its statistics, stop). Those are rare; the request path never
// touches the mailbox.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "acl_store.h"
#include "client_memory.h"
#include "codis/config.h"
#include "codis/tls.h"
#include "io_buffer.h"
#include "request.h"
#include "routing_table.h"
#include "stats.h"

namespace codis::proxy {

int64_t monotonic_ms();
int64_t monotonic_ns();

class BackendConn;
class Session;
struct CommandInfo;

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// What the admin side needs to know about the whole proxy, shared read-only.
struct ProxyContext {
  ProxyConfig config;
  std::string token;
  std::string product_version = "0.1.0";
  mutable std::atomic<int64_t> clients{0};  // open client connections, all workers (proxy_max_clients)
  mutable std::atomic<uint64_t> refused_max_clients{0};
  mutable std::atomic<uint64_t> refused_per_source{0};
  // proxy_max_clients_per_source (when set): open connections per source address. Taken by the
  // acceptor, given back when the session ends; connects and closes only, never the request path.
  bool take_source(const std::string& ip) const;
  void release_source(const std::string& ip) const;
  mutable std::mutex sources_mu;
  mutable std::unordered_map<std::string, int> sources;
  mutable AclStore acl;                     // the users (users_file); reloads swap the whole set
  mutable ClientMemory client_memory;       // proxy_max_client_memory: every session's buffers

  // TLS contexts (null: off): the client port's and the backends'. A new
  // connection takes the current one; a certificate reload swaps them.
  tls::Context client_tls() const {
    std::lock_guard lk(tls_mu);
    return client_tls_ctx;
  }
  tls::Context backend_tls() const {
    std::lock_guard lk(tls_mu);
    return backend_tls_ctx;
  }
  mutable std::mutex tls_mu;
  tls::Context client_tls_ctx;
  tls::Context backend_tls_ctx;
};

class Worker {
 public:
  Worker(int index, const ProxyContext& ctx);
  ~Worker();

  void start();  // runs the thread
  void stop();   // closes everything and joins
  boost::asio::io_context& io() { return io_; }
  int index() const { return index_; }
  const ProxyContext& context() const { return ctx_; }
  const ProxyConfig& config() const { return ctx_.config; }
  WorkerStats& stats() { return stats_; }
  int64_t now_ms() const { return now_ms_; }  // coarse: refreshed per tick and on rare events
  int64_t refresh_clock() { return now_ms_ = monotonic_ms(); }
  // When this worker's loop last ran its once-a-second tick (monotonic_ms; any thread may read it).
  int64_t last_tick_ms() const { return last_tick_ms_.load(std::memory_order_relaxed); }

  // Runs `fn` on the worker's thread; callable from any thread. False (and
  // `fn` dropped) once the worker has stopped.
  bool post(std::function<void()> fn);

  // --- called from other threads through post() ---
  // `source`: the address counted against proxy_max_clients_per_source ("" if none), given back at retire.
  void adopt_client(int fd, bool tls, const std::string& source);  // a socket accepted by the acceptor (of the TLS port)
  void set_table(std::shared_ptr<const RoutingTable> table);
  void snapshot(StatsSnapshot& out) const;  // run on this thread

  // --- request path (this thread only) ---
  const RoutingTable& table() const { return *table_; }
  // Sends a command for one slot to wherever the routing table says,
  // following the slot's lock or migration. `hashkey` is its first key.
  void forward(const RequestPtr& req, std::string_view encoded, std::string_view hashkey);
  void complete(Request* req, std::string_view reply, bool proxy_error = false);
  void complete_error(Request* req, std::string_view message);
  // A backend failed this request: answer the error and, with
  // session_break_on_failure, close the client's connection after it.
  void backend_failed(Request* req, std::string_view message);  // message without '-'
  void on_backend_reply(const RequestPtr& req, ReplyUse use, std::string_view reply);
  BackendConn* backend(std::string_view addr, int db);
  // Connections as the admin identity (product_auth), made on first use: only for the cluster-wide
  // administration of +@admin proxy users (cluster_admin.cpp). Client commands never use them.
  BackendConn* admin_backend(std::string_view addr, int db);
  // A connection for one session only (blocking commands, transactions).
  // The worker owns it; the session gives it back with release_dedicated().
  BackendConn* new_dedicated(const std::string& addr, int db);
  void release_dedicated(BackendConn* conn);
  // (group id, master address) of every group serving a slot, by group id.
  const std::vector<std::pair<int, std::string>>& groups();

  void mark_dirty(Session* s);
  void mark_dirty(BackendConn* b);
  void retire(Session* s);

  // Client memory (client_memory.cpp, docs/design.md §8.5). A session's buffers
  // changed from `was` to `now` bytes; over proxy_max_client_memory, the
  // biggest session is closed (maybe the caller's: it checks closed()).
  void client_memory_changed(size_t was, size_t now);
  // Runs on this worker's thread, also when another worker asks.
  void enforce_client_memory();
  // Where sessions with nothing buffered read (Session::input_buffer): only a
  // session holding part of a request has a buffer of its own.
  IoBuffer input_scratch;
  // Key positions of the request being dispatched / checked against the user's key patterns:
  // scratch of the worker, not of each session (an idle session's size counts).
  std::vector<int> keys_scratch;
  std::vector<int> acl_keys_scratch;

 private:
  void schedule_flush();
  void arm_mailbox();
  void drain_mailbox();
  void flush_all();
  void tick();
  void arm_tick();
  // Quiet sessions' buffers freed, memory returned to the system, log lines summed up.
  void tick_client_memory(int64_t quiet_ms);
  void handle_wrapper_reply(const RequestPtr& req, std::string_view reply);
  void retry_later(const RequestPtr& req);
  BackendConn* pick_backend(const Route& r, const Request& req);

  int index_;
  const ProxyContext& ctx_;
  boost::asio::io_context io_;
  boost::asio::steady_timer ticker_;
  std::thread thread_;
  std::mutex mailbox_mu_;
  std::vector<std::function<void()>> mailbox_;
  boost::asio::posix::stream_descriptor wake_;
  uint64_t wake_value_ = 0;
  bool stopped_ = false;
  std::shared_ptr<const RoutingTable> table_;
  // address -> one connection per database, made on first use
  using Pool = std::unordered_map<std::string, std::vector<std::unique_ptr<BackendConn>>, StringHash, std::equal_to<>>;
  BackendConn* pooled(Pool& pool, std::string_view addr, int db, bool admin);
  Pool backends_;
  Pool admin_backends_;
  std::array<BackendConn*, kSlotCount> db0_cache_{};  // slot -> master conn for db 0, reset with the table
  std::unordered_map<int, std::vector<RequestPtr>> parked_;  // locked slot -> waiting requests
  std::unordered_set<Session*> sessions_;
  std::vector<Session*> dirty_sessions_;
  std::vector<BackendConn*> dirty_backends_;
  std::vector<Session*> retired_;
  std::unordered_map<BackendConn*, std::unique_ptr<BackendConn>> dedicated_;
  std::vector<std::unique_ptr<BackendConn>> graveyard_;  // closed, deleted once no handler refers to them
  bool flush_posted_ = false;
  std::vector<std::pair<int, std::string>> groups_;  // cache for groups(), per table version
  std::atomic<int64_t> last_tick_ms_{0};
  uint64_t groups_version_ = ~uint64_t{0};
  int64_t now_ms_ = 0;
  uint64_t slow_us_ = 0;  // slowlog_log_slower_than; 0: off
  uint32_t slow_logged_ = 0;  // slow-log lines this tick
  uint64_t next_session_id_ = 1;
  WorkerStats stats_;
  int64_t client_bytes_ = 0;         // buffers of this worker's sessions (published in ctx_.client_memory)
  int64_t biggest_published_ = 0;    // what ctx_.client_memory has as this worker's biggest session
  uint64_t freed_since_trim_ = 0;    // bytes freed since the allocator was last asked to give memory back
  uint32_t memory_closes_logged_ = 0;  // log lines about sessions closed over the budget, this tick
};


}  // namespace codis::proxy
