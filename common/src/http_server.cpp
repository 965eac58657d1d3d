// The HTTP/1.1 server behind codis/http_server.h: an accept loop and one
// coroutine per connection (TLS handshake, read a request, answer it, repeat
// while keep-alive) on the caller's io_context, each connection with a
// watchdog timer for the deadline of its current phase, and the router in
// front of the handlers.
#include "codis/http_server.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include "codis/host_port.h"
#include "openssl_text.h"
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <charconv>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <list>
#include <optional>

// GCC 12 misreads Asio's recycling allocator for coroutine frames
// (aligned_alloc paired with its own operator delete) as a mismatch.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace codis::http {

using detail::openssl_error;
using detail::unreadable;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

Reply text(unsigned status, std::string body, std::string_view content_type) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = content_type;
  return r;
}

std::string_view Request::param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

std::string_view Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (beast::iequals(k, name)) return v;
  }
  return {};
}

// ---------------------------------------------------------------------------
// Router

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The decoded path of a request target (origin- or absolute-form), as Go's
// URL.Path, which Codis's router matches; nullopt when malformed.
std::optional<std::string> request_path(std::string_view target) {
  if (target.starts_with("http://") || target.starts_with("https://")) {
    target.remove_prefix(target.find("//") + 2);
    const auto slash = target.find('/');
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  target = target.substr(0, target.find_first_of("?#"));
  if (!target.starts_with('/')) return std::nullopt;
  std::string path;
  path.reserve(target.size());
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] != '%') {
      path += target[i];
      continue;
    }
    if (i + 2 >= target.size()) return std::nullopt;
    const int hi = hex_value(target[i + 1]);
    const int lo = hex_value(target[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    path += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return path;
}

// "/a/b/" -> {"a", "b"} (one trailing slash tolerated, as Codis's router);
// "/" -> {}. Empty inner segments are kept so that they match nothing.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segs;
  if (path.starts_with('/')) path.remove_prefix(1);
  if (path.ends_with('/')) path.remove_suffix(1);
  if (path.empty()) return segs;
  for (;;) {
    const auto slash = path.find('/');
    segs.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segs;
}

bool match(const std::vector<std::string>& pattern, const std::vector<std::string_view>& segs,
           std::vector<std::pair<std::string, std::string>>& params) {
  if (pattern.size() != segs.size()) return false;
  params.clear();
  for (std::size_t i = 0; i < segs.size(); ++i) {
    if (pattern[i].starts_with(':')) {
      if (segs[i].empty()) return false;
      params.emplace_back(pattern[i].substr(1), segs[i]);
    } else if (pattern[i] != segs[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

void Router::add(std::string method, std::string_view pattern, Handler handler) {
  std::vector<std::string> segments;
  for (auto s : split_path(pattern)) segments.emplace_back(s);
  const auto first_fallback = std::find_if(routes_.begin(), routes_.end(), [](const Route& r) { return r.fallback; });
  routes_.insert(first_fallback,
                 Route{std::move(method), std::string(pattern), std::move(segments), std::move(handler), false});
}

void Router::add_fallback(std::string method, std::string_view pattern, Handler handler) {
  std::vector<std::string> segments;
  for (auto s : split_path(pattern)) segments.emplace_back(s);
  routes_.push_back(Route{std::move(method), std::string(pattern), std::move(segments), std::move(handler), true});
}

Reply Router::dispatch(std::string_view method, std::string_view target, std::string body, std::string remote,
                       Headers headers, bool secure) const {
  auto path = request_path(target);
  if (!path) return text(400, "400 bad request: malformed request target\n");
  const auto segs = split_path(*path);

  std::vector<std::string_view> allowed;  // methods of routes (not fallbacks) with this path, for 405
  std::vector<std::pair<std::string, std::string>> params;
  for (const Route& route : routes_) {
    if (!match(route.segments, segs, params)) continue;
    if (route.method != method && !(options_.head_as_get && method == "HEAD" && route.method == "GET")) {
      if (!route.fallback && std::find(allowed.begin(), allowed.end(), route.method) == allowed.end()) {
        allowed.push_back(route.method);
      }
      continue;
    }
    const Request request{std::string(method), std::move(*path), std::move(body), std::move(remote),
                          std::move(params),       std::move(headers), secure, ""};
    try {
      return route.handler(request);
    } catch (const std::exception& e) {
      spdlog::error("http: {} {}: handler failed: {}", method, route.pattern, e.what());
      Reply r = text(500, "500 internal server error\n");
      r.error = e.what();
      return r;
    } catch (...) {
      spdlog::error("http: {} {}: handler failed with an unknown exception", method, route.pattern);
      return text(500, "500 internal server error\n");
    }
  }
  if (!allowed.empty()) {
    std::string allow;
    for (auto m : allowed) allow.append(allow.empty() ? "" : ", ").append(m);
    Reply r = text(405, "405 method not allowed\n");
    r.headers.emplace_back("Allow", std::move(allow));
    return r;
  }
  return text(404, "404 page not found\n");
}
// ---------------------------------------------------------------------------
// Server

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

std::string endpoint_string(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  return addr.is_v6() ? "[" + addr.to_string() + "]:" + std::to_string(ep.port())
                      : addr.to_string() + ":" + std::to_string(ep.port());
}

bhttp::response<bhttp::string_body> to_response(Reply reply) {
  if (reply.status < 100 || reply.status > 999) {
    spdlog::error("http: a handler answered status {}: sending 500", reply.status);
    reply = text(500, "500 internal server error\n");
  }
  bhttp::response<bhttp::string_body> res;
  res.version(11);
  res.result(reply.status);
  if (res.result() == bhttp::status::unknown) res.reason("status code " + std::to_string(reply.status));  // as Go
  if (!reply.content_type.empty()) res.set(bhttp::field::content_type, reply.content_type);
  if (!reply.location.empty()) res.set(bhttp::field::location, reply.location);
  for (const auto& [name, value] : reply.headers) res.insert(name, value);
  res.body() = std::move(reply.body);
  return res;
}


// The server's TLS context from PEM files; start-up errors name the file.
Result<std::unique_ptr<ssl::context>> load_server_tls(const std::string& cert_file, const std::string& key_file) {
  using R = Result<std::unique_ptr<ssl::context>>;
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  SSL_CTX* c = ctx->native_handle();
  ERR_clear_error();
  if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1) return R::Error("cannot require TLS 1.2");
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  // A key with a passphrase fails to load instead of prompting on a terminal.
  SSL_CTX_set_default_passwd_cb(c, [](char*, int, int, void*) { return 0; });
  if (auto why = unreadable(cert_file); !why.empty()) {
    return R::Error("cannot read the certificate file \"" + cert_file + "\" (admin_tls_cert_file): " + why);
  }
  if (auto why = unreadable(key_file); !why.empty()) {
    return R::Error("cannot read the private key file \"" + key_file + "\" (admin_tls_key_file): " + why);
  }
  if (SSL_CTX_use_certificate_chain_file(c, cert_file.c_str()) != 1) {
    return R::Error("cannot load the certificate file \"" + cert_file +
                    "\" (admin_tls_cert_file, PEM): " + openssl_error("no certificate in it"));
  }
  if (SSL_CTX_use_PrivateKey_file(c, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL checks the key against the certificate as it loads it.
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return R::Error("the private key in \"" + key_file + "\" (admin_tls_key_file) does not belong to the "
                      "certificate in \"" + cert_file + "\" (admin_tls_cert_file)");
    }
    return R::Error("cannot load the private key file \"" + key_file +
                    "\" (admin_tls_key_file, PEM, without a passphrase): " + openssl_error("no key in it"));
  }
  if (SSL_CTX_check_private_key(c) != 1) {
    return R::Error("the private key in \"" + key_file + "\" does not belong to the certificate in \"" + cert_file +
                    "\": " + openssl_error("key mismatch"));
  }
  return ctx;
}

// Raises the soft limit on open files towards the hard limit when `want`
// descriptors would not fit (a default soft limit of 1024 is common).
void ensure_fd_limit(std::size_t want, const std::string& name) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want) return;
  const rlim_t before = rl.rlim_cur;
  rl.rlim_cur = rl.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &rl) == 0) {
    spdlog::info("{}: raised the open files limit from {} to {}", name, before, rl.rlim_cur);
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
    spdlog::warn("{}: the open files limit ({}) is below what {} connections need; at the limit the oldest "
                 "waiting connections are closed to make room (raise it with ulimit -n / LimitNOFILE=)",
                 name, rl.rlim_cur, want);
  }
}

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Impl> {
  // One accepted connection. `waiting`: it has no request in a handler and
  // no reply on the way (it is idle, in its TLS handshake, or its request is
  // still arriving), so stop() and a newcomer at the connection cap may close
  // it without cutting off anything.
  struct Conn : std::enable_shared_from_this<Conn> {
    Conn(tcp::socket s, std::string remote_) : socket(std::move(s)), watchdog(socket.get_executor()),
                                               remote(std::move(remote_)) {}
    tcp::socket socket;  // a TLS stream works on top of it, by reference
    asio::steady_timer watchdog;  // closes the socket when the current phase overruns
    std::string remote;
    bool waiting = true;
    bool closed = false;       // closed by the server: timeout, eviction, stop
    uint64_t generation = 0;   // of the watchdog's current deadline
    std::list<Conn*>::iterator pos;  // in Impl::conns while counted
    bool counted = false;
  };

  Impl(asio::io_context& io_, Router router_, Options options_)
      : io(io_), router(std::move(router_)), options(std::move(options_)), acceptor(io_) {
    if (options.handler_threads > 0) pool.emplace(static_cast<std::size_t>(options.handler_threads));
  }

  asio::io_context& io;
  const Router router;
  const Options options;
  std::optional<asio::thread_pool> pool;
  std::unique_ptr<ssl::context> tls;  // set by listen() for HTTPS
  tcp::acceptor acceptor;
  std::atomic<uint16_t> port{0};
  std::atomic<bool> stop_requested{false};
  // Touched only on the io thread.
  bool stopping = false;
  std::list<Conn*> conns;  // open connections, oldest first
  std::size_t evicted = 0;  // since the last log line about it
  std::chrono::steady_clock::time_point evicted_logged{};

  asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self);
  asio::awaitable<void> serve(std::shared_ptr<Impl> self, std::shared_ptr<Conn> conn);
  template <class Stream>
  asio::awaitable<void> serve_requests(Conn& conn, Stream& stream);
  asio::awaitable<void> refuse(Conn& conn, auto& stream, const beast::error_code& ec);
  void arm(Conn& conn, std::chrono::milliseconds timeout);
  void disarm(Conn& conn);
  void close(Conn& conn);
  bool evict_oldest_waiting();
  void do_stop();
};

// The watchdog: one deadline per phase (waiting for a request, receiving it,
// writing the reply). At the deadline the socket is closed, which ends the
// pending operation whatever it is, a TLS handshake included.
void Server::Impl::arm(Conn& conn, std::chrono::milliseconds timeout) {
  const uint64_t generation = ++conn.generation;
  conn.watchdog.expires_after(timeout);
  // A handler already queued when the deadline moved sees a newer generation
  // and does nothing. While the connection lives, so does its coroutine,
  // which holds the Impl.
  conn.watchdog.async_wait([this, weak = conn.weak_from_this(), generation](const boost::system::error_code& ec) {
    auto c = weak.lock();
    if (ec || !c || c->generation != generation) return;
    close(*c);
  });
}

void Server::Impl::disarm(Conn& conn) {
  ++conn.generation;
  conn.watchdog.cancel();
}

void Server::Impl::close(Conn& conn) {
  if (conn.closed) return;
  conn.closed = true;
  if (conn.counted) {
    conns.erase(conn.pos);
    conn.counted = false;
  }
  boost::system::error_code ignored;
  conn.socket.close(ignored);
}

// At the connection cap: closes the oldest connection that waits (idle, in
// its handshake, or receiving its request). A flood of idle or slow clients
// then loses its oldest members, never a request being served.
bool Server::Impl::evict_oldest_waiting() {
  for (Conn* c : conns) {
    if (!c->waiting) continue;
    spdlog::debug("{}: closing the connection of {} to make room", options.name, c->remote);
    close(*c);
    ++evicted;
    const auto now = std::chrono::steady_clock::now();
    if (now - evicted_logged >= std::chrono::seconds(10)) {
      spdlog::warn("{}: at the connection limit ({}): closed the {} oldest idle or slow connection(s) to make "
                   "room for new ones (a flood of connections?)",
                   options.name, options.limits.max_connections, evicted);
      evicted = 0;
      evicted_logged = now;
    }
    return true;
  }
  return false;
}

asio::awaitable<void> Server::Impl::accept_loop(std::shared_ptr<Impl> self) {
  const auto& name = options.name;
  while (!stopping) {
    auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
    if (stopping || ec == asio::error::operation_aborted) break;
    if (ec) {
      // Out of descriptors: make room as at the cap; else back off instead of spinning.
      if ((ec == asio::error::no_descriptors || ec.value() == ENFILE) && evict_oldest_waiting()) continue;
      spdlog::warn("{}: accept failed: {}", name, ec.message());
      asio::steady_timer pause(io, std::chrono::milliseconds(100));
      co_await pause.async_wait(kUseTuple);
      continue;
    }
    if (conns.size() >= options.limits.max_connections && !evict_oldest_waiting()) {
      // Every connection has a request in a handler or a reply on the way.
      boost::system::error_code ignored;
      if (!tls) {
        // A tiny write to a fresh socket does not block.
        const std::string body = "503 too many " + name + " connections, retry.\n";
        const std::string busy =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
            "Content-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body;
        socket.write_some(asio::buffer(busy), ignored);
        socket.shutdown(tcp::socket::shutdown_both, ignored);
      }
      socket.close(ignored);
      spdlog::warn("{}: refused a connection: {} connections are busy", name, conns.size());
      continue;
    }
    boost::system::error_code rec;
    const auto peer = socket.remote_endpoint(rec);
    auto conn = std::make_shared<Conn>(std::move(socket), rec ? std::string("unknown") : endpoint_string(peer));
    conn->pos = conns.insert(conns.end(), conn.get());
    conn->counted = true;
    asio::co_spawn(io, serve(self, std::move(conn)), asio::detached);
  }
}

// A request that could not be read: answer what the client can act on (400,
// 413, 431); just close on EOF, reset, timeout or when the server closed it.
asio::awaitable<void> Server::Impl::refuse(Conn& conn, auto& stream, const beast::error_code& ec) {
  if (conn.closed) co_return;  // timed out, evicted or stopped: nothing to tell
  const auto& http_category = bhttp::make_error_code(bhttp::error::end_of_stream).category();
  unsigned status = 0;
  std::string_view body;
  if (ec == bhttp::error::body_limit) {
    status = 413, body = "413 request body too large\n";
  } else if (ec == bhttp::error::header_limit) {
    status = 431, body = "431 request header fields too large\n";
  } else if (ec.category() == http_category && ec != bhttp::error::end_of_stream &&
             ec != bhttp::error::partial_message) {
    status = 400, body = "400 bad request\n";
  }
  if (status == 0) co_return;
  spdlog::debug("{}: bad request from {}: {}", options.name, conn.remote, ec.message());
  auto res = to_response(text(status, std::string(body)));
  res.keep_alive(false);
  res.prepare_payload();
  conn.waiting = false;
  arm(conn, options.limits.write_timeout);
  auto [wec, wn] = co_await bhttp::async_write(stream, res, kUseTuple);
  if (wec) co_return;
  // Closing with unread input would reset the connection and could destroy
  // our reply in flight: half-close, then drain a little (under TLS the raw
  // bytes: nothing more is read from this client).
  conn.waiting = true;
  boost::system::error_code ignored;
  conn.socket.shutdown(tcp::socket::shutdown_send, ignored);
  arm(conn, std::min<std::chrono::milliseconds>(options.limits.request_timeout, std::chrono::seconds(1)));
  std::size_t drained = 0;
  static char sink[4096];
  while (drained < 256 * 1024) {
    auto [dec, dn] = co_await conn.socket.async_read_some(asio::buffer(sink), kUseTuple);
    if (dec) break;
    drained += dn;
  }
}

template <class Stream>
asio::awaitable<void> Server::Impl::serve_requests(Conn& conn, Stream& stream) {
  const Limits& limits = options.limits;
  const bool secure = tls != nullptr;
  beast::flat_buffer buffer;
  while (!stopping && !conn.closed) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(limits.max_header_bytes, UINT32_MAX)));
    parser.body_limit(limits.max_body_bytes);

    // Idle until the request's first byte (unless a pipelined one is here
    // already), then request_timeout for all of it to arrive.
    conn.waiting = true;
    if (buffer.size() == 0) {
      arm(conn, limits.idle_timeout);
      auto [iec, in] = co_await stream.async_read_some(buffer.prepare(4096), kUseTuple);
      if (iec) break;  // closed by the client, or by us (idle timeout, eviction, stop)
      buffer.commit(in);
    }
    arm(conn, limits.request_timeout);
    auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, kUseTuple);
    if (!ec && !parser.is_done()) {
      const auto expect = parser.get()[bhttp::field::expect];
      if (beast::iequals(expect, "100-continue")) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        std::tie(ec, n) = co_await asio::async_write(stream, asio::buffer(kContinue), kUseTuple);
      }
      if (!ec) std::tie(ec, n) = co_await bhttp::async_read(stream, buffer, parser, kUseTuple);
    }
    if (ec) {
      co_await refuse(conn, stream, ec);
      break;
    }
    // No deadline while the handler runs (handlers that wait on peers have
    // their own), and no eviction: this client is being served.
    conn.waiting = false;
    disarm(conn);

    auto& req = parser.get();
    std::string who = conn.remote;
    for (auto field : {"X-Real-IP", "X-Forwarded-For"}) {
      const auto it = req.find(field);
      if (it != req.end() && !it->value().empty()) {
        who += " [" + std::string(it->value()) + "]";
        break;
      }
    }
    const std::string method(req.method_string());
    const std::string target(req.target());
    std::string body = std::move(req.body());
    Headers headers;
    for (const auto& field : req) headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    Reply reply;
    if (pool) {
      // Off the io thread: such handlers block on peers.
      reply = co_await asio::co_spawn(
          pool->get_executor(),
          [&]() -> asio::awaitable<Reply> {
            co_return router.dispatch(method, target, std::move(body), who, std::move(headers), secure);
          },
          asio::use_awaitable);
    } else {
      reply = router.dispatch(method, target, std::move(body), std::move(who), std::move(headers), secure);
    }
    if (conn.closed) break;

    auto res = to_response(std::move(reply));
    const bool keep_alive = req.keep_alive() && !stopping;
    res.keep_alive(keep_alive);
    res.prepare_payload();
    if (req.method() == bhttp::verb::head) res.body().clear();  // keeps the Content-Length
    arm(conn, limits.write_timeout);
    auto [wec, wn] = co_await bhttp::async_write(stream, res, kUseTuple);
    if (wec || !keep_alive) break;
  }
}

asio::awaitable<void> Server::Impl::serve(std::shared_ptr<Impl> self, std::shared_ptr<Conn> conn) {
  struct Unregister {
    Impl* impl;
    Conn* conn;
    ~Unregister() {
      impl->disarm(*conn);
      impl->close(*conn);
    }
  } unregister{this, conn.get()};

  if (tls) {
    ssl::stream<tcp::socket&> stream(conn->socket, *tls);
    // A handshake is a client still "sending its request": the same deadline.
    arm(*conn, options.limits.request_timeout);
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, kUseTuple);
    if (hec) {
      if (!conn->closed) spdlog::debug("{}: TLS handshake with {} failed: {}", options.name, conn->remote, hec.message());
      co_return;
    }
    co_await serve_requests(*conn, stream);
  } else {
    co_await serve_requests(*conn, conn->socket);
  }
  if (!conn->closed) {
    // Our reply is out: half-close so the client reads it to the end.
    boost::system::error_code ignored;
    conn->socket.shutdown(tcp::socket::shutdown_send, ignored);
  }
}

void Server::Impl::do_stop() {
  if (stopping) return;
  stopping = true;
  boost::system::error_code ignored;
  acceptor.close(ignored);
  std::vector<Conn*> idle;
  for (Conn* c : conns) {
    if (c->waiting) idle.push_back(c);  // the others close after their reply
  }
  for (Conn* c : idle) close(*c);
}

Status check_server_tls(const std::string& cert_file, const std::string& key_file) {
  auto ctx = load_server_tls(cert_file, key_file);
  return ctx ? Status::Ok() : Status::Error("HTTPS: " + ctx.message());
}

Server::Server(asio::io_context& io, Router router, Options options)
    : impl_(std::make_shared<Impl>(io, std::move(router), std::move(options))) {}

Server::~Server() {
  stop();
  if (impl_->pool) impl_->pool->join();
}

uint16_t Server::port() const { return impl_->port.load(); }

bool Server::secure() const { return impl_->tls != nullptr; }

void Server::stop() {
  if (impl_->stop_requested.exchange(true)) return;
  // Always posted, so that a handler calling stop() still gets its reply out.
  asio::post(impl_->io, [impl = impl_] { impl->do_stop(); });
}

Status Server::listen(const std::string& addr) {
  auto fail = [&](const std::string& why) {
    return Status::Error(impl_->options.name + " server: cannot listen on \"" + addr + "\": " + why);
  };
  if (impl_->acceptor.is_open()) return fail("already listening");
  if (impl_->stop_requested) return fail("server is stopped");

  auto hp = HostPort::parse(addr);
  if (!hp) return fail(hp.message());
  const std::string host = hp->host;
  const unsigned port = hp->port;

  const auto& o = impl_->options;
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    return Status::Error(o.name + " server: HTTPS needs both a certificate file and a key file");
  }
  if (!o.tls_cert_file.empty()) {
    auto ctx = load_server_tls(o.tls_cert_file, o.tls_key_file);
    if (!ctx) return Status::Error(o.name + " server: HTTPS: " + ctx.message());
    impl_->tls = std::move(*ctx);
  }

  boost::system::error_code ec;
  tcp::endpoint endpoint;
  if (host.empty()) {
    endpoint = tcp::endpoint(tcp::v4(), static_cast<uint16_t>(port));
  } else if (auto ip = asio::ip::make_address(host, ec); !ec) {
    endpoint = tcp::endpoint(ip, static_cast<uint16_t>(port));
  } else {
    tcp::resolver resolver(impl_->io);
    auto results = resolver.resolve(host, hp->port_text(), ec);
    if (ec || results.empty()) return fail("cannot resolve host \"" + host + "\": " + ec.message());
    endpoint = results.begin()->endpoint();
  }

  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    return fail(ec.message() + " (is another process using the port?)");
  }
  ensure_fd_limit(o.limits.max_connections + 256, o.name);
  const auto local = acceptor.local_endpoint(ec);
  impl_->port = local.port();
  spdlog::info("{}: listening on {} ({})", o.name, endpoint_string(local), impl_->tls ? "HTTPS" : "HTTP");
  asio::co_spawn(impl_->io, impl_->accept_loop(impl_), asio::detached);
  return Status::Ok();
}

}  // namespace codis::http
