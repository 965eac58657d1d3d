// The admin HTTP server: an accept loop and one coroutine per connection
// (read a request, answer it, repeat while keep-alive), in front of a routing
// table that speaks Codis 3.2's proxy API conventions (pkg/utils/rpc/api.go):
//   success: 200, Content-Type application/json; charset=utf-8, the value as
//            Go's json.MarshalIndent(v, "", "    ") would print it;
//   failure: status 800 (Codis's client treats 800 and 1500 as "remote
//            error"), body {"Cause": "...", "Stack": null} in the same format.
#include "admin_server.h"

#include "codis/codis_rpc.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
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
#include <cstdint>
#include <exception>
#include <optional>
#include <unordered_set>
#include <utility>
#include <vector>

#include "admin_api.h"

// GCC 12 misreads Asio's recycling allocator for coroutine frames
// (aligned_alloc paired with its own operator delete) as a mismatch.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace codis::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kJsonType = "application/json; charset=utf-8";
constexpr std::string_view kTextType = "text/plain; charset=utf-8";
constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";
constexpr unsigned kCodisErrorStatus = rpc::kErrorStatus;

struct Reply {
  Reply() = default;
  Reply(unsigned s, std::string b, std::string_view type = kJsonType, std::string loc = {})
      : status(s), body(std::move(b)), content_type(type), location(std::move(loc)) {}

  unsigned status = 200;
  std::string body;
  std::string_view content_type = kJsonType;
  std::string location;  // for redirects
  std::string allow;     // for 405
  std::string error;     // the Cause of a Codis error, for the log
};

using rpc::go_json;
using rpc::request_path;
using rpc::same_secret;
using rpc::split_path;

Reply codis_ok(const json& v) { return {200, go_json(v)}; }
Reply codis_ok() { return codis_ok(json("OK")); }

// Codis's RemoteError. Our errors carry no Go stack, as errors.New ones
// did not either, so "Stack" is null exactly like Codis's own replies.
Reply codis_error(std::string_view cause) {
  Reply r(kCodisErrorStatus, rpc::error_body(cause));
  r.error = cause;
  return r;
}

Reply codis_reply(const Status& st) { return st.ok() ? codis_ok() : codis_error(st.message()); }

Reply plain(unsigned status, std::string body) { return {status, std::move(body), kTextType}; }

// Go quotes the offending text in strconv errors.
std::string go_quote(std::string_view s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  q += '"';
  return q;
}

// Codis's StatsFlags: strconv.Atoi then a uint32 bit mask; bit 0 (StatsCmds)
// asks for per-command stats. The other bits (slots, Go runtime) have no
// meaning for the stats reply of our proxy.
Result<uint32_t> parse_stats_flags(std::string_view s) {
  std::string_view digits = s;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  int64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || (digits.front() == '-' && digits.size() == 1) || end != digits.data() + digits.size() ||
      (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    return Result<uint32_t>::Error("strconv.Atoi: parsing " + go_quote(s) + ": invalid syntax");
  }
  if (ec == std::errc::result_out_of_range) {
    return Result<uint32_t>::Error("strconv.Atoi: parsing " + go_quote(s) + ": value out of range");
  }
  return static_cast<uint32_t>(n);
}

// What a handler gets: path parameters and the raw body.
struct Call {
  std::vector<std::pair<std::string_view, std::string_view>> params;
  const std::string& body;

  std::string_view param(std::string_view name) const {
    for (const auto& [k, v] : params) {
      if (k == name) return v;
    }
    return {};
  }
};

// The PUT bodies are JSON; Codis decodes an empty body to the zero value
// (no slots / no sentinels), so we do too. Invalid JSON is refused without
// calling the proxy (Codis's binding would have passed a half-decoded value).
Result<json> parse_body(const std::string& body, json::value_t expected, std::string_view what) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return json(expected);
  json v = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (v.is_discarded()) {
    return Result<json>::Error("invalid json body: cannot parse " + std::string(what) + " (not valid JSON)");
  }
  if (v.is_null()) return json(expected);
  if (v.type() != expected) {
    return Result<json>::Error("invalid json body: " + std::string(what) + " must be a JSON " +
                               (expected == json::value_t::array ? "array" : "object") + ", got " +
                               v.type_name());
  }
  return v;
}

using Handler = Reply (*)(AdminApi&, const Call&);

struct Route {
  http::verb verb;
  std::string_view pattern;  // ":name" segments are parameters
  bool needs_xauth;
  Handler handler;
};

// Codis 3.2 pkg/proxy/proxy_api.go, plus GET /metrics.
const Route kRoutes[] = {
    {http::verb::get, "/", false,
     [](AdminApi&, const Call&) { return Reply{302, "", kTextType, "/proxy"}; }},
    {http::verb::get, "/proxy", false, [](AdminApi& api, const Call&) { return codis_ok(api.overview()); }},
    {http::verb::get, "/proxy/model", false, [](AdminApi& api, const Call&) { return codis_ok(api.model()); }},
    {http::verb::get, "/proxy/stats", false, [](AdminApi& api, const Call&) { return codis_ok(api.stats(true)); }},
    {http::verb::get, "/proxy/slots", false, [](AdminApi& api, const Call&) { return codis_ok(api.slots()); }},
    {http::verb::get, "/metrics", false,
     [](AdminApi& api, const Call&) { return Reply{200, api.metrics(), kMetricsType}; }},

    {http::verb::get, "/api/proxy/model", false, [](AdminApi& api, const Call&) { return codis_ok(api.model()); }},
    {http::verb::get, "/api/proxy/xping/:xauth", true, [](AdminApi&, const Call&) { return codis_ok(); }},
    {http::verb::get, "/api/proxy/stats/:xauth", true,
     [](AdminApi& api, const Call&) { return codis_ok(api.stats(false)); }},
    {http::verb::get, "/api/proxy/stats/:xauth/:flags", true,
     [](AdminApi& api, const Call& c) {
       auto flags = parse_stats_flags(c.param("flags"));
       if (!flags) return codis_error(flags.message());
       return codis_ok(api.stats((*flags & 1u) != 0));
     }},
    {http::verb::get, "/api/proxy/slots/:xauth", true, [](AdminApi& api, const Call&) { return codis_ok(api.slots()); }},
    {http::verb::put, "/api/proxy/start/:xauth", true, [](AdminApi& api, const Call&) { return codis_reply(api.start()); }},
    {http::verb::put, "/api/proxy/stats/reset/:xauth", true,
     [](AdminApi& api, const Call&) {
       api.reset_stats();
       return codis_ok();
     }},
    // Codis runs Go's garbage collector here; we have none.
    {http::verb::put, "/api/proxy/forcegc/:xauth", true, [](AdminApi&, const Call&) { return codis_ok(); }},
    {http::verb::put, "/api/proxy/shutdown/:xauth", true,
     [](AdminApi& api, const Call&) { return codis_reply(api.shutdown()); }},
    {http::verb::put, "/api/proxy/loglevel/:xauth/:value", true,
     [](AdminApi& api, const Call& c) { return codis_reply(api.set_log_level(c.param("value"))); }},
    {http::verb::put, "/api/proxy/fillslots/:xauth", true,
     [](AdminApi& api, const Call& c) {
       auto slots = parse_body(c.body, json::value_t::array, "fillslots body (an array of slots)");
       if (!slots) return codis_error(slots.message());
       return codis_reply(api.fill_slots(*slots));
     }},
    {http::verb::put, "/api/proxy/sentinels/:xauth", true,
     [](AdminApi& api, const Call& c) {
       auto sentinel = parse_body(c.body, json::value_t::object, "sentinels body (a Sentinel object)");
       if (!sentinel) return codis_error(sentinel.message());
       return codis_reply(api.set_sentinels(*sentinel));
     }},
    {http::verb::put, "/api/proxy/sentinels/:xauth/rewatch", true,
     [](AdminApi& api, const Call&) { return codis_reply(api.rewatch_sentinels()); }},
};


// Routes one request; never throws. `who` names the caller for the log.
Reply dispatch(AdminApi& api, http::verb verb, std::string_view target, const std::string& body,
               const std::string& who) {
  const auto path = request_path(target);
  if (!path) return plain(400, "400 bad request: malformed request target\n");
  const auto segs = split_path(*path);

  std::string allowed;  // methods of routes whose path matched, for 405
  for (const Route& route : kRoutes) {
    const auto pattern = split_path(route.pattern);
    if (pattern.size() != segs.size()) continue;
    Call call{{}, body};
    bool match = true;
    for (std::size_t i = 0; i < segs.size() && match; ++i) {
      if (pattern[i].starts_with(':')) {
        match = !segs[i].empty();
        call.params.emplace_back(pattern[i].substr(1), segs[i]);
      } else {
        match = pattern[i] == segs[i];
      }
    }
    if (!match) continue;
    if (route.verb != verb) {
      const auto name = http::to_string(route.verb);
      if (allowed.find(name) == std::string::npos) {
        if (!allowed.empty()) allowed += ", ";
        allowed.append(name.data(), name.size());
      }
      continue;
    }

    const bool mutating = verb != http::verb::get;
    // Log the route without the secret, like "PUT /api/proxy/start/<xauth>".
    std::string shown = std::string(route.pattern);
    for (const auto& [k, v] : call.params) {
      if (k != "xauth") {
        const auto at = shown.find(":" + std::string(k));
        shown.replace(at, k.size() + 1, v);
      }
    }
    Reply reply;
    try {
      if (route.needs_xauth && api.closed()) {
        reply = codis_error("use of closed proxy");
      } else if (route.needs_xauth && !same_secret(call.param("xauth"), api.xauth())) {
        spdlog::warn("admin: {} {} from {}: invalid xauth", http::to_string(verb), shown, who);
        return codis_error("invalid xauth, please check product name & auth");
      } else {
        reply = route.handler(api, call);
      }
    } catch (const std::exception& e) {
      reply = codis_error(std::string("internal error: ") + e.what());
    } catch (...) {
      reply = codis_error("internal error: unknown exception");
    }
    if (mutating) {
      spdlog::info("admin: API call {} {} from {}: {}", http::to_string(verb), shown, who,
                   reply.status == 200 ? std::string("OK") : "failed: " + reply.error);
    } else if (reply.status != 200) {
      spdlog::debug("admin: {} {} from {}: failed: {}", http::to_string(verb), shown, who, reply.error);
    }
    return reply;
  }
  if (!allowed.empty()) {
    Reply r = plain(405, "405 method not allowed\n");
    r.allow = std::move(allowed);
    return r;
  }
  return plain(404, "404 page not found\n");
}

std::string endpoint_string(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  return addr.is_v6() ? "[" + addr.to_string() + "]:" + std::to_string(ep.port())
                      : addr.to_string() + ":" + std::to_string(ep.port());
}

}  // namespace

struct AdminServer::Impl : std::enable_shared_from_this<Impl> {
  // One accepted connection. `reading` says it waits for (more of) a request,
  // so stop() may close it without cutting off a reply.
  struct Conn {
    beast::tcp_stream stream;
    std::string remote;
    bool reading = false;
  };

  Impl(asio::io_context& io_, AdminApi& api_, Limits limits_)
      : io(io_), api(api_), limits(limits_), acceptor(io_) {}

  asio::io_context& io;
  AdminApi& api;
  const Limits limits;
  tcp::acceptor acceptor;
  std::atomic<uint16_t> port{0};
  std::atomic<bool> stop_requested{false};
  // Touched only on the io thread.
  bool stopping = false;
  std::unordered_set<Conn*> conns;

  asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self);
  asio::awaitable<void> serve(std::shared_ptr<Impl> self, std::shared_ptr<Conn> conn);
  http::response<http::string_body> respond(const http::request<http::string_body>& req, const Conn& conn);
  void do_stop();
};

asio::awaitable<void> AdminServer::Impl::accept_loop(std::shared_ptr<Impl> self) {
  while (!stopping) {
    auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
    if (stopping || ec == asio::error::operation_aborted) break;
    if (ec) {
      // Out of descriptors and the like: back off instead of spinning.
      spdlog::warn("admin: accept failed: {}", ec.message());
      asio::steady_timer pause(io, std::chrono::milliseconds(100));
      co_await pause.async_wait(kUseTuple);
      continue;
    }
    if (conns.size() >= limits.max_connections) {
      // A tiny write to a fresh socket does not block.
      static constexpr std::string_view kBusy =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
          "Connection: close\r\nContent-Length: 40\r\n\r\n503 too many admin connections, retry.\n";
      boost::system::error_code ignored;
      socket.write_some(asio::buffer(kBusy), ignored);
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      socket.close(ignored);
      spdlog::warn("admin: refused a connection: {} admin connections open already", conns.size());
      continue;
    }
    boost::system::error_code rec;
    const auto peer = socket.remote_endpoint(rec);
    auto conn = std::make_shared<Conn>(Conn{beast::tcp_stream(std::move(socket)),
                                            rec ? std::string("unknown") : endpoint_string(peer)});
    asio::co_spawn(io, serve(self, std::move(conn)), asio::detached);
  }
}

http::response<http::string_body> AdminServer::Impl::respond(const http::request<http::string_body>& req,
                                                              const Conn& conn) {
  std::string who = conn.remote;
  for (auto field : {"X-Real-IP", "X-Forwarded-For"}) {
    const auto it = req.find(field);
    if (it != req.end() && !it->value().empty()) {
      who += " [" + std::string(it->value()) + "]";
      break;
    }
  }
  Reply reply = dispatch(api, req.method(), req.target(), req.body(), who);

  http::response<http::string_body> res;
  res.version(11);
  res.result(reply.status);
  if (reply.status == kCodisErrorStatus) res.reason("status code 800");  // what Go's server sends
  res.set(http::field::content_type, reply.content_type);
  if (reply.status == 302) res.set(http::field::location, reply.location);
  if (reply.status == 405) res.set(http::field::allow, reply.allow);
  res.body() = std::move(reply.body);
  return res;
}

asio::awaitable<void> AdminServer::Impl::serve(std::shared_ptr<Impl> self, std::shared_ptr<Conn> conn) {
  conns.insert(conn.get());
  struct Unregister {
    Impl* impl;
    Conn* conn;
    ~Unregister() { impl->conns.erase(conn); }
  } unregister{this, conn.get()};

  auto& stream = conn->stream;
  beast::flat_buffer buffer;
  const auto& http_category = http::make_error_code(http::error::end_of_stream).category();
  while (!stopping) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(limits.max_header_bytes, UINT32_MAX)));
    parser.body_limit(limits.max_body_bytes);

    stream.expires_after(limits.io_timeout);  // one budget for the whole request
    conn->reading = true;
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kUseTuple);
    if (!ec && !parser.is_done()) {
      const auto expect = parser.get()[http::field::expect];
      if (beast::iequals(expect, "100-continue")) {
        conn->reading = false;
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        std::tie(ec, n) = co_await asio::async_write(stream, asio::buffer(kContinue), kUseTuple);
        conn->reading = true;
      }
      if (!ec) std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, kUseTuple);
    }
    conn->reading = false;

    if (ec) {
      // Answer what the client can act on; just close on EOF, reset, timeout.
      unsigned status = 0;
      std::string_view text;
      if (ec == http::error::body_limit) {
        status = 413, text = "413 request body too large\n";
      } else if (ec == http::error::header_limit) {
        status = 431, text = "431 request header fields too large\n";
      } else if (ec.category() == http_category && ec != http::error::end_of_stream &&
                 ec != http::error::partial_message) {
        status = 400, text = "400 bad request\n";
      }
      if (status != 0) {
        spdlog::debug("admin: bad request from {}: {}", conn->remote, ec.message());
        http::response<http::string_body> res{static_cast<http::status>(status), 11};
        res.set(http::field::content_type, kTextType);
        res.keep_alive(false);
        res.body() = text;
        res.prepare_payload();
        stream.expires_after(limits.io_timeout);
        co_await http::async_write(stream, res, kUseTuple);
        // Closing with unread input would reset the connection and could
        // destroy our reply in flight: half-close, then drain a little.
        boost::system::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
        stream.expires_after(std::min<std::chrono::milliseconds>(limits.io_timeout, std::chrono::seconds(1)));
        std::size_t drained = 0;
        static char sink[4096];
        while (drained < 256 * 1024) {
          auto [dec, dn] = co_await stream.async_read_some(asio::buffer(sink), kUseTuple);
          if (dec) break;
          drained += dn;
        }
      }
      break;
    }

    const auto& req = parser.get();
    auto res = respond(req, *conn);
    const bool keep_alive = req.keep_alive() && !stopping;
    res.keep_alive(keep_alive);
    res.prepare_payload();
    if (req.method() == http::verb::head) res.body().clear();  // keeps the Content-Length
    stream.expires_after(limits.io_timeout);
    auto [wec, wn] = co_await http::async_write(stream, res, kUseTuple);
    if (wec || !keep_alive) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.socket().close(ignored);
}

void AdminServer::Impl::do_stop() {
  if (stopping) return;
  stopping = true;
  boost::system::error_code ignored;
  acceptor.close(ignored);
  for (Conn* c : conns) {
    if (c->reading) c->stream.socket().close(ignored);  // the others close after their reply
  }
}

AdminServer::AdminServer(asio::io_context& io, AdminApi& api) : AdminServer(io, api, Limits{}) {}

AdminServer::AdminServer(asio::io_context& io, AdminApi& api, Limits limits)
    : impl_(std::make_shared<Impl>(io, api, limits)) {}

AdminServer::~AdminServer() { stop(); }

uint16_t AdminServer::port() const { return impl_->port.load(); }

void AdminServer::stop() {
  if (impl_->stop_requested.exchange(true)) return;
  // Always posted, so that a handler calling stop() still gets its reply out.
  asio::post(impl_->io, [impl = impl_] { impl->do_stop(); });
}

Status AdminServer::listen(const std::string& addr) {
  auto fail = [&](const std::string& why) {
    return Status::Error("admin server: cannot listen on \"" + addr + "\": " + why);
  };
  if (impl_->acceptor.is_open()) return fail("already listening");
  if (impl_->stop_requested) return fail("server is stopped");

  const auto colon = addr.rfind(':');
  if (colon == std::string::npos) return fail("expected host:port, e.g. 0.0.0.0:11080");
  std::string host = addr.substr(0, colon);
  const std::string port_text = addr.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  auto [end, pec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || pec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return fail("bad port \"" + port_text + "\" (expected 0-65535)");
  }

  boost::system::error_code ec;
  tcp::endpoint endpoint;
  if (host.empty()) {
    endpoint = tcp::endpoint(tcp::v4(), static_cast<uint16_t>(port));
  } else if (auto ip = asio::ip::make_address(host, ec); !ec) {
    endpoint = tcp::endpoint(ip, static_cast<uint16_t>(port));
  } else {
    tcp::resolver resolver(impl_->io);
    auto results = resolver.resolve(host, port_text, ec);
    if (ec || results.empty()) return fail("cannot resolve host \"" + host + "\": " + ec.message());
    endpoint = results.begin()->endpoint();
  }

  auto& acceptor = impl_->acceptor;
  const auto step = [&](auto&& op) -> bool {
    op();
    if (!ec) return true;
    boost::system::error_code ignored;
    acceptor.close(ignored);
    return false;
  };
  if (!step([&] { acceptor.open(endpoint.protocol(), ec); }) ||
      !step([&] { acceptor.set_option(tcp::acceptor::reuse_address(true), ec); }) ||
      !step([&] { acceptor.bind(endpoint, ec); }) ||
      !step([&] { acceptor.listen(asio::socket_base::max_listen_connections, ec); })) {
    return fail(ec.message() + " (is another process using the port? choose another admin_addr)");
  }
  const auto local = acceptor.local_endpoint(ec);
  impl_->port = local.port();
  spdlog::info("admin: listening on {}", endpoint_string(local));
  asio::co_spawn(impl_->io, impl_->accept_loop(impl_), asio::detached);
  return Status::Ok();
}

}  // namespace codis::proxy
