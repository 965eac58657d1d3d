// A small HTTP/1.1 test client over a real loopback socket, for the tests of
// http::Server and the admin APIs served with it: async Beast operations
// driven to completion (or a 5 s timeout) on the test thread, so a
// misbehaving server fails a test, never hangs it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace codis::test {

class HttpClient {
 public:
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  explicit HttpClient(uint16_t port) : stream_(io_) {
    stream_.expires_after(std::chrono::seconds(5));
    boost::beast::error_code ec;
    stream_.async_connect(
        boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port),
        [&](boost::beast::error_code e) { ec = e; });
    run();
    REQUIRE_FALSE(ec);
  }

  Response request(boost::beast::http::verb verb, const std::string& target, const std::string& body = {},
                   bool keep_alive = true) {
    namespace http = boost::beast::http;
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!authorization.empty()) req.set(http::field::authorization, authorization);
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.keep_alive(keep_alive);
    req.prepare_payload();
    boost::beast::error_code ec;
    stream_.expires_after(std::chrono::seconds(5));
    http::async_write(stream_, req, [&](boost::beast::error_code e, std::size_t) { ec = e; });
    run();
    REQUIRE_FALSE(ec);
    return read_response();
  }
  Response get(const std::string& target) { return request(boost::beast::http::verb::get, target); }
  std::string authorization;  // sent as the Authorization header when not empty
  Response put(const std::string& target, const std::string& body = {}) {
    return request(boost::beast::http::verb::put, target, body);
  }

  Response read_response() {
    namespace http = boost::beast::http;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    boost::beast::error_code ec;
    stream_.expires_after(std::chrono::seconds(5));
    http::async_read(stream_, buffer_, parser, [&](boost::beast::error_code e, std::size_t) { ec = e; });
    run();
    REQUIRE_FALSE(ec);
    return parser.release();
  }

  void send_raw(std::string_view bytes) {
    boost::beast::error_code ec;
    stream_.expires_after(std::chrono::seconds(5));
    boost::asio::async_write(stream_, boost::asio::buffer(bytes), [&](boost::beast::error_code e, std::size_t) { ec = e; });
    run();
    REQUIRE_FALSE(ec);
  }

  // Everything until the server closes; `timed_out` if it did not within `wait`.
  std::string read_until_closed(bool& timed_out, std::chrono::milliseconds wait = std::chrono::seconds(5)) {
    std::string all = boost::beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    timed_out = false;
    stream_.expires_after(wait);
    for (;;) {
      char chunk[4096];
      boost::beast::error_code ec;
      std::size_t n = 0;
      stream_.async_read_some(boost::asio::buffer(chunk), [&](boost::beast::error_code e, std::size_t k) { ec = e, n = k; });
      run();
      all.append(chunk, n);
      if (ec) {
        timed_out = ec == boost::beast::error::timeout;
        return all;
      }
    }
  }
  std::string read_until_closed() {
    bool timed_out = false;
    auto s = read_until_closed(timed_out);
    CHECK_FALSE(timed_out);
    return s;
  }

  void close() {
    boost::beast::error_code ignored;
    stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

 private:
  void run() {
    io_.restart();
    io_.run();
  }

  boost::asio::io_context io_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
};

}  // namespace codis::test
