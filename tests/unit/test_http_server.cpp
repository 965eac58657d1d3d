// http::Router without sockets (matching, 400/404/405, fallbacks, HEAD) and
// http::Server over loopback sockets (what a Reply becomes on the wire,
// handlers on a pool, stop). The limits, keep-alive, bad clients and
// timeouts are exercised through the proxy's admin API in
// test_admin_server.cpp.
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "codis/http_server.h"
#include "http_test_client.h"

namespace {

namespace http = codis::http;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

// A handler that answers what it was called with: "<tag> <method> <path> a=1 b=2 | <body>".
http::Handler echo(std::string tag) {
  return [tag = std::move(tag)](const http::Request& req) {
    std::string out = tag + " " + req.method + " " + req.path;
    for (const auto& [k, v] : req.params) out += " " + k + "=" + v;
    return http::text(200, out + " | " + req.body);
  };
}

std::string allow_of(const http::Reply& r) {
  for (const auto& [k, v] : r.headers) {
    if (k == "Allow") return v;
  }
  return "";
}

}  // namespace

TEST_CASE("http router: patterns, parameters and the first matching route", "[http]") {
  http::Router r;
  r.add("GET", "/", echo("root"));
  r.add("GET", "/a/literal", echo("literal"));
  r.add("GET", "/a/:x", echo("param"));
  r.add("PUT", "/a/:x/:y", echo("two"));

  CHECK(r.dispatch("GET", "/", "", "t").body == "root GET / | ");
  CHECK(r.dispatch("GET", "/a/literal", "", "t").body == "literal GET /a/literal | ");  // added first
  CHECK(r.dispatch("GET", "/a/other", "", "t").body == "param GET /a/other x=other | ");
  CHECK(r.dispatch("GET", "/a/other/?q=1#f", "", "t").body == "param GET /a/other/ x=other | ");
  CHECK(r.dispatch("GET", "http://host:1/a/b", "", "t").body == "param GET /a/b x=b | ");  // absolute form
  CHECK(r.dispatch("PUT", "/a/1/127.0.0.1%3A6379", "{}", "t").body == "two PUT /a/1/127.0.0.1:6379 x=1 y=127.0.0.1:6379 | {}");

  CHECK(r.dispatch("GET", "/a", "", "t").status == 404);
  CHECK(r.dispatch("GET", "/a//", "", "t").status == 404);        // a parameter never matches an empty segment
  CHECK(r.dispatch("GET", "/a/b/c/d", "", "t").status == 404);
  CHECK(r.dispatch("GET", "//a/literal", "", "t").status == 404);  // empty inner segments match nothing
  CHECK(r.dispatch("GET", "/nope", "", "t").body == "404 page not found\n");

  auto bad = r.dispatch("GET", "/a/%zz", "", "t");
  CHECK(bad.status == 400);
  CHECK(r.dispatch("GET", "/a/%4", "", "t").status == 400);
  CHECK(r.dispatch("GET", "a/b", "", "t").status == 400);
  CHECK(bad.content_type == "text/plain; charset=utf-8");
}

TEST_CASE("http router: 405 names the methods a path has; unknown paths are 404 for every method", "[http]") {
  http::Router r;
  const std::pair<const char*, const char*> routes[] = {
      {"GET", "/x/:id"}, {"PUT", "/x/:id"}, {"PUT", "/y"}, {"POST", "/y"}, {"PUT", "/y"}};
  for (const auto& [method, pattern] : routes) r.add(method, pattern, echo(method));

  auto r405 = r.dispatch("DELETE", "/x/1", "", "t");
  CHECK(r405.status == 405);
  CHECK(allow_of(r405) == "GET, PUT");
  CHECK(r405.body == "405 method not allowed\n");
  CHECK(allow_of(r.dispatch("GET", "/y", "", "t")) == "PUT, POST");  // each method once
  for (const char* method : {"GET", "PUT", "DELETE", "PATCH", "BREW"}) {
    INFO(method);
    CHECK(r.dispatch(method, "/z", "", "t").status == 404);
  }
}

TEST_CASE("http router: fallbacks serve what no route serves and claim no path", "[http]") {
  http::Router r;
  r.add_fallback("GET", "/:file", [](const http::Request& req) {
    return req.param("file") == "index.html" ? http::text(200, "page") : http::text(404, "no such file\n");
  });
  r.add("GET", "/", echo("root"));
  r.add("PUT", "/topom", echo("put topom"));  // added after the fallback, tried before it
  r.add("GET", "/metrics", echo("metrics"));

  CHECK(r.dispatch("GET", "/metrics", "", "t").body == "metrics GET /metrics | ");
  CHECK(r.dispatch("GET", "/index.html", "", "t").body == "page");
  CHECK(r.dispatch("GET", "/missing.js", "", "t").status == 404);
  CHECK(r.dispatch("PUT", "/topom", "", "t").body == "put topom PUT /topom | ");

  // The wart this fixes: PUT to an unknown one-segment path was 405 "GET"
  // because "GET /:file" matched it.
  CHECK(r.dispatch("PUT", "/nope", "", "t").status == 404);
  CHECK(r.dispatch("DELETE", "/index.html", "", "t").status == 404);
  // A path that a route has keeps its 405, fallback or not...
  auto r405 = r.dispatch("DELETE", "/metrics", "", "t");
  CHECK(r405.status == 405);
  CHECK(allow_of(r405) == "GET");
  CHECK(r.dispatch("PUT", "/", "", "t").status == 405);
  // ...and a GET that only a PUT route has is served by the fallback.
  CHECK(r.dispatch("GET", "/topom", "", "t").status == 404);  // the fallback's own answer
  CHECK(r.dispatch("GET", "/topom", "", "t").body == "no such file\n");
}

TEST_CASE("http router: HEAD is served by GET routes unless turned off", "[http]") {
  http::Router on;
  on.add("GET", "/proxy", echo("get"));
  CHECK(on.dispatch("HEAD", "/proxy", "", "t").body == "get HEAD /proxy | ");

  http::Router off(http::Router::Options{.head_as_get = false});
  off.add("GET", "/proxy", echo("get"));
  auto r = off.dispatch("HEAD", "/proxy", "", "t");
  CHECK(r.status == 405);
  CHECK(allow_of(r) == "GET");
}

TEST_CASE("http router: a throwing handler is a 500, the router goes on", "[http]") {
  http::Router r;
  r.add("GET", "/boom", [](const http::Request&) -> http::Reply { throw std::runtime_error("kaput"); });
  r.add("GET", "/int", [](const http::Request&) -> http::Reply { throw 42; });
  auto boom = r.dispatch("GET", "/boom", "", "t");
  CHECK(boom.status == 500);
  CHECK(boom.error == "kaput");
  CHECK(r.dispatch("GET", "/int", "", "t").status == 500);
}

namespace {

http::Server::Options options(std::string name, int handler_threads, std::size_t max_connections = 64) {
  http::Server::Options o;
  o.name = std::move(name);
  o.handler_threads = handler_threads;
  o.limits.max_connections = max_connections;
  return o;
}

// A server on 127.0.0.1:0 over `router`, with its io thread.
struct Served {
  explicit Served(http::Router router, http::Server::Options options = {})
      : server(io, std::move(router), std::move(options)) {
    REQUIRE(server.listen("127.0.0.1:0").ok());
    thread = std::thread([this] { io.run(); });
  }
  ~Served() { stop(); }
  void stop() {
    server.stop();
    if (thread.joinable()) thread.join();
  }

  boost::asio::io_context io;
  http::Server server;
  std::thread thread;
};

}  // namespace

TEST_CASE("http server: a Reply on the wire", "[http]") {
  http::Router r;
  r.add("GET", "/codis-error", [](const http::Request&) {
    http::Reply reply = http::text(800, "{}", "application/json; charset=utf-8");
    reply.error = "not sent";
    return reply;
  });
  r.add("GET", "/moved", [](const http::Request&) {
    http::Reply reply = http::text(302, "");
    reply.location = "/there";
    return reply;
  });
  r.add("GET", "/headers", [](const http::Request&) {
    http::Reply reply = http::text(200, "<p>", "text/html; charset=utf-8");
    reply.headers.emplace_back("Cache-Control", "no-cache");
    reply.headers.emplace_back("X-Content-Type-Options", "nosniff");
    return reply;
  });
  r.add("GET", "/who", [](const http::Request& req) { return http::text(200, req.remote); });
  r.add("GET", "/bad-status", [](const http::Request&) { return http::text(1234, "?"); });
  Served s(std::move(r));
  codis::test::HttpClient c(s.server.port());

  auto e = c.get("/codis-error");
  CHECK(e.result_int() == 800);
  CHECK(e.reason() == "status code 800");  // what Go's server sends for a code it has no text for
  CHECK(e[bhttp::field::content_type] == "application/json; charset=utf-8");
  CHECK(e.body() == "{}");
  CHECK(e.keep_alive());

  auto m = c.get("/moved");
  CHECK(m.result_int() == 302);
  CHECK(m.reason() == "Found");
  CHECK(m[bhttp::field::location] == "/there");

  auto h = c.get("/headers");
  CHECK(h[bhttp::field::content_type] == "text/html; charset=utf-8");
  CHECK(h[bhttp::field::cache_control] == "no-cache");
  CHECK(h["X-Content-Type-Options"] == "nosniff");
  CHECK(h.find(bhttp::field::location) == h.end());

  CHECK(c.get("/who").body().starts_with("127.0.0.1:"));
  c.send_raw("GET /who HTTP/1.1\r\nHost: a\r\nX-Real-IP: 10.1.2.3\r\n\r\n");
  CHECK(c.read_response().body().ends_with(" [10.1.2.3]"));

  CHECK(c.get("/bad-status").result_int() == 500);

  // HEAD: the GET route's headers and Content-Length, no body.
  c.send_raw("HEAD /headers HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  const auto raw = c.read_until_closed();
  CHECK(raw.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(raw.find("Content-Length: 3\r\n") != std::string::npos);
  CHECK(raw.ends_with("\r\n\r\n"));
}

TEST_CASE("http server: handlers on a pool do not hold up the io thread", "[http]") {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> blocked{0};
  std::thread::id io_thread;
  http::Router r;
  r.add("GET", "/block", [&](const http::Request&) {
    ++blocked;
    std::unique_lock lock(mu);
    cv.wait_for(lock, 5s, [&] { return release; });
    return http::text(200, "released");
  });
  r.add("GET", "/thread", [&](const http::Request&) {
    return http::text(200, std::this_thread::get_id() == io_thread ? "io" : "pool");
  });
  Served s(std::move(r), options("api", 2));
  io_thread = s.thread.get_id();

  std::thread slow([&] {
    codis::test::HttpClient c(s.server.port());
    CHECK(c.get("/block").body() == "released");
  });
  while (blocked == 0) std::this_thread::sleep_for(1ms);
  codis::test::HttpClient c(s.server.port());
  CHECK(c.get("/thread").body() == "pool");  // answered while /block still waits
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  slow.join();
}

TEST_CASE("http server: stop from a pooled handler still sends its reply", "[http]") {
  http::Server* server = nullptr;
  http::Router r;
  r.add("PUT", "/shutdown", [&](const http::Request&) {
    server->stop();
    return http::text(200, "bye");
  });
  Served s(std::move(r), options("http", 1));
  server = &s.server;
  codis::test::HttpClient c(s.server.port());
  auto reply = c.put("/shutdown");
  CHECK(reply.body() == "bye");
  CHECK_FALSE(reply.keep_alive());
  CHECK(c.read_until_closed().empty());
  s.thread.join();  // the io_context ran out of work by itself
}

TEST_CASE("http server: the refusal over max_connections names the server", "[http]") {
  http::Router r;
  r.add("GET", "/", echo("root"));
  Served s(std::move(r), options("api", 0, 1));
  codis::test::HttpClient a(s.server.port());
  CHECK(a.get("/").result_int() == 200);
  codis::test::HttpClient b(s.server.port());
  CHECK(b.read_until_closed().ends_with("\r\n\r\n503 too many api connections, retry.\n"));
}
