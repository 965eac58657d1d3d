#include "worker.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <charconv>
#include <map>
#include <chrono>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backend_conn.h"
#include "codis/host_port.h"
#include "command_table.h"
#include "session.h"

namespace codis::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

int64_t monotonic_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
int64_t monotonic_ms() { return monotonic_ns() / 1000000; }

namespace {
constexpr int64_t kTickMs = 1000;
constexpr int64_t kTlsHandshakeMs = 10000;
constexpr uint32_t kSlowLogPerTick = 10;
}  // namespace

// ---- Request recycling (per thread) ----
namespace {
struct RequestPool {
  std::vector<Request*> free;
  ~RequestPool() {
    for (Request* r : free) delete r;
  }
};
thread_local RequestPool t_pool;
constexpr size_t kRequestPoolMax = 4096;
constexpr size_t kRequestKeepString = 16 * 1024;  // a request holding a bigger string is not recycled
}  // namespace

Request* new_request() {
  if (!t_pool.free.empty()) {
    Request* r = t_pool.free.back();
    t_pool.free.pop_back();
    return r;
  }
  return new Request();
}

void free_request(Request* r) {
  if (Request* p = r->parent) {
    r->parent = nullptr;
    if (--p->refs == 0) free_request(p);
  }
  if (t_pool.free.size() >= kRequestPoolMax || r->reply.capacity() > kRequestKeepString ||
      r->encoded.capacity() > kRequestKeepString) {
    delete r;
    return;
  }
  r->done = false;
  r->counted_fail = false;
  r->internal = false;
  r->db = 0;
  r->slot = 0;
  r->attempts = 0;
  r->cmd = nullptr;
  r->session = nullptr;
  r->positions.clear();
  r->reply.clear();
  r->encoded.clear();
  r->hashkey.clear();
  delete r->split;
  r->split = nullptr;
  r->start_ns = 0;
  t_pool.free.push_back(r);
}

void trim_request_pool(size_t keep) {
  while (t_pool.free.size() > keep) {
    delete t_pool.free.back();
    t_pool.free.pop_back();
  }
  if (t_pool.free.empty()) std::vector<Request*>().swap(t_pool.free);
}

// ---- Worker ----

Worker::Worker(int index, const ProxyContext& ctx)
    : index_(index),
      ctx_(ctx),
      io_(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE),
      ticker_(io_),
      wake_(io_),
      table_(std::make_shared<RoutingTable>()),
      stats_(all_commands().size()) {
  now_ms_ = monotonic_ms();
  slow_us_ = static_cast<uint64_t>(ctx.config.slowlog_log_slower_than.count()) * 1000;
  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) throw std::runtime_error("eventfd failed");
  wake_.assign(fd);
  ctx.client_memory.attach(static_cast<size_t>(index), this);
}

Worker::~Worker() {
  stop();
  for (Session* s : sessions_) delete s;
  for (Session* s : retired_) delete s;
  sessions_.clear();
  retired_.clear();
  parked_.clear();
}

void Worker::start() {
  arm_tick();
  arm_mailbox();
  thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(io_);
    io_.run();
  });
}

bool Worker::post(std::function<void()> fn) {
  bool wake = false;
  {
    std::lock_guard lk(mailbox_mu_);
    if (stopped_) return false;
    wake = mailbox_.empty();
    mailbox_.push_back(std::move(fn));
  }
  if (wake) {
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_.native_handle(), &one, sizeof one);
  }
  return true;
}

void Worker::arm_mailbox() {
  wake_.async_read_some(asio::buffer(&wake_value_, sizeof wake_value_),
                        [this](const boost::system::error_code& ec, size_t) {
                          if (ec == asio::error::operation_aborted) return;
                          drain_mailbox();
                          if (wake_.is_open()) arm_mailbox();
                        });
}

void Worker::drain_mailbox() {
  std::vector<std::function<void()>> work;
  {
    std::lock_guard lk(mailbox_mu_);
    work.swap(mailbox_);
  }
  for (auto& fn : work) fn();
}

void Worker::stop() {
  if (!thread_.joinable()) return;
  post([this] {
    for (Session* s : std::vector<Session*>(sessions_.begin(), sessions_.end())) s->close("proxy shutting down");
    for (Pool* pool : {&backends_, &admin_backends_})
      for (auto& [addr, conns] : *pool)
        for (auto& c : conns)
          if (c) c->close();
    for (auto& [raw, conn] : dedicated_) conn->close();
    ticker_.cancel();
    boost::system::error_code ec;
    wake_.close(ec);
    io_.stop();
  });
  thread_.join();
  // Whatever was posted after the stop closure runs here, on this thread (the
  // worker's is gone), so callers waiting for it are released.
  std::vector<std::function<void()>> rest;
  {
    std::lock_guard lk(mailbox_mu_);
    stopped_ = true;
    rest.swap(mailbox_);
  }
  for (auto& fn : rest) fn();
}

void Worker::arm_tick() {
  ticker_.expires_after(std::chrono::milliseconds(kTickMs));
  ticker_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    tick();
    arm_tick();
  });
}

void Worker::tick() {
  now_ms_ = monotonic_ms();
  last_tick_ms_.store(now_ms_, std::memory_order_relaxed);
  if (slow_logged_ > kSlowLogPerTick)
    spdlog::warn("{} more slow commands in the last second (see codis_proxy_slow_commands_total)",
                 slow_logged_ - kSlowLogPerTick);
  slow_logged_ = 0;
  for (Pool* pool : {&backends_, &admin_backends_})
    for (auto& [addr, conns] : *pool)
      for (auto& c : conns)
        if (c) c->tick(now_ms_);
  for (auto& [raw, conn] : dedicated_) conn->tick(now_ms_);
  if (!ctx_.config.proxy_tls_addr.empty()) {
    // A TLS client gets a few seconds for its handshake, whatever session_recv_timeout says.
    std::vector<Session*> slow;
    for (Session* s : sessions_)
      if (s->tls_handshaking() && now_ms_ - s->last_active_ms() > kTlsHandshakeMs + kTickMs) slow.push_back(s);
    for (Session* s : slow) s->close("TLS handshake timed out");
  }
  const int64_t idle = ctx_.config.session_recv_timeout.count();
  const int64_t partial = ctx_.config.session_request_timeout.count();
  if (idle > 0 || partial > 0) {
    // Sessions stamp their activity with the worker's clock, which may lag by
    // up to one tick; allow that much so no active session is cut.
    std::vector<Session*> expired, stalled;
    for (Session* s : sessions_) {
      if (idle > 0 && s->idle() && now_ms_ - s->last_active_ms() > idle + kTickMs) {
        expired.push_back(s);
      } else if (partial > 0 && s->partial_since_ms() != 0 && now_ms_ - s->partial_since_ms() > partial + kTickMs) {
        stalled.push_back(s);
      }
    }
    for (Session* s : expired) s->close("idle timeout (session_recv_timeout)");
    if (!stalled.empty()) {  // one line per worker and second at most
      stats_.request_timeouts += stalled.size();
      spdlog::warn("closed {} client connection(s) whose command did not arrive whole within "
                   "session_request_timeout ({} ms), e.g. {}",
                   stalled.size(), partial, stalled.front()->peer());
      for (Session* s : stalled) s->close("a command did not arrive whole within session_request_timeout");
    }
  }
  // Sessions that read nothing since the tick before last (the clock is per tick) free their buffers.
  tick_client_memory(kTickMs + kTickMs / 2);
}

void Worker::adopt_client(int fd, bool tls, const std::string& source) {
  boost::system::error_code ec;
  tcp::socket sock(io_);
  sock.assign(tcp::v4(), fd, ec);
  if (ec) {
    ::close(fd);
    ctx_.clients.fetch_sub(1, std::memory_order_relaxed);
    if (!source.empty()) ctx_.release_source(source);
    return;
  }
  now_ms_ = monotonic_ms();
  auto* s = new Session(*this, std::move(sock), (next_session_id_++ << 8) | static_cast<uint64_t>(index_), tls);
  s->counted_source = source;
  sessions_.insert(s);
  ++stats_.sessions_total;
  ++stats_.sessions_alive;
  s->start();
}

void Worker::retire(Session* s) {
  if (sessions_.erase(s) == 0) return;
  --stats_.sessions_alive;
  ctx_.clients.fetch_sub(1, std::memory_order_relaxed);
  if (!s->counted_source.empty()) ctx_.release_source(s->counted_source);
  freed_since_trim_ += sizeof(Session);
  retired_.push_back(s);
  schedule_flush();
}

void Worker::set_table(std::shared_ptr<const RoutingTable> table) {
  // Commands routed by the old table leave now, before the push is
  // acknowledged: after the ACK nothing goes out by the old routes.
  flush_all();
  table_ = std::move(table);
  db0_cache_.fill(nullptr);
  std::vector<RequestPtr> resume;
  for (auto it = parked_.begin(); it != parked_.end();) {
    if (!table_->route(it->first).locked) {
      for (auto& r : it->second) resume.push_back(std::move(r));
      it = parked_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& r : resume) forward(r, r->encoded, r->hashkey);
  for (Session* s : sessions_)
    if (s->subscribed()) s->resubscribe();
}

void Worker::snapshot(StatsSnapshot& out) const {
  out.totals.add(stats_);
  out.totals.client_memory_bytes += static_cast<uint64_t>(client_bytes_);
  for (const auto& [addr, conns] : backends_)
    for (const auto& c : conns)
      if (c) out.backends.push_back(c->state());
}

BackendConn* Worker::new_dedicated(const std::string& addr, int db) {
  auto conn = std::make_unique<BackendConn>(*this, addr, db);
  conn->set_dedicated();
  BackendConn* raw = conn.get();
  dedicated_.emplace(raw, std::move(conn));
  return raw;
}

void Worker::release_dedicated(BackendConn* conn) {
  auto it = dedicated_.find(conn);
  if (it == dedicated_.end()) return;
  it->second->close();  // the server sees the client go: a blocked command is released there
  graveyard_.push_back(std::move(it->second));
  dedicated_.erase(it);
  schedule_flush();
}

const std::vector<std::pair<int, std::string>>& Worker::groups() {
  if (groups_version_ != table_->version()) {
    groups_.clear();
    for (int i = 0; i < kSlotCount; ++i) {
      const Route& r = table_->route(i);
      if (r.backend.empty()) continue;
      std::pair<int, std::string> g{r.group_id, r.backend};
      if (std::find(groups_.begin(), groups_.end(), g) == groups_.end()) groups_.push_back(std::move(g));
      // A migration source still holds keys of the slot, even if it owns no slot any more.
      std::pair<int, std::string> src{r.migrate_from_group_id, r.migrate_from};
      if (r.migrating() && std::find(groups_.begin(), groups_.end(), src) == groups_.end())
        groups_.push_back(std::move(src));
    }
    std::sort(groups_.begin(), groups_.end());
    groups_version_ = table_->version();
  }
  return groups_;
}

bool ProxyContext::take_source(const std::string& ip) const {
  std::lock_guard lk(sources_mu);
  int& n = sources[ip];
  if (n >= config.proxy_max_clients_per_source) return false;
  ++n;
  return true;
}

void ProxyContext::release_source(const std::string& ip) const {
  std::lock_guard lk(sources_mu);
  auto it = sources.find(ip);
  if (it != sources.end() && --it->second <= 0) sources.erase(it);
}

BackendConn* Worker::backend(std::string_view addr, int db) { return pooled(backends_, addr, db, false); }

BackendConn* Worker::admin_backend(std::string_view addr, int db) { return pooled(admin_backends_, addr, db, true); }

BackendConn* Worker::pooled(Pool& pool, std::string_view addr, int db, bool admin) {
  auto it = pool.find(addr);
  if (it == pool.end()) {
    it = pool.emplace(std::string(addr), std::vector<std::unique_ptr<BackendConn>>()).first;
    it->second.resize(static_cast<size_t>(ctx_.config.backend_number_databases));
  }
  auto& slot = it->second.at(static_cast<size_t>(db));
  if (!slot) {
    slot = std::make_unique<BackendConn>(*this, std::string(addr), db);
    if (admin) slot->set_admin_identity();
  }
  return slot.get();
}

BackendConn* Worker::pick_backend(const Route& r, const Request& req) {
  if (!ctx_.config.backend_primary_only && !r.replica_groups.empty() && req.cmd &&
      (req.cmd->flags & kFlagReadOnly)) {
    uint64_t sid = req.session ? req.session->id() : 0;
    for (const auto& group : r.replica_groups) {
      if (group.empty()) continue;
      BackendConn* c = backend(group[(sid >> 8) % group.size()], req.db);
      if (c->usable()) return c;
    }
  }
  if (req.db == 0) {
    BackendConn*& cached = db0_cache_[req.slot];
    if (!cached) cached = backend(r.backend, 0);
    return cached;
  }
  return backend(r.backend, req.db);
}

namespace {
// "*N\r\n..." -> N and the offset of what follows the header.
bool array_header(std::string_view enc, size_t& n, size_t& body) {
  if (enc.size() < 4 || enc[0] != '*') return false;
  auto crlf = enc.find("\r\n");
  if (crlf == std::string_view::npos) return false;
  auto r = std::from_chars(enc.data() + 1, enc.data() + crlf, n);
  if (r.ec != std::errc() || r.ptr != enc.data() + crlf) return false;
  body = crlf + 2;
  return true;
}
}  // namespace

void Worker::forward(const RequestPtr& req, std::string_view encoded, std::string_view hashkey) {
  const Route& r = table_->route(req->slot);
  if (r.locked) {
    // Held until a push unlocks the slot; nothing goes to either group meanwhile.
    if (encoded.data() != req->encoded.data()) req->encoded.assign(encoded);
    if (hashkey.data() != req->hashkey.data()) req->hashkey.assign(hashkey);
    parked_[req->slot].push_back(req);
    return;
  }
  if (r.backend.empty()) {
    complete_error(req.get(), "ERR slot " + std::to_string(req->slot) +
                                  " is not served by any group (the routing table has no backend for it)");
    return;
  }
  if (!r.migrating()) {
    pick_backend(r, *req)->send(req, ReplyUse::kClient, encoded);
    return;
  }
  // Migrating: ask the source first (docs/design.md §3.3, §7).
  if (encoded.data() != req->encoded.data()) req->encoded.assign(encoded);
  if (hashkey.data() != req->hashkey.data()) req->hashkey.assign(hashkey);
  BackendConn* src = backend(r.migrate_from, req->db);
  std::string cmd;
  if (r.method == ForwardMethod::kSemiAsync) {
    size_t n = 0, body = 0;
    if (!array_header(req->encoded, n, body)) {
      complete_error(req.get(), "ERR internal: cannot wrap request for migration");
      return;
    }
    cmd.reserve(req->encoded.size() + req->hashkey.size() + 64);
    cmd += '*';
    cmd += std::to_string(n + 2);
    cmd += "\r\n$22\r\nSLOTSMGRT-EXEC-WRAPPER\r\n";
    resp::append_bulk(cmd, req->hashkey);
    cmd.append(req->encoded, body, std::string::npos);
    src->send(req, ReplyUse::kWrapper, cmd);
  } else {
    // The target as the module resolves it: an IPv6 host without brackets, as the restricted
    // backend user's SLOTSMGRTTAGONE rule names it (Topom::migration_hosts).
    auto hp = HostPort::parse(r.backend);
    if (!hp) {
      complete_error(req.get(), "ERR slot " + std::to_string(req->slot) + ": " + hp.message());
      return;
    }
    const std::string port = hp->port_text();
    std::string_view a[] = {"SLOTSMGRTTAGONE", hp->host, port, "3000", req->hashkey};
    resp::append_command(cmd, a);
    src->send(req, ReplyUse::kMigrateOne, cmd);
  }
}

void Worker::on_backend_reply(const RequestPtr& req, ReplyUse use, std::string_view reply) {
  switch (use) {
    case ReplyUse::kClient:
      complete(req.get(), reply);
      return;
    case ReplyUse::kInternal:
    case ReplyUse::kDiscard:
      return;  // BackendConn consumes these itself; nobody waits for them
    case ReplyUse::kWrapper:
      handle_wrapper_reply(req, reply);
      return;
    case ReplyUse::kMigrateOne: {
      if (!reply.empty() && reply[0] == '-') {
        complete_error(req.get(), "ERR migrating key of slot " + std::to_string(req->slot) +
                                      " from the source failed: " +
                                      std::string(reply.substr(1, reply.size() - 3)));
        return;
      }
      const Route& r = table_->route(req->slot);
      if (r.locked || r.backend.empty()) {
        forward(req, req->encoded, req->hashkey);
        return;
      }
      backend(r.backend, req->db)->send(req, ReplyUse::kClient, req->encoded);
      return;
    }
  }
}

void Worker::handle_wrapper_reply(const RequestPtr& req, std::string_view reply) {
  const Route& r = table_->route(req->slot);
  // Expected: "*2\r\n:CODE\r\n<reply or message>".
  if (!reply.empty() && reply[0] == '-') {
    complete_error(req.get(), "ERR slot " + std::to_string(req->slot) + " is migrating but its source " +
                                  r.migrate_from + " rejected SLOTSMGRT-EXEC-WRAPPER: " +
                                  std::string(reply.substr(1, reply.size() - 3)));
    return;
  }
  int64_t code = -1;
  size_t rest = 0;
  if (reply.size() > 8 && reply.substr(0, 5) == "*2\r\n:") {
    auto crlf = reply.find("\r\n", 5);
    if (crlf != std::string_view::npos) {
      auto res = std::from_chars(reply.data() + 5, reply.data() + crlf, code);
      if (res.ec != std::errc() || res.ptr != reply.data() + crlf) code = -1;
      rest = crlf + 2;
    }
  }
  switch (code) {
    case 0: {  // not on the source (any more): the target has it
      if (r.locked || r.backend.empty()) {
        forward(req, req->encoded, req->hashkey);
        return;
      }
      backend(r.backend, req->db)->send(req, ReplyUse::kClient, req->encoded);
      return;
    }
    case 1:  // being migrated right now: ask again shortly
      retry_later(req);
      return;
    case 2:  // executed on the source
      complete(req.get(), reply.substr(rest));
      return;
    default:
      complete_error(req.get(), "ERR unexpected SLOTSMGRT-EXEC-WRAPPER reply from " + r.migrate_from);
  }
}

void Worker::retry_later(const RequestPtr& req) {
  constexpr uint16_t kMaxAttempts = 1000;  // with the back-off below: about 30 s
  if (++req->attempts > kMaxAttempts) {
    complete_error(req.get(), "ERR key is still being migrated after 30 s (slot " +
                                  std::to_string(req->slot) + "), try again");
    return;
  }
  int delay_ms = std::min<int>(30, 1 << std::min<int>(req->attempts - 1, 5));
  auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(delay_ms));
  timer->async_wait([this, timer, req](const boost::system::error_code& ec) {
    if (ec) return;
    Request* owner = req->parent ? req->parent : req.get();
    if (!owner->session && !owner->parent) return;  // the client is gone
    now_ms_ = monotonic_ms();
    forward(req, req->encoded, req->hashkey);
  });
}

void Worker::backend_failed(Request* req, std::string_view message) {
  if (ctx_.config.session_break_on_failure) {
    Request* owner = req->parent ? req->parent : req;
    if (owner->session) owner->session->close_after_reply();
  }
  complete_error(req, message);
}

void Worker::complete_error(Request* req, std::string_view message) {
  std::string out;
  resp::append_error(out, message);
  complete(req, out, true);
}

namespace {

// Merges one part's reply into its parent (split MGET/MSET/DEL/...).
bool merge_part(Request* part, std::string_view reply) {
  Request* parent = part->parent;
  SplitState& s = *parent->split;
  if (!reply.empty() && reply[0] == '-') {
    if (s.merge == SplitState::Merge::kCustom)
      s.values[part->positions[0]].assign(reply);
    else if (s.error.empty())
      s.error.assign(reply);
  } else {
    switch (s.merge) {
      case SplitState::Merge::kArray: {
        size_t n = 0, pos = 0;
        auto crlf = reply.find("\r\n");
        bool ok = reply.size() > 3 && reply[0] == '*' && crlf != std::string_view::npos &&
                  std::from_chars(reply.data() + 1, reply.data() + crlf, n).ec == std::errc() &&
                  n == part->positions.size();
        if (ok) {
          pos = crlf + 2;
          resp::ReplyScanner sc;
          for (size_t i = 0; i < n && ok; ++i) {
            sc.reset();
            if (sc.scan(reply.substr(pos)) != resp::ParseStatus::kOk) {
              ok = false;
              break;
            }
            s.values[part->positions[i]].assign(reply.substr(pos, sc.consumed()));
            pos += sc.consumed();
          }
        }
        if (!ok && s.error.empty()) s.error = "-ERR unexpected reply from backend to a split command\r\n";
        break;
      }
      case SplitState::Merge::kCustom:
        s.values[part->positions[0]].assign(reply);
        break;
      case SplitState::Merge::kOk:
        if (reply != "+OK\r\n" && s.error.empty()) s.error = "-ERR unexpected reply from backend to MSET\r\n";
        break;
      case SplitState::Merge::kSum: {
        int64_t v = 0;
        auto crlf = reply.find("\r\n");
        if (reply.size() > 3 && reply[0] == ':' && crlf != std::string_view::npos &&
            std::from_chars(reply.data() + 1, reply.data() + crlf, v).ec == std::errc()) {
          s.sum += v;
        } else if (s.error.empty()) {
          s.error = "-ERR unexpected reply from backend to a split command\r\n";
        }
        break;
      }
    }
  }
  return --s.parts_pending == 0;
}

}  // namespace

void Worker::complete(Request* req, std::string_view reply, bool proxy_error) {
  if (req->done) return;
  req->done = true;
  if (req->parent) {
    Request* parent = req->parent;
    if (proxy_error) parent->counted_fail = true;
    if (!merge_part(req, reply)) return;
    SplitState& s = *parent->split;
    std::string out;
    if (s.merge == SplitState::Merge::kCustom) {
      out = s.finish(s);
    } else if (!s.error.empty()) {
      out = std::move(s.error);
    } else if (s.merge == SplitState::Merge::kArray) {
      size_t total = 16;
      for (const auto& v : s.values) total += v.size();
      out.reserve(total);
      resp::append_array_header(out, s.values.size());
      for (const auto& v : s.values) out += v;
    } else if (s.merge == SplitState::Merge::kOk) {
      out = "+OK\r\n";
    } else {
      resp::append_integer(out, s.sum);
    }
    complete(parent, out, parent->counted_fail);
    return;
  }
  if (req->internal) return;
  if (req->cmd) {
    int64_t now = monotonic_ns();
    uint64_t us = req->start_ns ? static_cast<uint64_t>((now - req->start_ns) / 1000) : 0;
    bool redis_err = !proxy_error && !reply.empty() && reply[0] == '-';
    stats_.record(req->cmd->index, us, proxy_error, redis_err);
    if (slow_us_ > 0 && us >= slow_us_ && !(req->cmd->flags & kFlagBlocking)) {
      ++stats_.slow_requests;
      // At most a few lines per second: a slow backend must not turn into a logging storm.
      if (++slow_logged_ <= kSlowLogPerTick)
        spdlog::warn("slow command: {} took {} us (db {}, slot {}, session {})", req->cmd->name, us, req->db,
                   req->slot, req->session ? req->session->id() : 0);
    }
  } else {
    ++stats_.ops_total;
    ++stats_.ops_fails;
  }
  if (req->session) req->session->on_done(req, reply);
}

void Worker::mark_dirty(Session* s) {
  if (s->flush_scheduled) return;
  s->flush_scheduled = true;
  dirty_sessions_.push_back(s);
  schedule_flush();
}

void Worker::mark_dirty(BackendConn* b) {
  if (b->flush_scheduled) return;
  b->flush_scheduled = true;
  dirty_backends_.push_back(b);
  schedule_flush();
}

void Worker::schedule_flush() {
  if (flush_posted_) return;
  flush_posted_ = true;
  // Runs after every handler already queued in this round: one write per
  // connection for everything those handlers produced.
  asio::post(io_, [this] { flush_all(); });
}

void Worker::flush_all() {
  flush_posted_ = false;
  for (size_t i = 0; i < dirty_backends_.size(); ++i) dirty_backends_[i]->flush();
  dirty_backends_.clear();
  for (size_t i = 0; i < dirty_sessions_.size(); ++i) dirty_sessions_[i]->flush();
  dirty_sessions_.clear();
  if (!retired_.empty()) {
    std::vector<Session*> dead;
    dead.swap(retired_);
    for (Session* s : dead) delete s;
  }
  if (!graveyard_.empty()) {
    std::erase_if(graveyard_, [](const std::unique_ptr<BackendConn>& c) { return c->can_delete(); });
    if (!graveyard_.empty()) schedule_flush();  // handlers still to run: look again next round
  }
}

}  // namespace codis::proxy
