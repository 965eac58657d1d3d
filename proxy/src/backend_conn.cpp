#include "backend_conn.h"

#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

#include "codis/backend_identity.h"
#include "codis/host_port.h"
#include "worker.h"

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace codis::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
constexpr int64_t kBackoffMinMs = 50;
constexpr int64_t kBackoffMaxMs = 1000;
constexpr int64_t kConnectTimeoutMs = 3000;
constexpr size_t kReadChunk = 16 * 1024;
// A live connection with an unrestricted identity tries AUTH backend_user again after 1 s, then
// doubling up to a minute: soon after the dashboard provisions, without filling the servers' ACL LOG.
constexpr int64_t kUpgradeMinMs = 1000;
constexpr int64_t kUpgradeMaxMs = 60000;
// Warnings about unrestricted connections: one line per 10 s for the whole process (every worker has its
// own connections to every server, so per-connection lines would repeat N times for one cause).
constexpr int64_t kWarnEveryMs = 10000;
std::atomic<int64_t> g_last_warn_ms{INT64_MIN / 2};
std::atomic<uint64_t> g_warn_suppressed{0};

bool take_warn_slot(int64_t now_ms) {
  int64_t last = g_last_warn_ms.load(std::memory_order_relaxed);
  while (now_ms - last >= kWarnEveryMs) {
    if (g_last_warn_ms.compare_exchange_weak(last, now_ms, std::memory_order_relaxed)) return true;
  }
  g_warn_suppressed.fetch_add(1, std::memory_order_relaxed);
  return false;
}

// The probe: a read-only command the restricted user may not run (CONFIG is denied by name and by
// @admin). Its answer tells the identity without side effects; the proxy never forwards CONFIG itself.
constexpr std::string_view kProbe = "*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$9\r\nmaxmemory\r\n";

std::string error_text(std::string_view reply) {
  if (reply.size() < 3 || reply[0] != '-') return std::string(reply.substr(0, 64));
  return std::string(reply.substr(1, reply.size() - 3));
}

}  // namespace

BackendConn::BackendConn(Worker& worker, std::string addr, int db)
    : worker_(worker), addr_(std::move(addr)), db_(db), socket_(worker.io()) {
  // Addresses come from the dashboard, which checked them; a bad one fails each connect with the reason.
  if (auto hp = HostPort::parse(addr_)) {
    host_ = hp->host_or("127.0.0.1");
    port_ = hp->port_text();
  } else {
    bad_addr_ = hp.message();
  }
}

BackendConn::~BackendConn() = default;

void BackendConn::mark_dirty() { worker_.mark_dirty(this); }

void BackendConn::send(const RequestPtr& req, ReplyUse use, std::string_view encoded) {
  if (state_ == State::kBackoff) {
    if (worker_.now_ms() < backoff_until_ms_ && worker_.refresh_clock() < backoff_until_ms_) {
      worker_.backend_failed(req.get(), "ERR backend " + addr_ + " is unavailable: " + last_error_);
      return;
    }
    state_ = State::kIdle;
  }
  if (pending_.size() >= static_cast<size_t>(worker_.config().backend_max_pipeline)) {
    worker_.complete_error(req.get(), "ERR backend " + addr_ + " has too many pending requests");
    return;
  }
  if (state_ == State::kIdle) connect();
  out_.append(encoded);
  pending_.push_back(Pending{req, use, worker_.now_ms()});
  if (state_ == State::kReady) mark_dirty();
}

bool BackendConn::send_push(std::string_view encoded) {
  if (state_ == State::kBackoff) {
    if (worker_.now_ms() < backoff_until_ms_ && worker_.refresh_clock() < backoff_until_ms_) return false;
    state_ = State::kIdle;
  }
  if (state_ == State::kIdle) connect();
  out_.append(encoded);
  if (state_ == State::kReady) mark_dirty();
  return true;
}

void BackendConn::send_untracked(std::string_view encoded) {
  if (state_ == State::kBackoff) {
    // Still backing off: drop it; the tracked request that follows gets the error.
    if (worker_.now_ms() < backoff_until_ms_ && worker_.refresh_clock() < backoff_until_ms_) return;
    state_ = State::kIdle;
  }
  if (state_ == State::kIdle) connect();
  out_.append(encoded);
  pending_.push_back(Pending{RequestPtr(), ReplyUse::kDiscard, worker_.now_ms()});
  if (state_ == State::kReady) mark_dirty();
}

void BackendConn::queue_internal(std::string_view encoded, Step step) {
  out_.append(encoded);
  pending_.push_back(Pending{RequestPtr(), ReplyUse::kInternal, worker_.now_ms(), step});
}

size_t BackendConn::append_user_auth(std::string& out) const {
  const auto& cfg = worker_.config();
  if (cfg.backend_user.empty()) return 0;
  const std::string pw = backend_identity::password(cfg.backend_password, cfg.product_auth);
  std::string_view a[] = {"AUTH", cfg.backend_user, pw};
  resp::append_command(out, a);
  out.append(kProbe);
  return 2;
}

void BackendConn::connect() {
  state_ = State::kConnecting;
  connect_started_ms_ = worker_.now_ms();
  uint64_t gen = ++generation_;
  // Authentication and database selection go first, ahead of anything queued.
  // The default user first: if AUTH backend_user then fails, Redis keeps that identity (see the header).
  std::string prelude;
  std::vector<Step> steps;
  const auto& cfg = worker_.config();
  if (!cfg.product_auth.empty()) {
    std::string_view a[] = {"AUTH", cfg.product_auth};
    resp::append_command(prelude, a);
    steps.push_back(Step::kAuthDefault);
  }
  if (!admin_ && append_user_auth(prelude) != 0) {
    steps.push_back(Step::kAuthUser);
    steps.push_back(Step::kProbe);
  }
  if (db_ != 0) {
    std::string n = std::to_string(db_);
    std::string_view a[] = {"SELECT", n};
    resp::append_command(prelude, a);
    steps.push_back(Step::kOther);
  }
  out_.insert(0, prelude);
  for (auto it = steps.rbegin(); it != steps.rend(); ++it)
    pending_.push_front(Pending{RequestPtr(), ReplyUse::kInternal, worker_.now_ms(), *it});
  restricted_ = false;
  warned_ = false;
  upgrade_every_ms_ = 0;  // a new connection (a restarted server?) retries from 1 s again
  default_auth_error_.clear();
  user_auth_error_ = cfg.backend_user.empty() ? "backend_user is empty in proxy.toml" : "";

  if (!bad_addr_.empty()) {
    fail(bad_addr_);
    return;
  }
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(host_, ec);
  if (ec) {
    // Host names are resolved synchronously: they are rare (addresses come from the
    // dashboard) and the result is used for the life of the connection.
    tcp::resolver resolver(worker_.io());
    auto results = resolver.resolve(host_, port_, ec);
    if (ec || results.empty()) {
      fail("cannot resolve " + host_ + ": " + ec.message());
      return;
    }
    ip = results.begin()->endpoint().address();
  }
  uint16_t port = static_cast<uint16_t>(std::strtoul(port_.c_str(), nullptr, 10));
  tls_.reset();
  socket_ = tcp::socket(worker_.io());
  ++pending_ops_;
  socket_.async_connect(tcp::endpoint(ip, port), [this, gen](const boost::system::error_code& ec) {
    --pending_ops_;
    if (gen != generation_) return;
    if (ec) {
      fail("connect: " + ec.message());
      return;
    }
    boost::system::error_code oec;
    socket_.set_option(tcp::no_delay(true), oec);
    socket_.set_option(asio::socket_base::keep_alive(true), oec);
    socket_.non_blocking(true, oec);
    if (worker_.config().backend_tls) {
      tls::Context ctx = worker_.context().backend_tls();
      std::string err;
      if (ctx) tls_ = TlsConn::connect(ctx.get(), socket_.native_handle(), host_, worker_.config().backend_tls_server_name, err);
      if (!tls_) {
        fail("TLS: " + (err.empty() ? std::string("no TLS context") : err));
        return;
      }
      tls_handshake(gen);
      return;
    }
    on_connected();
  });
}

void BackendConn::tls_wait(bool for_write_side, TlsConn::Io want, void (BackendConn::*then)()) {
  bool& busy = for_write_side ? writing_ : reading_;
  busy = true;
  const uint64_t gen = generation_;
  ++pending_ops_;
  auto what = want == TlsConn::Io::kWantWrite ? asio::socket_base::wait_write : asio::socket_base::wait_read;
  socket_.async_wait(what, [this, gen, &busy, then](const boost::system::error_code& ec) {
    --pending_ops_;
    if (gen != generation_) return;
    busy = false;
    if (ec) {
      fail(std::string(&busy == &writing_ ? "write: " : "read: ") + ec.message());
      return;
    }
    (this->*then)();
  });
}

void BackendConn::tls_handshake(uint64_t gen) {
  if (gen != generation_) return;
  switch (auto io = tls_->handshake()) {
    case TlsConn::Io::kOk:
      if (reconnects_ == 0) spdlog::info("backend {} db {}: TLS established, {}", addr_, db_, tls_->describe());
      on_connected();
      return;
    case TlsConn::Io::kWantRead:
    case TlsConn::Io::kWantWrite: {
      // Not through tls_wait: the read side is not started yet, and the step needs `gen`.
      ++pending_ops_;
      auto what = io == TlsConn::Io::kWantWrite ? asio::socket_base::wait_write : asio::socket_base::wait_read;
      socket_.async_wait(what, [this, gen](const boost::system::error_code& ec) {
        --pending_ops_;
        if (gen != generation_) return;
        if (ec) {
          fail("TLS handshake: " + ec.message());
          return;
        }
        tls_handshake(gen);
      });
      return;
    }
    default:
      fail("TLS handshake: " + tls_->error());
      return;
  }
}

void BackendConn::on_connected() {
  state_ = State::kReady;
  ++reconnects_;
  backoff_ms_ = 0;
  last_io_ms_ = worker_.now_ms();
  in_.consume(in_.size());
  scanner_.reset();
  if (reconnects_ > 1) spdlog::info("backend {} db {}: connected again", addr_, db_);
  if (!admin_ && worker_.config().backend_user.empty()) report_identity();  // by configuration: never restricted
  start_read();
  mark_dirty();
}

void BackendConn::flush() {
  flush_scheduled = false;
  if (state_ != State::kReady || writing_ || out_.empty()) return;
  if (tls_) {
    tls_flush();
    return;
  }
  boost::system::error_code wec;
  size_t n = socket_.write_some(asio::buffer(out_), wec);
  if (wec == asio::error::would_block || wec == asio::error::try_again) {
    n = 0;
  } else if (wec) {
    fail("write: " + wec.message());
    return;
  }
  if (n == out_.size()) {
    out_.clear();
    if (out_.capacity() > 1024 * 1024) std::string().swap(out_);
    return;
  }
  writing_ = true;
  sending_.assign(out_, n);
  out_.clear();
  uint64_t gen = generation_;
  ++pending_ops_;
  asio::async_write(socket_, asio::buffer(sending_),
                    [this, gen](const boost::system::error_code& ec, size_t) {
                      --pending_ops_;
                      if (gen != generation_) return;
                      writing_ = false;
                      if (ec) {
                        fail("write: " + ec.message());
                        return;
                      }
                      sending_.clear();
                      if (sending_.capacity() > 1024 * 1024) std::string().swap(sending_);
                      if (!out_.empty()) flush();
                    });
}

void BackendConn::start_read() {
  if (reading_) return;
  reading_ = true;
  uint64_t gen = generation_;
  ++pending_ops_;
  socket_.async_wait(asio::socket_base::wait_read, [this, gen](const boost::system::error_code& ec) {
    --pending_ops_;
    if (gen != generation_) return;
    reading_ = false;
    if (ec) {
      fail("read: " + ec.message());
      return;
    }
    read_now();
  });
}

// As Session::read_now: read what is there without a speculative extra read.
void BackendConn::read_now() {
  if (tls_) {
    tls_read();
    return;
  }
  const uint64_t gen = generation_;
  const int fd = socket_.native_handle();
  for (;;) {
    char* p = in_.prepare(kReadChunk);
    const size_t cap = in_.writable();
    const ssize_t n = ::recv(fd, p, cap, MSG_DONTWAIT);
    if (n > 0) {
      on_read(static_cast<size_t>(n));
      if (gen != generation_ || state_ != State::kReady) return;  // failed or closed meanwhile
      if (static_cast<size_t>(n) == cap) continue;
      break;
    }
    if (n == 0) {
      fail("connection closed by server");
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    fail(std::string("read: ") + std::strerror(errno));
    return;
  }
  start_read();
}

// As Session::tls_read: read until OpenSSL wants the socket.
void BackendConn::tls_read() {
  const uint64_t gen = generation_;
  for (;;) {
    char* p = in_.prepare(kReadChunk);
    size_t n = 0;
    auto io = tls_->read(p, in_.writable(), n);
    if (io == TlsConn::Io::kOk) {
      on_read(n);
      if (gen != generation_ || state_ != State::kReady) return;  // failed or closed meanwhile
      if (tls_->drained()) break;
      continue;
    }
    if (io == TlsConn::Io::kWantRead) break;
    if (io == TlsConn::Io::kWantWrite) {
      tls_wait(false, io, &BackendConn::tls_read);
      return;
    }
    fail(io == TlsConn::Io::kClosed ? "connection closed by server" : "TLS read: " + tls_->error());
    return;
  }
  start_read();
}

// As Session::tls_flush: unsent bytes stay at the front of out_.
void BackendConn::tls_flush() {
  size_t off = 0;
  const auto io = tls_->write_all(out_, off);
  if (io == TlsConn::Io::kError || io == TlsConn::Io::kClosed) {
    fail("TLS write: " + tls_->error());
    return;
  }
  if (off == out_.size()) {
    out_.clear();
    if (out_.capacity() > 1024 * 1024) std::string().swap(out_);
    return;
  }
  out_.erase(0, off);
  tls_wait(true, io, &BackendConn::flush);
}

void BackendConn::on_read(size_t n) {
  in_.commit(n);
  last_io_ms_ = worker_.now_ms();
  while (!in_.empty()) {
    std::string_view data = in_.readable();
    auto st = scanner_.scan(data);
    if (st == resp::ParseStatus::kIncomplete) break;
    if (st == resp::ParseStatus::kError) {
      fail("bad reply from server: " + scanner_.error());
      return;
    }
    size_t len = scanner_.consumed();
    if (push_ && (pending_.empty() || pending_.front().use != ReplyUse::kInternal)) {
      std::string_view reply = data.substr(0, len);
      push_(reply);
      if (state_ != State::kReady) return;  // the handler closed us
      in_.consume(len);
      scanner_.reset();
      continue;
    }
    if (pending_.empty()) {
      fail("unexpected reply from server");
      return;
    }
    Pending p = std::move(pending_.front());
    pending_.pop_front();
    std::string_view reply = data.substr(0, len);
    if (p.use == ReplyUse::kDiscard) {
      // nothing waits for it
    } else if (p.use == ReplyUse::kInternal && p.step != Step::kOther) {
      if (!on_identity_reply(p.step, reply)) return;
    } else if (p.use == ReplyUse::kInternal) {
      if (!reply.empty() && reply[0] == '-') {
        std::string msg(reply.substr(1, reply.size() - 3));
        spdlog::error("backend {} db {}: connection setup failed: {}", addr_, db_, msg);
        in_.consume(len);
        fail("setup failed: " + msg);
        return;
      }
    } else {
      worker_.on_backend_reply(p.req, p.use, reply);
    }
    in_.consume(len);
    scanner_.reset();
    if (state_ != State::kReady) return;  // the reply handler may have failed us
  }
  if (in_.empty()) in_.shrink_to(64 * 1024);
}

bool BackendConn::on_identity_reply(Step step, std::string_view reply) {
  const bool error = !reply.empty() && reply[0] == '-';
  switch (step) {
    case Step::kAuthDefault:
      // Fatal only if AUTH backend_user does not work either (a server whose default user is disabled is fine).
      if (error) default_auth_error_ = error_text(reply);
      if (error && (admin_ || worker_.config().backend_user.empty())) break;
      return true;
    case Step::kAuthUser:
      if (!error) {
        default_auth_error_.clear();
        user_auth_error_.clear();
        return true;
      }
      user_auth_error_ = "AUTH " + worker_.config().backend_user + " failed: " + error_text(reply);
      if (!default_auth_error_.empty()) break;
      return true;
    case Step::kProbe: {
      // NOPERM: this identity may not run CONFIG, it is the restricted one. Anything else (the value, or an
      // error other than NOPERM) means the connection can do what the proxy refuses.
      const bool was = restricted_;
      restricted_ = reply.starts_with("-NOPERM");
      if (restricted_) {
        if (!was && upgrade_every_ms_ > 0)
          spdlog::info("backend {} db {}: now runs client commands as the restricted user {}", addr_, db_,
                       worker_.config().backend_user);
        upgrade_every_ms_ = 0;
      } else {
        if (user_auth_error_.empty()) {
          user_auth_error_ = "user " + worker_.config().backend_user +
                             " authenticated but may run CONFIG: it is not the restricted user the dashboard "
                             "provisions";
        }
        upgrade_every_ms_ = upgrade_every_ms_ == 0 ? kUpgradeMinMs : std::min(upgrade_every_ms_ * 2, kUpgradeMaxMs);
        upgrade_at_ms_ = worker_.now_ms() + upgrade_every_ms_;
        report_identity();
      }
      return true;
    }
    case Step::kOther:
      return true;
  }
  std::string msg = "authentication failed: " + default_auth_error_ +
                    (user_auth_error_.empty() || admin_ || worker_.config().backend_user.empty() ? "" : "; " + user_auth_error_);
  spdlog::error("backend {} db {}: connection setup failed: {}", addr_, db_, msg);
  fail("setup failed: " + msg);
  return false;
}

void BackendConn::report_identity() {
  if (warned_) return;
  warned_ = true;
  if (!take_warn_slot(worker_.now_ms())) return;
  const uint64_t more = g_warn_suppressed.exchange(0, std::memory_order_relaxed);
  const auto& user = worker_.config().backend_user;
  spdlog::warn("backend {}: client commands run as an unrestricted Redis identity ({}): EVAL/FCALL through the "
               "proxy can run FLUSHALL, CONFIG, MIGRATE, SLOTSDEL ... there. {}{}",
               addr_, user_auth_error_,
               user.empty() ? std::string("Set backend_user in proxy.toml.")
                            : "The dashboard creates user " + user +
                                  " on every server of its groups (within a second of adding or restarting one); "
                                  "check that backend_user/backend_password match in proxy.toml and "
                                  "dashboard.toml. The proxy retries by itself.",
               more ? " (" + std::to_string(more) + " similar warnings suppressed)" : std::string());
}

void BackendConn::fail(const std::string& why) {
  worker_.refresh_clock();
  bool was_ready = state_ == State::kReady;
  ++generation_;
  tls_.reset();
  boost::system::error_code ec;
  socket_.close(ec);
  reading_ = writing_ = false;
  state_ = State::kBackoff;
  ++errors_;
  last_error_ = why;
  backoff_ms_ = backoff_ms_ == 0 ? kBackoffMinMs : std::min(backoff_ms_ * 2, kBackoffMaxMs);
  backoff_until_ms_ = worker_.now_ms() + backoff_ms_;
  if (was_ready || errors_ == 1 || backoff_ms_ == kBackoffMaxMs)
    spdlog::warn("backend {} db {}: {} (retrying in {} ms, {} requests failed)", addr_, db_, why, backoff_ms_,
                 pending_.size());
  // Requests already sent may or may not have run; the client learns it from the error.
  std::deque<Pending> failed;
  failed.swap(pending_);
  out_.clear();
  sending_.clear();
  in_.consume(in_.size());
  scanner_.reset();
  std::string msg = "ERR backend " + addr_ + " failed: " + why;
  for (auto& p : failed)
    if (p.req) worker_.backend_failed(p.req.get(), msg);
  if (push_fail_) push_fail_();  // last: it may close this connection
}

void BackendConn::tick(int64_t now_ms) {
  const auto& cfg = worker_.config();
  switch (state_) {
    case State::kBackoff:
      // Shared connections keep trying, so health shows in metrics; a session's own waits for its next use.
      if (!dedicated_ && now_ms >= backoff_until_ms_) connect();
      break;
    case State::kConnecting:
      if (now_ms - connect_started_ms_ > kConnectTimeoutMs) fail("connect: timed out");
      break;
    case State::kReady: {
      // An unrestricted identity: try the restricted user again (a failed AUTH keeps the identity). A
      // session's own connection too: a transaction is queued whole (MULTI ... EXEC in one round), so the
      // AUTH lands before or after it, and behind a blocked command it simply waits. Not in pub/sub mode,
      // where Redis allows no AUTH.
      if (!restricted_ && upgrade_every_ms_ > 0 && !push_ && now_ms >= upgrade_at_ms_) {
        std::string cmd;
        if (append_user_auth(cmd) != 0) {
          out_.append(cmd);
          pending_.push_back(Pending{RequestPtr(), ReplyUse::kInternal, now_ms, Step::kAuthUser});
          pending_.push_back(Pending{RequestPtr(), ReplyUse::kInternal, now_ms, Step::kProbe});
          upgrade_at_ms_ = INT64_MAX;  // the probe's answer sets the next time
          user_auth_error_.clear();
          mark_dirty();
        }
      }
      if (dedicated_) break;
      auto recv_timeout = cfg.backend_recv_timeout.count();
      if (!pending_.empty() && recv_timeout > 0 && now_ms - pending_.front().sent_ms > recv_timeout) {
        fail("no reply within backend_recv_timeout");
        break;
      }
      auto ping = cfg.backend_ping_period.count();
      if (ping > 0 && pending_.empty() && now_ms - last_io_ms_ >= ping) {
        static constexpr std::string_view kPing = "*1\r\n$4\r\nPING\r\n";
        queue_internal(kPing);
        last_io_ms_ = now_ms;
        mark_dirty();
      }
      break;
    }
    case State::kIdle:
      break;
  }
}

void BackendConn::close(const char* why) {
  ++generation_;
  if (tls_) tls_->shutdown();
  tls_.reset();
  boost::system::error_code ec;
  socket_.close(ec);
  state_ = State::kIdle;
  std::deque<Pending> failed;
  failed.swap(pending_);
  for (auto& p : failed)
    if (p.req) worker_.complete_error(p.req.get(), std::string("ERR ") + why);
}

BackendState BackendConn::state() const {
  BackendState s;
  s.addr = addr_;
  s.db = db_;
  s.connected = state_ == State::kReady;
  for (const auto& p : pending_)
    if (p.req) ++s.pending;
  s.reconnects = reconnects_;
  s.errors = errors_;
  s.unrestricted = state_ == State::kReady && !restricted_ ? 1 : 0;
  return s;
}

}  // namespace codis::proxy
