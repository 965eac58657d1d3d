#include "rpc_server.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <charconv>
#include <unordered_set>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace codis::dashboard {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr auto kIoTimeout = std::chrono::seconds(30);

std::string endpoint_string(const tcp::endpoint& ep) {
  const auto a = ep.address();
  return a.is_v6() ? "[" + a.to_string() + "]:" + std::to_string(ep.port())
                   : a.to_string() + ":" + std::to_string(ep.port());
}
}  // namespace

struct RpcServer::Impl {
  Impl(asio::io_context& io, Router r, int threads) : io(io), router(std::move(r)), pool(threads), acceptor(io) {}

  asio::io_context& io;
  Router router;
  asio::thread_pool pool;
  tcp::acceptor acceptor;
  std::atomic<uint16_t> port{0};
  std::atomic<bool> stop_requested{false};
  bool stopping = false;
  struct Conn {
    beast::tcp_stream stream;
    std::string remote;
    bool reading = false;
  };
  std::unordered_set<Conn*> conns;

  asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self);
  asio::awaitable<void> serve(std::shared_ptr<Impl> self, std::shared_ptr<Conn> conn);
  void do_stop();
};

asio::awaitable<void> RpcServer::Impl::accept_loop(std::shared_ptr<Impl> self) {
  while (!stopping) {
    auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
    if (ec) {
      if (stopping || ec == asio::error::operation_aborted) break;
      continue;
    }
    if (conns.size() >= 64) {
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    boost::system::error_code rec;
    const auto peer = socket.remote_endpoint(rec);
    auto conn = std::make_shared<Conn>(Conn{beast::tcp_stream(std::move(socket)),
                                            rec ? std::string("unknown") : endpoint_string(peer)});
    asio::co_spawn(io, serve(self, std::move(conn)), asio::detached);
  }
}

asio::awaitable<void> RpcServer::Impl::serve(std::shared_ptr<Impl> self, std::shared_ptr<Conn> conn) {
  conns.insert(conn.get());
  struct Unregister {
    Impl* impl;
    Conn* conn;
    ~Unregister() { impl->conns.erase(conn); }
  } unregister{this, conn.get()};
  auto& stream = conn->stream;
  beast::flat_buffer buffer;
  while (!stopping) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    stream.expires_after(kIoTimeout);
    conn->reading = true;
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, kUseTuple);
    conn->reading = false;
    if (ec) {
      if (ec == http::error::body_limit) {
        http::response<http::string_body> res{http::status::payload_too_large, 11};
        res.set(http::field::content_type, kTextType);
        res.keep_alive(false);
        res.body() = "413 request body too large\n";
        res.prepare_payload();
        co_await http::async_write(stream, res, kUseTuple);
      }
      break;
    }
    const auto& req = parser.get();
    std::string who = conn->remote;
    for (auto field : {"X-Real-IP", "X-Forwarded-For"}) {
      const auto it = req.find(field);
      if (it != req.end() && !it->value().empty()) {
        who += " [" + std::string(it->value()) + "]";
        break;
      }
    }
    const std::string verb(req.method_string());
    const std::string target(req.target());
    const std::string& body = req.body();
    // Off the io thread: handlers block on the coordinator, proxies, servers.
    HttpReply reply = co_await asio::co_spawn(
        pool.get_executor(),
        [&]() -> asio::awaitable<HttpReply> { co_return router.dispatch(verb, target, body, who); },
        asio::use_awaitable);

    http::response<http::string_body> res;
    res.version(11);
    res.result(reply.status);
    if (reply.status == kCodisErrorStatus) res.reason("status code 800");
    res.set(http::field::content_type, reply.content_type);
    if (reply.status == 302) res.set(http::field::location, reply.location);
    if (reply.status == 405) res.set(http::field::allow, reply.location);
    for (const auto& [name, value] : reply.headers) res.set(name, value);
    res.body() = std::move(reply.body);
    const bool keep_alive = req.keep_alive() && !stopping;
    res.keep_alive(keep_alive);
    res.prepare_payload();
    if (req.method() == http::verb::head) res.body().clear();
    stream.expires_after(kIoTimeout);
    auto [wec, wn] = co_await http::async_write(stream, res, kUseTuple);
    if (wec || !keep_alive) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.socket().close(ignored);
}

void RpcServer::Impl::do_stop() {
  if (stopping) return;
  stopping = true;
  boost::system::error_code ignored;
  acceptor.close(ignored);
  for (Conn* c : conns) {
    if (c->reading) c->stream.socket().close(ignored);
  }
}

RpcServer::RpcServer(asio::io_context& io, Router router, int handler_threads)
    : impl_(std::make_shared<Impl>(io, std::move(router), handler_threads)) {}

RpcServer::~RpcServer() {
  stop();
  impl_->pool.join();
}

uint16_t RpcServer::port() const { return impl_->port.load(); }

void RpcServer::stop() {
  if (impl_->stop_requested.exchange(true)) return;
  asio::post(impl_->io, [impl = impl_] { impl->do_stop(); });
}

Status RpcServer::listen(const std::string& addr) {
  auto fail = [&](const std::string& why) {
    return Status::Error("api server: cannot listen on \"" + addr + "\": " + why);
  };
  const auto colon = addr.rfind(':');
  if (colon == std::string::npos) return fail("expected host:port, e.g. 0.0.0.0:18080");
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
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    return fail(ec.message() + " (is another process using the port? choose another admin_addr)");
  }
  impl_->port = acceptor.local_endpoint(ec).port();
  spdlog::info("api: listening on {}", endpoint_string(acceptor.local_endpoint(ec)));
  asio::co_spawn(impl_->io, impl_->accept_loop(impl_), asio::detached);
  return Status::Ok();
}

}  // namespace codis::dashboard
