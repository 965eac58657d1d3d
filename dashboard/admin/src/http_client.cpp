#include "http_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

namespace codis::admin {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

struct HostPort {
  std::string host;
  std::string port;
};

Result<HostPort> split_addr(const std::string &addr) {
  const auto colon = addr.rfind(':');
  if (colon == std::string::npos || colon + 1 == addr.size()) {
    return Result<HostPort>::Error(
        "invalid address \"" + addr +
        "\": expected host:port, e.g. 127.0.0.1:18080");
  }
  HostPort hp{addr.substr(0, colon), addr.substr(colon + 1)};
  if (hp.host.size() >= 2 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  if (hp.host.empty())
    hp.host = "127.0.0.1";
  if (hp.port.find_first_not_of("0123456789") != std::string::npos) {
    return Result<HostPort>::Error("invalid address \"" + addr +
                                   "\": the port must be a number");
  }
  return hp;
}

std::string step_error(const std::string &addr, std::string_view step,
                       const beast::error_code &ec) {
  if (ec == beast::error::timeout)
    return std::string(step) + " " + addr + " timed out";
  return std::string(step) + " " + addr + " failed: " + ec.message();
}

// The coroutine's result: co_spawn needs a default-constructible type.
struct Exchange {
  HttpResponse response;
  std::string error; // empty on success
};

Exchange failure(std::string message) {
  return Exchange{{}, std::move(message)};
}

asio::awaitable<Exchange> exchange(std::string addr, HostPort hp,
                                   http::verb verb, std::string target,
                                   std::string body, std::string bearer,
                                   std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  beast::tcp_stream stream(ex);
  tcp::resolver resolver(ex);

  // One deadline for the whole exchange: the resolver has no timeout of its
  // own, so the stream's timer does not cover it; it is local and quick.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto [rec, endpoints] =
      co_await resolver.async_resolve(hp.host, hp.port, kAwait);
  if (rec)
    co_return failure(step_error(addr, "resolve", rec));

  stream.expires_at(deadline);
  auto [cec, ep] = co_await stream.async_connect(endpoints, kAwait);
  if (cec)
    co_return failure(step_error(addr, "connect to", cec));

  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, addr);
  req.set(http::field::user_agent, "codis-admin");
  req.set(http::field::connection, "close");
  if (!bearer.empty())
    req.set(http::field::authorization, "Bearer " + bearer);
  if (!body.empty())
    req.set(http::field::content_type, "application/json; charset=utf-8");
  req.body() = std::move(body);
  req.prepare_payload();

  auto [wec, nw] = co_await http::async_write(stream, req, kAwait);
  if (wec)
    co_return failure(step_error(addr, "send request to", wec));

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(
      256 * 1024 *
      1024); // a stats reply of a big cluster is large, never this large
  auto [rec2, nr] = co_await http::async_read(stream, buffer, parser, kAwait);
  if (rec2)
    co_return failure(step_error(addr, "read reply from", rec2));

  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  auto res = parser.release();
  co_return Exchange{HttpResponse{res.result_int(), std::move(res.body())}, {}};
}

} // namespace

Result<HttpResponse> HttpClient::request(const std::string &addr,
                                         std::string_view method,
                                         const std::string &target,
                                         const std::string &body,
                                         const std::string &bearer) const {
  auto hp = split_addr(addr);
  if (!hp)
    return hp.status();
  const auto verb = http::string_to_verb(method);
  if (verb == http::verb::unknown)
    return Result<HttpResponse>::Error("unknown HTTP method " +
                                       std::string(method));

  asio::io_context io;
  std::optional<Result<HttpResponse>> out;
  asio::co_spawn(io,
                 exchange(addr, std::move(*hp), verb, target, body, bearer, timeout_),
                 [&out, &addr](std::exception_ptr e, Exchange r) {
                   if (e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception &ex) {
                       out = Result<HttpResponse>::Error(
                           "request to " + addr + " failed: " + ex.what());
                       return;
                     }
                   }
                   if (!r.error.empty()) {
                     out = Result<HttpResponse>::Error(std::move(r.error));
                   } else {
                     out = std::move(r.response);
                   }
                 });
  io.run();
  if (!out)
    return Result<HttpResponse>::Error("request to " + addr +
                                       " did not complete");
  return std::move(*out);
}

std::string escape_path_segment(std::string_view segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(segment.size());
  for (const unsigned char c : segment) {
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                            c == '_' || c == '~';
    const bool sub_delim_or_pchar =
        c == '!' || c == '$' || c == '&' || c == '\'' || c == '(' || c == ')' ||
        c == '*' || c == '+' || c == ',' || c == ';' || c == '=' || c == ':' ||
        c == '@';
    if (unreserved || sub_delim_or_pchar) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

} // namespace codis::admin
