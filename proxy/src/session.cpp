#include "session.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <bit>
#include <charconv>
#include <chrono>
#include <cstring>
#include <utility>

#include "acl.h"
#include "auth_throttle.h"
#include "codis/slot_hash.h"
#include "command_table.h"
#include "text_util.h"
#include "backend_conn.h"
#include "worker.h"

namespace codis::proxy {

namespace asio = boost::asio;

namespace {
constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kKeepOutput = 64 * 1024;  // a bigger output buffer is freed once written

resp::Limits limits_from(const ProxyConfig& c) {
  resp::Limits l;
  l.max_bulk_len = c.proxy_max_bulk_len;
  l.max_array_len = c.proxy_max_array_len;
  l.max_inline_len = c.proxy_max_inline_len;
  return l;
}

}  // namespace

Session::Session(Worker& worker, asio::ip::tcp::socket socket, uint64_t id, bool tls)
    : worker_(worker), socket_(std::move(socket)), tls_wanted_(tls), id_(id) {
  acl_start();
}

Session::~Session() {
  queue_.for_each([](Request* r) { r->session = nullptr; });
}

void Session::start() {
  boost::system::error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);
  if (worker_.config().session_keepalive_period.count() > 0)
    socket_.set_option(asio::socket_base::keep_alive(true), ec);
  auto ep = socket_.remote_endpoint(ec);
  if (!ec) {
    peer_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }
  last_active_ms_ = worker_.now_ms();
  if (tls_wanted_) {
    std::string err;
    if (tls::Context ctx = worker_.context().client_tls()) tls_ = TlsConn::accept(ctx.get(), socket_.native_handle(), err);
    if (!tls_) {
      spdlog::error("session {} ({}): cannot start TLS: {}", id_, peer_, err.empty() ? "no TLS context" : err);
      close("TLS setup failed");
      return;
    }
    tls_handshake();
    return;
  }
  read_now();  // a client may have sent before the socket was registered
}

// Where the next read goes. A session with nothing buffered reads into its
// worker's buffer, and keeps (keep_input) only the part of a request left
// unparsed; its own buffer grows by doubling, but in the middle of a big bulk
// to where that bulk ends, not past, and its size is counted (client memory).
inline IoBuffer& Session::input_buffer() {
  IoBuffer& shared = worker_.input_scratch;
  return in_.empty() && shared.empty() ? shared : in_;
}

char* Session::grow_input() {
  char* p = in_.prepare(kReadChunk, in_.empty() || !parser_ ? 0 : parser_->known_length());
  account();  // may close this session (over proxy_max_client_memory): callers check closed_
  return p;
}

inline char* Session::prepare_input(IoBuffer& buf) {
  if (buf.writable() >= kReadChunk || &buf != &in_) [[likely]]
    return buf.prepare(kReadChunk);
  return grow_input();
}

void Session::keep_input(IoBuffer& shared) {
  if (!closed_) {
    const std::string_view rest = shared.readable();
    std::memcpy(in_.prepare(rest.size()), rest.data(), rest.size());
    in_.commit(rest.size());
    account();
  }
  shared.consume(shared.size());
}

// ---------------------------------------------------------------- TLS

// Waits for the readiness OpenSSL asked for, then runs `then`. The read side
// (handshake, reads) and the write side (flushes) wait independently, each
// under its own flag, so a close waits for both before the session retires.
void Session::tls_wait(bool for_write_side, TlsConn::Io want, void (Session::*then)()) {
  bool& busy = for_write_side ? writing_ : reading_;
  busy = true;
  auto what = want == TlsConn::Io::kWantWrite ? asio::socket_base::wait_write : asio::socket_base::wait_read;
  socket_.async_wait(what, [this, &busy, then](const boost::system::error_code& ec) {
    busy = false;
    if (closed_) {
      maybe_retire();
      return;
    }
    if (ec) {
      close(&busy == &writing_ ? "write error" : "read error");
      return;
    }
    (this->*then)();
  });
}

void Session::tls_handshake() {
  if (closed_) return;
  switch (auto io = tls_->handshake()) {
    case TlsConn::Io::kOk:
      spdlog::debug("session {} ({}): TLS established, {}", id_, peer_, tls_->describe());
      last_active_ms_ = worker_.now_ms();
      tls_read();  // the client's first command may have come with its last handshake message
      return;
    case TlsConn::Io::kWantRead:
    case TlsConn::Io::kWantWrite:
      tls_wait(false, io, &Session::tls_handshake);
      return;
    default:
      ++worker_.stats().protocol_errors;
      spdlog::info("session {} ({}): TLS handshake failed: {}", id_, peer_, tls_->error());
      close("TLS handshake failed");
      return;
  }
}

// As read_now, but a short read says nothing about the socket (see tls_conn.h):
// read until OpenSSL wants the socket.
void Session::tls_read() {
  for (;;) {
    if (closed_ || read_paused_ || close_after_write_) return;
    IoBuffer& buf = input_buffer();
    char* p = prepare_input(buf);
    if (closed_) return;
    size_t n = 0;
    auto io = tls_->read(p, buf.writable(), n);
    if (io == TlsConn::Io::kOk) {
      buf.commit(n);
      last_active_ms_ = worker_.now_ms();
      process_input(buf);
      if (tls_->drained()) break;
      continue;
    }
    if (io == TlsConn::Io::kWantRead) break;
    if (io == TlsConn::Io::kWantWrite) {  // a TLS 1.3 key update's answer waits for room
      tls_wait(false, io, &Session::tls_read);
      return;
    }
    if (io == TlsConn::Io::kClosed) {
      close("closed by client");
    } else {
      spdlog::debug("session {} ({}): TLS read: {}", id_, peer_, tls_->error());
      close("read error");
    }
    return;
  }
  start_read();
}

// Everything queued went out at once (plain or TLS): a big buffer's memory goes back, and a session
// closing after its replies closes.
void Session::all_written() {
  out_.clear();
  if (out_.capacity() > kKeepOutput) {
    std::string().swap(out_);
    account();
  }
  if (close_after_write_ && queue_.empty()) close("closing after reply");
}

// As flush, over OpenSSL. Unsent bytes wait in `out_` itself: a retried
// SSL_write must offer at least the bytes of the attempt that wanted to wait,
// and replies queued meanwhile only lengthen it.
void Session::tls_flush() {
  size_t off = 0;
  const auto io = tls_->write_all(out_, off);
  if (io == TlsConn::Io::kError || io == TlsConn::Io::kClosed) {
    spdlog::debug("session {} ({}): TLS write: {}", id_, peer_, tls_->error());
    close("write error");
    return;
  }
  if (off == out_.size()) {
    all_written();
    return;
  }
  out_.erase(0, off);
  tls_wait(true, io, &Session::flush);
}

void Session::start_read() {
  if (reading_ || closed_ || close_after_write_) return;
  reading_ = true;
  socket_.async_wait(asio::socket_base::wait_read, [this](const boost::system::error_code& ec) {
    reading_ = false;
    if (closed_) {
      maybe_retire();
      return;
    }
    if (ec) {
      close("read error");
      return;
    }
    read_now();
  });
}

// Reads what the socket holds, then waits for more. (Asio's async_read_some
// would attempt a second, speculative read after every batch and get EAGAIN:
// one wasted syscall per batch.) A short read drains the socket; a full one
// may leave more, so it reads again.
void Session::read_now() {
  if (tls_) {
    tls_read();
    return;
  }
  const int fd = socket_.native_handle();
  for (;;) {
    if (closed_ || read_paused_ || close_after_write_ || auth_hold_) return;
    IoBuffer& buf = input_buffer();
    char* p = prepare_input(buf);
    if (closed_) return;
    const size_t cap = buf.writable();
    const ssize_t n = ::recv(fd, p, cap, MSG_DONTWAIT);
    if (n > 0) {
      buf.commit(static_cast<size_t>(n));
      last_active_ms_ = worker_.now_ms();
      process_input(buf);
      if (static_cast<size_t>(n) == cap) continue;
      break;
    }
    if (n == 0) {
      close("closed by client");
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    close("read error");
    return;
  }
  start_read();
}

void Session::process_input(IoBuffer& in) {
  const size_t max_pipeline = worker_.config().session_max_pipeline;
  while (!closed_ && !close_after_write_ && !auth_hold_ && !in.empty()) {
    if (waiting_ >= static_cast<size_t>(max_pipeline)) {
      read_paused_ = true;  // resumes in on_done() once backends catch up
      break;
    }
    if (!parser_) [[unlikely]]
      parser_ = std::make_unique<resp::RequestParser>(limits_from(worker_.config()));
    resp::RequestParser& parser = *parser_;
    std::string_view data = in.readable();
    auto st = parser.parse(data);
    if (st == resp::ParseStatus::kIncomplete) {
      if (partial_since_ms_ == 0) partial_since_ms_ = worker_.now_ms();
      break;
    }
    partial_since_ms_ = 0;
    if (st == resp::ParseStatus::kError) {
      ++worker_.stats().protocol_errors;
      spdlog::info("session {} ({}): {}; closing", id_, peer_, parser.error());
      RequestPtr req = enqueue(nullptr);
      error_now(req, "ERR " + parser.error());
      close_after_write_ = true;  // as Redis does: the stream cannot be resynchronised
      in.consume(in.size());
      worker_.mark_dirty(this);
      break;
    }
    size_t used = parser.consumed();
    auto args = parser.args();
    if (!args.empty()) dispatch(args, data.substr(0, used), parser.is_inline());
    in.consume(used);
  }
  if (&in != &in_) {
    if (!in.empty()) keep_input(in);
  } else if (in_.empty() && in_.capacity()) {  // all parsed: the next read goes to the worker's buffer
    in_.release();
    account();
  }
}

RequestPtr Session::enqueue(const CommandInfo* cmd) {
  RequestPtr req(new_request());
  req->cmd = cmd;
  req->session = this;
  req->db = static_cast<uint8_t>(db_);
  req->start_ns = monotonic_ns();
  queue_.push_back(req);
  ++waiting_;
  return req;
}

void Session::reply_now(const RequestPtr& req, std::string_view resp, bool proxy_error) {
  worker_.complete(req.get(), resp, proxy_error);
}

void Session::error_now(const RequestPtr& req, std::string_view message) {
  worker_.complete_error(req.get(), message);
}

void Session::dispatch(std::span<const std::string_view> args, std::string_view raw, bool is_inline) {
  const CommandInfo* cmd = resolve_command(args);
  RequestPtr req = enqueue(cmd);
  if (!cmd) {
    abort_transaction_on_error();
    error_now(req, unknown_command_error(args));
    return;
  }
  const CommandInfo& top = cmd->is_subcommand() ? all_commands()[cmd->parent] : *cmd;
  if (!authed_ && top.name != "AUTH" && top.name != "HELLO" && top.name != "QUIT") {
    error_now(req, "NOAUTH Authentication required.");
    return;
  }
  if (!arity_ok(*cmd, args.size())) {
    abort_transaction_on_error();
    error_now(req, wrong_arity_error(*cmd));
    return;
  }
  if (!acl_allows(req, *cmd, args)) {
    abort_transaction_on_error();
    return;
  }
  if (pubsub_ && !(top.name == "SUBSCRIBE" || top.name == "PSUBSCRIBE" || top.name == "SSUBSCRIBE" ||
                   top.name == "UNSUBSCRIBE" || top.name == "PUNSUBSCRIBE" || top.name == "SUNSUBSCRIBE" ||
                   top.name == "PING" || top.name == "QUIT" || top.name == "RESET")) {
    error_now(req, "ERR Can't execute '" + lower(cmd->name) +
                       "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context");
    return;
  }
  if (tx_.active && top.name != "EXEC" && top.name != "DISCARD" && top.name != "MULTI" && top.name != "WATCH" &&
      top.name != "QUIT" && top.name != "RESET") {
    queue_in_multi(req, args, raw, is_inline);
    return;
  }
  if (cluster_admin(req, *cmd, args, raw, is_inline)) return;
  switch (cmd->handling) {
    case Handling::kRefused:
      error_now(req, refusal_error(*cmd));
      return;
    case Handling::kLocal:
      handle_local(req, args);
      return;
    case Handling::kCluster:
      handle_cluster(req, args, raw, is_inline);
      return;
    case Handling::kForward:
    case Handling::kSplitMGet:
    case Handling::kSplitMSet:
    case Handling::kSplitSum:
      break;
  }
  if (cmd->handling == Handling::kSplitMSet && args.size() % 2 == 0) {
    error_now(req, wrong_arity_error(*cmd));
    return;
  }
  std::vector<int>& keys = worker_.keys_scratch;
  keys.clear();
  std::string err;
  if (!command_keys(*cmd, args, keys, err)) {
    error_now(req, err);
    return;
  }
  if (keys.empty()) {
    forward_keyless(req, args, raw, is_inline);
    return;
  }
  uint32_t slot = slot_of(args[keys[0]]);
  bool one_slot = true;
  for (size_t i = 1; i < keys.size() && one_slot; ++i) one_slot = slot_of(args[keys[i]]) == slot;
  req->slot = static_cast<uint16_t>(slot);
  if (one_slot && request_blocks(*cmd, args)) {
    if (is_inline) resp::append_command(req->encoded, args);
    forward_blocking(req, is_inline ? std::string_view(req->encoded) : raw, slot);
  } else if (one_slot) {
    forward_single(req, args, raw, is_inline, keys);
  } else if (cmd->handling == Handling::kForward) {
    error_now(req, "CROSSSLOT Keys in request don't hash to the same slot");
  } else {
    split(req, args, keys);
  }
}

void Session::forward_single(const RequestPtr& req, std::span<const std::string_view> args, std::string_view raw,
                             bool is_inline, const std::vector<int>& keys) {
  if (is_inline) {
    resp::append_command(req->encoded, args);
    worker_.forward(req, req->encoded, args[keys[0]]);
  } else {
    worker_.forward(req, raw, args[keys[0]]);
  }
}

void Session::split(const RequestPtr& req, std::span<const std::string_view> args, const std::vector<int>& keys) {
  auto* s = new SplitState();
  req->split = s;
  switch (req->cmd->handling) {
    case Handling::kSplitMGet:
      s->merge = SplitState::Merge::kArray;
      s->values.resize(keys.size());
      break;
    case Handling::kSplitMSet:
      s->merge = SplitState::Merge::kOk;
      break;
    default:
      s->merge = SplitState::Merge::kSum;
      break;
  }
  const bool with_values = req->cmd->handling == Handling::kSplitMSet;
  const RoutingTable& table = worker_.table();
  struct Part {
    std::string_view dest;  // backend address, or empty for a slot that needs its own part
    uint16_t slot;
    std::vector<uint32_t> positions;
  };
  std::vector<Part> parts;
  for (size_t i = 0; i < keys.size(); ++i) {
    uint16_t slot = static_cast<uint16_t>(slot_of(args[keys[i]]));
    const Route& r = table.route(slot);
    // A locked or migrating slot goes alone, so its part can wait or be wrapped by itself.
    // With the sync method each key goes alone: SLOTSMGRTTAGONE moves one key (and its tag).
    bool plain = !r.locked && !r.migrating() && !r.backend.empty();
    bool alone = r.migrating() && r.method == ForwardMethod::kSync;
    std::string_view dest = plain ? std::string_view(r.backend) : std::string_view();
    Part* p = nullptr;
    for (auto& q : parts) {
      if (alone) break;
      if (plain ? q.dest == dest : (q.dest.empty() && q.slot == slot)) {
        p = &q;
        break;
      }
    }
    if (!p) {
      parts.push_back(Part{dest, slot, {}});
      p = &parts.back();
    }
    p->positions.push_back(static_cast<uint32_t>(i));
  }
  s->parts_pending = static_cast<uint32_t>(parts.size());
  std::vector<std::string_view> sub;
  for (auto& p : parts) {
    RequestPtr child(new_request());
    child->parent = req.get();
    ++req->refs;
    child->cmd = req->cmd;
    child->db = req->db;
    child->slot = p.slot;
    child->start_ns = req->start_ns;
    sub.clear();
    sub.push_back(args[0]);
    for (uint32_t pos : p.positions) {
      sub.push_back(args[keys[pos]]);
      if (with_values) sub.push_back(args[keys[pos] + 1]);
    }
    resp::append_command(child->encoded, sub);
    child->positions = std::move(p.positions);
    worker_.forward(child, child->encoded, args[keys[child->positions[0]]]);
  }
}

void Session::on_done(Request* req, std::string_view reply) {
  --waiting_;
  if (closed_) return;
  if (!queue_.empty() && queue_.front() == req) {
    out_.append(reply);
    queue_.pop_front();
    while (!queue_.empty() && queue_.front()->done) {
      out_.append(queue_.front()->reply);
      queue_.pop_front();
    }
    if (deferred_wait_ && !queue_.empty() && queue_.front() == deferred_wait_.get()) {
      RequestPtr w = std::move(deferred_wait_);
      issue_wait(w);
    }
    if (queue_.empty() && pubsub_ && !pubsub_->held.empty()) {
      out_.append(pubsub_->held);
      pubsub_->held.clear();
    }
    worker_.mark_dirty(this);
  } else {
    req->reply.assign(reply);
  }
  if (read_paused_ && waiting_ < static_cast<size_t>(worker_.config().session_max_pipeline)) {
    read_paused_ = false;
    if (partial_since_ms_ != 0) partial_since_ms_ = worker_.now_ms();  // the client could not send meanwhile
    // Not from inside this call chain: it may be running under process_input().
    asio::post(worker_.io(), [this] {
      if (closed_) return;
      process_input();
      read_now();  // readiness that arrived while paused was not waited for
    });
  }
}

void Session::flush() {
  flush_scheduled = false;
  if (out_.capacity() != out_counted_) [[unlikely]]
    account();  // replies grew out_ (also while a write is under way)
  if (closed_ || writing_ || auth_hold_) return;
  if (out_.empty()) {
    if (close_after_write_ && queue_.empty()) close("closing after reply");
    return;
  }
  if (tls_) {
    tls_flush();
    return;
  }
  // Write now if the socket takes it all (the usual case): no handler, no second syscall.
  boost::system::error_code wec;
  size_t n = socket_.write_some(asio::buffer(out_), wec);
  if (wec == asio::error::would_block || wec == asio::error::try_again) {
    n = 0;
  } else if (wec) {
    close("write error");
    return;
  }
  if (n == out_.size()) {
    all_written();
    return;
  }
  writing_ = true;
  sending_.assign(out_, n);
  out_.clear();
  account();
  asio::async_write(socket_, asio::buffer(sending_), [this](const boost::system::error_code& ec, size_t) {
    writing_ = false;
    if (closed_) {
      maybe_retire();
      return;
    }
    if (ec) {
      close("write error");
      return;
    }
    sending_.clear();
    if (sending_.capacity() > kKeepOutput) {
      std::string().swap(sending_);
      account();
    }
    if (!out_.empty() || close_after_write_) flush();
  });
}

void Session::close_after_reply() {
  close_after_write_ = true;
  worker_.mark_dirty(this);  // flush() closes once the queue is empty and written
}

void Session::close(const char* why) {
  if (closed_) return;
  closed_ = true;
  spdlog::debug("session {} ({}) closed: {}", id_, peer_, why);
  worker_.client_memory_changed(std::exchange(counted_, 0), 0);  // freed with the session
  release_pubsub();
  release_dedicated();
  queue_.for_each([](Request* r) { r->session = nullptr; });
  queue_.clear();
  if (hold_timer_) hold_timer_->cancel();
  if (tls_) tls_->shutdown();  // close_notify, if the socket takes it now
  boost::system::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  maybe_retire();
}

void Session::maybe_retire() {
  if (closed_ && !reading_ && !writing_ && !hold_timer_pending_) worker_.retire(this);
}

// ---------------------------------------------------------------- local commands

bool Session::check_auth(std::string_view user, std::string_view pass, const RequestPtr& req) {
  // AUTH <password> is the default user's; users and passwords are the proxy's users (acl.h).
  if (user.empty() && acl_default_nopass()) {
    error_now(req,
              "ERR AUTH <password> called without any password configured for the default user. Are you sure "
              "your configuration is correct?");
    return false;
  }
  auto& throttle = thread_auth_throttle();
  const int64_t now = worker_.now_ms();
  const int64_t release = throttle.admit(peer_ip(), now);
  if (release < 0) {
    // The address's queue is too long: refuse without checking, so guesses learn nothing.
    ++auth_failures_;
    ++worker_.stats().auth_failures;
    log_auth_failure(peer_, auth_failures_, true, now);
    error_now(req, "ERR too many failed AUTH attempts from this address; try again later");
    hold_until(now + AuthThrottle::connection_delay_ms(auth_failures_));
    return false;
  }
  // The proxy's users (acl.h) compare passwords in constant time.
  if (!acl_login(user.empty() ? std::string_view("default") : user, pass)) {
    ++auth_failures_;
    ++worker_.stats().auth_failures;
    throttle.failed(peer_ip(), now);
    log_auth_failure(peer_, auth_failures_, false, now);
    error_now(req, "WRONGPASS invalid username-password pair or user is disabled.");
    hold_until(std::max(release, now + AuthThrottle::connection_delay_ms(auth_failures_)));
    return false;
  }
  authed_ = true;
  if (release > now) hold_until(release);
  return true;
}

void Session::hold_until(int64_t until_ms) {
  const int64_t now = worker_.now_ms();
  if (until_ms <= now || closed_) return;
  auth_hold_ = true;
  if (!hold_timer_) hold_timer_ = std::make_unique<asio::steady_timer>(worker_.io());
  hold_timer_->expires_after(std::chrono::milliseconds(until_ms - now));
  hold_timer_pending_ = true;
  hold_timer_->async_wait([this](const boost::system::error_code&) {
    hold_timer_pending_ = false;
    if (closed_) {
      maybe_retire();
      return;
    }
    auth_hold_ = false;
    if (partial_since_ms_ != 0) partial_since_ms_ = worker_.now_ms();  // the session read nothing meanwhile
    worker_.mark_dirty(this);  // the replies held back
    process_input();           // what arrived meanwhile
    read_now();
  });
}

void Session::handle_local(const RequestPtr& req, std::span<const std::string_view> args) {
  const CommandInfo* cmd = req->cmd;
  std::string_view name = cmd->is_subcommand() ? all_commands()[cmd->parent].name : cmd->name;
  std::string out;
  if (name == "PING" && pubsub_) {
    resp::append_array_header(out, 2);  // what Redis answers in subscribed mode
    resp::append_bulk(out, "pong");
    resp::append_bulk(out, args.size() > 1 ? args[1] : std::string_view());
  } else if (name.find("SUBSCRIBE") != std::string_view::npos) {
    handle_pubsub(req, args);
    return;
  } else if (name == "PING") {
    if (args.size() > 1)
      resp::append_bulk(out, args[1]);
    else
      out = "+PONG\r\n";
  } else if (name == "ECHO") {
    resp::append_bulk(out, args[1]);
  } else if (name == "QUIT") {
    out = "+OK\r\n";
    close_after_write_ = true;
  } else if (name == "AUTH") {
    std::string_view user = args.size() == 3 ? args[1] : std::string_view();
    if (!check_auth(user, args.back(), req)) return;
    out = "+OK\r\n";
  } else if (name == "SELECT") {
    int64_t n = 0;
    if (!parse_int(args[1], n)) {
      error_now(req, "ERR value is not an integer or out of range");
      return;
    }
    if (n < 0 || n >= worker_.config().backend_number_databases) {
      error_now(req, "ERR DB index is out of range");
      return;
    }
    db_ = static_cast<int>(n);
    out = "+OK\r\n";
  } else if (name == "READONLY" || name == "READWRITE") {
    out = "+OK\r\n";
  } else if (name == "TIME") {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    resp::append_array_header(out, 2);
    resp::append_bulk(out, std::to_string(us / 1000000));
    resp::append_bulk(out, std::to_string(us % 1000000));
  } else if (name == "COMMAND") {
    local_command(req, args);
    return;
  } else if (name == "INFO") {
    local_info(req, args);
    return;
  } else if (name == "HELLO") {
    local_hello(req, args);
    return;
  } else if (name == "SLOTSMAPPING") {
    local_slotsmapping(req, args);
    return;
  } else if (name == "MULTI" || name == "EXEC" || name == "DISCARD" || name == "WATCH" || name == "UNWATCH") {
    handle_transaction(req, args, std::string_view(), false);
    return;
  } else if (name == "CONFIG") {
    local_config_get(req, args);
    return;
  } else if (name == "ACL") {
    local_acl(req, args);
    return;
  } else if (name == "RESET") {
    release_pubsub();
    tx_ = Transaction{};
    release_dedicated();
    db_ = 0;
    name_.clear();
    acl_start();
    out = "+RESET\r\n";
  } else if (name == "CLIENT" && cmd->is_subcommand()) {
    std::string_view sub = cmd->name.substr(cmd->name.find('|') + 1);
    if (sub == "SETNAME") {
      name_.assign(args[2]);
      out = "+OK\r\n";
    } else if (sub == "GETNAME") {
      if (name_.empty())
        resp::append_null_bulk(out);
      else
        resp::append_bulk(out, name_);
    } else if (sub == "ID") {
      resp::append_integer(out, static_cast<int64_t>(id_));
    } else if (sub == "INFO") {
      std::string text = "id=" + std::to_string(id_) + " addr=" + peer_ + " name=" + name_ +
                         " db=" + std::to_string(db_) + " sub=0 psub=0 multi=-1 cmd=client|info\n";
      resp::append_bulk(out, text);
    } else {
      error_now(req, refusal_error(*cmd));
      return;
    }
  } else {
    error_now(req, "ERR command '" + lower(cmd->name) + "' is not supported by the proxy yet");
    return;
  }
  reply_now(req, out, false);
}

namespace {
void append_command_entry(std::string& out, const CommandInfo& c) {
  resp::append_array_header(out, 10);
  resp::append_bulk(out, lower(c.name));
  resp::append_integer(out, c.arity);
  int nflags = 0;
  std::string flags;
  auto flag = [&](const char* f) {
    resp::append_simple(flags, f);
    ++nflags;
  };
  if (c.has(kFlagWrite)) flag("write");
  if (c.has(kFlagReadOnly)) flag("readonly");
  if (c.handling == Handling::kLocal) flag("fast");
  resp::append_array_header(out, static_cast<size_t>(nflags));
  out += flags;
  bool range = c.key_spec == KeySpec::kRange;
  resp::append_integer(out, range ? c.first_key : 0);
  resp::append_integer(out, range ? c.last_key : 0);
  resp::append_integer(out, range ? c.key_step : 0);
  // ACL categories as Redis lists them ("+@read"), in Redis's category order.
  const uint32_t cats = acl::command_acl(c).categories;
  resp::append_array_header(out, static_cast<size_t>(std::popcount(cats)));
  for (size_t i = 0; i < acl::kCategoryCount; ++i) {
    if (cats & (1u << i)) resp::append_simple(out, "@" + std::string(acl::kCategoryNames[i]));
  }
  for (int i = 0; i < 3; ++i) resp::append_array_header(out, 0);  // tips, key specs, subcommands
}
bool listed(const CommandInfo& c) { return !c.is_subcommand() && c.handling != Handling::kRefused; }
}  // namespace

void Session::local_command(const RequestPtr& req, std::span<const std::string_view> args) {
  auto cmds = all_commands();
  std::string out;
  std::string_view sub = args.size() > 1 ? args[1] : std::string_view();
  if (sub.empty()) {
    size_t n = 0;
    for (const auto& c : cmds) n += listed(c);
    resp::append_array_header(out, n);
    for (const auto& c : cmds)
      if (listed(c)) append_command_entry(out, c);
  } else if (iequals(sub, "COUNT")) {
    int64_t n = 0;
    for (const auto& c : cmds) n += listed(c);
    resp::append_integer(out, n);
  } else if (iequals(sub, "LIST")) {
    size_t n = 0;
    for (const auto& c : cmds) n += listed(c);
    resp::append_array_header(out, n);
    for (const auto& c : cmds)
      if (listed(c)) resp::append_bulk(out, lower(c.name));
  } else if (iequals(sub, "INFO")) {
    resp::append_array_header(out, args.size() - 2);
    for (size_t i = 2; i < args.size(); ++i) {
      const CommandInfo* c = find_command(args[i]);
      if (c && listed(*c))
        append_command_entry(out, *c);
      else
        resp::append_null_array(out);
    }
  } else if (iequals(sub, "DOCS")) {
    resp::append_array_header(out, 0);  // clients fall back to their built-in help
  } else if (iequals(sub, "GETKEYS")) {
    if (args.size() < 3) {
      error_now(req, "ERR wrong number of arguments for 'command|getkeys' command");
      return;
    }
    auto inner = args.subspan(2);
    const CommandInfo* c = resolve_command(inner);
    if (!c) {
      error_now(req, "ERR Invalid command specified");
      return;
    }
    if (!arity_ok(*c, inner.size())) {
      error_now(req, "ERR Invalid number of arguments specified for command");
      return;
    }
    std::vector<int> keys;
    std::string err;
    if (!command_keys(*c, inner, keys, err)) {
      error_now(req, err);
      return;
    }
    if (keys.empty()) {
      error_now(req, "ERR The command has no key arguments");
      return;
    }
    resp::append_array_header(out, keys.size());
    for (int k : keys) resp::append_bulk(out, inner[static_cast<size_t>(k)]);
  } else {
    error_now(req, "ERR unknown subcommand '" + std::string(sub) + "'. Try COMMAND HELP.");
    return;
  }
  reply_now(req, out, false);
}

void Session::local_hello(const RequestPtr& req, std::span<const std::string_view> args) {
  if (args.size() > 1) {
    int64_t ver = 0;
    if (!parse_int(args[1], ver)) {
      error_now(req, "ERR Protocol version is not an integer or out of range");
      return;
    }
    if (ver != 2) {
      // As a Redis without RESP3 answers: clients fall back to RESP2.
      error_now(req, "NOPROTO sorry, this protocol version is not supported.");
      return;
    }
    for (size_t i = 2; i < args.size(); ++i) {
      if (iequals(args[i], "AUTH") && i + 2 < args.size()) {
        if (!check_auth(args[i + 1], args[i + 2], req)) return;
        i += 2;
      } else if (iequals(args[i], "SETNAME") && i + 1 < args.size()) {
        name_.assign(args[i + 1]);
        i += 1;
      } else {
        error_now(req, "ERR Syntax error in HELLO option '" + std::string(args[i]) + "'");
        return;
      }
    }
  }
  if (!authed_) {
    error_now(req,
              "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> "
              "AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol "
              "version at the same time");
    return;
  }
  std::string out;
  resp::append_array_header(out, 14);
  resp::append_bulk(out, "server");
  resp::append_bulk(out, "redis");
  resp::append_bulk(out, "version");
  resp::append_bulk(out, "7.0.15");
  resp::append_bulk(out, "proto");
  resp::append_integer(out, 2);
  resp::append_bulk(out, "id");
  resp::append_integer(out, static_cast<int64_t>(id_));
  resp::append_bulk(out, "mode");
  resp::append_bulk(out, "standalone");
  resp::append_bulk(out, "role");
  resp::append_bulk(out, "master");
  resp::append_bulk(out, "modules");
  resp::append_array_header(out, 0);
  reply_now(req, out, false);
}

void Session::local_slotsmapping(const RequestPtr& req, std::span<const std::string_view> args) {
  const RoutingTable& t = worker_.table();
  auto entry = [&](std::string& out, const Route& r) {
    resp::append_array_header(out, 4);
    resp::append_simple(out, std::to_string(r.id));
    resp::append_simple(out, r.backend);
    resp::append_simple(out, r.migrate_from);
    resp::append_array_header(out, r.replica_groups.size());
    for (const auto& g : r.replica_groups) {
      resp::append_array_header(out, g.size());
      for (const auto& a : g) resp::append_simple(out, a);
    }
  };
  std::string out;
  if (args.size() == 1) {
    resp::append_array_header(out, kSlotCount);
    for (int i = 0; i < kSlotCount; ++i) entry(out, t.route(i));
  } else {
    int64_t id = 0;
    if (args.size() != 2 || !parse_int(args[1], id) || id < 0 || id >= kSlotCount) {
      error_now(req, "ERR invalid slot number, expected 0 to 1023");
      return;
    }
    entry(out, t.route(static_cast<uint32_t>(id)));
  }
  reply_now(req, out, false);
}

}  // namespace codis::proxy
