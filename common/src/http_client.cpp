// The HTTP client behind codis/http_client.h: one coroutine per call on a
// private io_context, with a watchdog timer that closes the socket at the
// deadline (so the deadline also covers the TLS handshake), and OpenSSL's own
// chain and host/IP verification for HTTPS.
#include "codis/http_client.h"

#include "openssl_text.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <tuple>
#include <optional>

#include "codis/host_port.h"

// GCC 12 misreads Asio's recycling allocator for coroutine frames
// (aligned_alloc paired with its own operator delete) as a mismatch.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace codis::http {

using detail::openssl_error;
using detail::unreadable;

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

struct ClientTls::Context {
  ssl::context ctx{ssl::context::tls_client};
};

struct ClientAccess {
  static ssl::context& context(const ClientTls& tls) { return tls.context_->ctx; }
};

ClientTls::ClientTls(std::string ca_file, std::unique_ptr<Context> context)
    : ca_file_(std::move(ca_file)), context_(std::move(context)) {}

ClientTls::~ClientTls() = default;


Result<std::shared_ptr<const ClientTls>> load_client_tls(const std::string& ca_file, const std::string& cert_file,
                                                         const std::string& key_file, std::string_view keys) {
  using R = Result<std::shared_ptr<const ClientTls>>;
  const std::string from = " (" + std::string(keys) + ")";
  auto context = std::make_unique<ClientTls::Context>();
  SSL_CTX* ctx = context->ctx.native_handle();
  ERR_clear_error();
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) return R::Error("TLS: cannot require TLS 1.2");
  // Only the CA file is trusted, not the system's store: the admin plane's
  // certificates come from the operator's private CA.
  if (auto why = unreadable(ca_file); !why.empty()) {
    return R::Error("cannot read the CA file \"" + ca_file + "\"" + from + ": " + why);
  }
  if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    return R::Error("cannot load the CA file \"" + ca_file + "\"" + from + ": " +
                    openssl_error("no certificate in it"));
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (cert_file.empty() != key_file.empty()) {
    return R::Error("a client certificate needs both its certificate and its key file" + from);
  }
  if (!cert_file.empty()) {
    for (const auto* f : {&cert_file, &key_file}) {
      if (auto why = unreadable(*f); !why.empty()) return R::Error("cannot read \"" + *f + "\"" + from + ": " + why);
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
      return R::Error("cannot load the certificate \"" + cert_file + "\"" + from + ": " + openssl_error("not PEM"));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
      return R::Error("cannot load the key \"" + key_file + "\"" + from + ": " +
                      openssl_error("not the certificate's key"));
    }
  }
  return std::shared_ptr<const ClientTls>(new ClientTls(ca_file, std::move(context)));
}

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

struct Target {
  std::string host;
  std::string port;
};

Result<Target> split_addr(const std::string& addr) {
  auto hp = HostPort::parse(addr);
  if (!hp) return hp.status();
  return Target{hp->host_or("127.0.0.1"), hp->port_text()};
}

// The coroutine's result: co_spawn wants a default-constructible type.
struct Outcome {
  Response response;
  std::string error;  // empty on success
  bool timed_out = false;
};

// One call's state. It outlives io.run(), so the watchdog's handler may touch
// it even when it fires as the coroutine ends.
struct Exchange {
  Exchange(asio::io_context& io, std::string addr_, Target target_, bhttp::verb verb, const std::string& path,
           const ClientOptions& options_)
      : addr(std::move(addr_)),
        target(std::move(target_)),
        req(verb, path, 11),
        options(options_),
        socket(io),
        resolver(io),
        watchdog(io) {}

  std::string addr;
  Target target;
  bhttp::request<bhttp::string_body> req;
  const ClientOptions& options;
  tcp::socket socket;
  tcp::resolver resolver;
  asio::steady_timer watchdog;
  bool timed_out = false;
  // stream(): the body goes to on_body piece by piece; the watchdog then
  // ticks every 100 ms, for `cancel` and the moving `deadline`.
  const std::function<bool(std::string_view)>* on_body = nullptr;
  std::chrono::milliseconds idle{0};
  const std::atomic<bool>* cancel = nullptr;
  std::chrono::steady_clock::time_point deadline;
  bool finished = false;

  void abort_io() {
    resolver.cancel();
    boost::system::error_code ignored;
    socket.close(ignored);
  }

  void tick() {
    watchdog.expires_after(std::chrono::milliseconds(100));
    watchdog.async_wait([this](const boost::system::error_code& ec) {
      if (ec || finished) return;
      if (cancel->load() || std::chrono::steady_clock::now() >= deadline) {
        timed_out = !cancel->load();
        abort_io();
        return;
      }
      tick();
    });
  }

  std::string step_error(std::string_view step, const boost::system::error_code& ec) const {
    if (timed_out) return std::string(step) + " " + addr + " timed out";
    return std::string(step) + " " + addr + " failed: " + ec.message();
  }

  template <class Stream>
  asio::awaitable<Outcome> send_and_stream(Stream& stream) {
    auto [wec, nw] = co_await bhttp::async_write(stream, req, kAwait);
    if (wec) co_return Outcome{{}, step_error("send request to", wec)};
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::buffer_body> parser;
    parser.body_limit(boost::none);
    auto [hec, nh] = co_await bhttp::async_read_header(stream, buffer, parser, kAwait);
    if (hec) co_return Outcome{{}, step_error("read reply from", hec)};
    Outcome out;
    out.response.status = parser.get().result_int();
    char piece[16384];
    while (!parser.is_done() && !cancel->load()) {
      deadline = std::chrono::steady_clock::now() + idle;
      parser.get().body().data = piece;
      parser.get().body().size = sizeof piece;
      auto [ec, n] = co_await bhttp::async_read_some(stream, buffer, parser, kAwait);
      if (ec == bhttp::error::need_buffer) ec = {};
      const size_t got = sizeof piece - parser.get().body().size;
      if (got > 0 && !(*on_body)(std::string_view(piece, got))) break;
      if (cancel->load()) break;
      if (ec) co_return Outcome{{}, step_error("read reply from", ec)};
    }
    co_return out;
  }

  template <class Stream>
  asio::awaitable<Outcome> send_and_read(Stream& stream) {
    if (on_body) co_return co_await send_and_stream(stream);
    auto [wec, nw] = co_await bhttp::async_write(stream, req, kAwait);
    if (wec) co_return Outcome{{}, step_error("send request to", wec), timed_out};
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(options.max_body_bytes);
    auto [rec, nr] = co_await bhttp::async_read(stream, buffer, parser, kAwait);
    if (rec) {
      std::string why = step_error("read reply from", rec);
      if (!options.tls && (rec == bhttp::error::end_of_stream || rec == asio::error::connection_reset)) {
        why += " (if it serves HTTPS, give its CA: admin_tls_ca_file, codis-admin --tls-ca)";
      }
      co_return Outcome{{}, std::move(why), timed_out};
    }
    auto res = parser.release();
    co_return Outcome{Response{res.result_int(), std::move(res.body())}, {}};
  }

  asio::awaitable<Outcome> run() {
    if (on_body) {
      deadline = std::chrono::steady_clock::now() + options.timeout;
      tick();
    } else {
      watchdog.expires_after(options.timeout);
      // At the deadline: cancel the resolve, close the socket; whatever step is
      // pending then fails and reports the timeout.
      watchdog.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        timed_out = true;
        abort_io();
      });
    }
    struct StopWatchdog {
      Exchange& ex;
      ~StopWatchdog() {
        ex.finished = true;
        ex.watchdog.cancel();
      }
    } stop_watchdog{*this};

    // An IP literal (the usual admin address) needs no resolver, whose
    // asynchronous form would start a thread for this one call.
    boost::system::error_code aec;
    const auto ip = asio::ip::make_address(target.host, aec);
    const bool ip_literal = !aec;
    boost::system::error_code cec;
    if (ip_literal) {
      std::tie(cec) = co_await socket.async_connect(
          tcp::endpoint(ip, static_cast<unsigned short>(std::stoul(target.port))), kAwait);
    } else {
      auto [rec, endpoints] = co_await resolver.async_resolve(target.host, target.port, kAwait);
      if (rec || timed_out) co_return Outcome{{}, step_error("resolve", rec), timed_out};
      std::tie(cec, std::ignore) = co_await asio::async_connect(socket, endpoints, kAwait);
    }
    if (cec || timed_out) co_return Outcome{{}, step_error("connect to", cec), timed_out};
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);

    if (!options.tls) co_return co_await send_and_read(socket);

    ssl::stream<tcp::socket&> stream(socket, ClientAccess::context(*options.tls));
    SSL* ssl_handle = stream.native_handle();
    // Verify the certificate against the host we dialled: its IP address for
    // an IP literal, else its DNS name (also sent as SNI).
    const bool named =
        ip_literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), target.host.c_str()) == 1
                   : SSL_set1_host(ssl_handle, target.host.c_str()) == 1 &&
                         SSL_set_tlsext_host_name(ssl_handle, target.host.c_str()) == 1;
    if (!named) co_return Outcome{{}, "TLS: cannot verify the name \"" + target.host + "\" of " + addr, timed_out};
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, kAwait);
    if (hec || timed_out) {
      std::string why = step_error("TLS handshake with", hec);
      const long verify = SSL_get_verify_result(ssl_handle);
      if (!timed_out && verify != X509_V_OK) {
        why += " (" + std::string(X509_verify_cert_error_string(verify)) + "; trusted CAs: " +
               options.tls->ca_file() + ")";
      }
      co_return Outcome{{}, std::move(why), timed_out};
    }
    auto out = co_await send_and_read(stream);
    // We read the reply to its end (Connection: close): a close_notify is a
    // courtesy that a dead peer must not be able to stall.
    socket.close(ignored);
    co_return out;
  }
};

}  // namespace

namespace {

Result<Response> exchange(const std::string& addr, std::string_view method, const std::string& target,
                          const std::string& body, const ClientOptions& options,
                          const std::function<void(Exchange&)>& setup) {
  auto hp = split_addr(addr);
  if (!hp) return hp.status();
  const auto verb = bhttp::string_to_verb(method);
  if (verb == bhttp::verb::unknown) return Result<Response>::Error("unknown HTTP method " + std::string(method));

  asio::io_context io;
  Exchange ex(io, addr, std::move(*hp), verb, target, options);
  if (setup) setup(ex);
  auto& req = ex.req;
  req.set(bhttp::field::host, addr);
  req.set(bhttp::field::user_agent, options.user_agent);
  req.set(bhttp::field::connection, "close");
  if (!options.bearer.empty()) {
    req.set(bhttp::field::authorization, "Bearer " + options.bearer);
  } else if (!options.authorization.empty()) {
    req.set(bhttp::field::authorization, options.authorization);
  }
  if (!body.empty()) req.set(bhttp::field::content_type, "application/json; charset=utf-8");
  req.body() = body;
  req.prepare_payload();

  std::optional<Result<Response>> out;
  asio::co_spawn(io, ex.run(), [&](std::exception_ptr e, Outcome r) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        out = Result<Response>::Error("request to " + addr + " failed: " + x.what());
      }
      return;
    }
    if (!r.error.empty()) {
      out = Result<Response>::Error(std::move(r.error), r.timed_out ? Code::kTimeout : Code::kError);
    } else {
      out = std::move(r.response);
    }
  });
  io.run();
  if (!out) return Result<Response>::Error("request to " + addr + " did not complete");
  return std::move(*out);
}

}  // namespace

Result<Response> request(const std::string& addr, std::string_view method, const std::string& target,
                         const std::string& body, const ClientOptions& options) {
  return exchange(addr, method, target, body, options, nullptr);
}

Result<Response> stream(const std::string& addr, std::string_view method, const std::string& target,
                        const std::string& body, const ClientOptions& options, std::chrono::milliseconds idle,
                        const std::function<bool(std::string_view)>& on_body, const std::atomic<bool>& cancel) {
  return exchange(addr, method, target, body, options, [&](Exchange& ex) {
    ex.on_body = &on_body;
    ex.idle = idle;
    ex.cancel = &cancel;
  });
}

}  // namespace codis::http
