// http::Router without sockets (matching, 400/404/405, fallbacks, HEAD) and
// http::Server over loopback sockets (what a Reply becomes on the wire,
// handlers on a pool, stop, floods of idle and slow clients, HTTPS with
// http::request as the client). The body and header limits, keep-alive and
// bad clients are exercised through the proxy's admin API in
// test_admin_server.cpp.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "codis/http_client.h"
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

// ---------------------------------------------------------------------------
// Floods: the connection cap, eviction of waiting connections, the timeouts.

namespace {

// Raw loopback sockets for floods: hundreds of them, none read by Asio.
int dial(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
  return fd;
}

void send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    REQUIRE(n > 0);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Whether the server closed `fd` (EOF or reset) within `wait`; what it sent
// before is discarded.
bool closed_within(int fd, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::max<long>(0, left.count()))) <= 0) return false;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return true;
  }
}

struct Fds {
  std::vector<int> fds;
  ~Fds() {
    for (int fd : fds) ::close(fd);
  }
};

// Room for `n` more descriptors in this process (client and server ends of
// the flood), raising the soft limit as the daemons do.
bool room_for_descriptors(std::size_t n) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return false;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < n + 256) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= n + 256;
}

// What the admin layer does, reduced to its point here: only the bearer gets in.
http::Router bearer_router() {
  http::Router r;
  r.add("GET", "/admin", [](const http::Request& req) {
    if (req.header("authorization") != "Bearer s3cret") return http::text(401, "who are you?\n");
    return http::text(200, req.secure ? "secure" : "plain");
  });
  return r;
}

}  // namespace

TEST_CASE("http server: 1000 idle and 1000 slow connections do not lock out an authenticated request",
          "[http][flood]") {
  const std::size_t kEach = 1000;
  if (!room_for_descriptors(4 * kEach + 64)) {
    WARN("skipped: the open files limit is too low for the flood");
    return;
  }
  auto o = options("admin", 0, 1500);  // below the flood: the oldest waiting connections make room
  o.limits.request_timeout = 1500ms;
  o.limits.idle_timeout = 60s;
  Served s(bearer_router(), o);

  Fds idle, slow;
  for (std::size_t i = 0; i < kEach; ++i) idle.fds.push_back(dial(s.server.port()));
  for (std::size_t i = 0; i < kEach; ++i) {
    slow.fds.push_back(dial(s.server.port()));
    send_all(slow.fds.back(), i % 2 ? "GET /admin HTTP/1.1\r\nHost: a\r\nAuthor" : "GET /adm");
  }

  http::ClientOptions co;
  co.timeout = 3s;
  co.bearer = "s3cret";
  const auto start = std::chrono::steady_clock::now();
  auto r = http::request("127.0.0.1:" + std::to_string(s.server.port()), "GET", "/admin", "", co);
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "plain");
  CHECK(took < 2s);
  co.bearer = "wrong";
  CHECK(http::request("127.0.0.1:" + std::to_string(s.server.port()), "GET", "/admin", "", co)->status == 401);

  // The slow ones are closed once request_timeout has passed since their first byte.
  std::size_t slow_closed = 0;
  for (int fd : slow.fds) slow_closed += closed_within(fd, 3s) ? 1 : 0;
  CHECK(slow_closed == kEach);
  // Of the idle ones, the oldest made room for the rest of the flood; the
  // newer ones wait for their idle timeout (60 s), undisturbed.
  std::size_t idle_closed = 0;
  for (int fd : idle.fds) idle_closed += closed_within(fd, 0ms) ? 1 : 0;
  CHECK(idle_closed > 0);
  CHECK(idle_closed <= kEach / 2 + 2);  // 500 for the rest of the flood, 2 for our requests
  CHECK_FALSE(closed_within(idle.fds.back(), 0ms));
  CHECK(closed_within(idle.fds.front(), 0ms));
}

TEST_CASE("http server: at the cap the oldest waiting connection goes, never a busy one", "[http][flood]") {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> blocked{0};
  http::Router r;
  r.add("GET", "/block", [&](const http::Request&) {
    ++blocked;
    std::unique_lock lock(mu);
    cv.wait_for(lock, 5s, [&] { return release; });
    return http::text(200, "released");
  });
  r.add("GET", "/", echo("root"));
  auto o = options("api", 2, 2);
  o.limits.request_timeout = 5s;
  o.limits.idle_timeout = 5s;
  Served s(std::move(r), o);

  // A busy connection (its handler runs) and an idle one fill the server.
  std::thread busy([&] {
    codis::test::HttpClient c(s.server.port());
    CHECK(c.get("/block").body() == "released");
  });
  while (blocked == 0) std::this_thread::sleep_for(1ms);
  codis::test::HttpClient idle(s.server.port());
  CHECK(idle.get("/").result_int() == 200);

  // A newcomer closes the idle one, not the busy one.
  codis::test::HttpClient fresh(s.server.port());
  CHECK(fresh.get("/").result_int() == 200);
  CHECK(idle.read_until_closed().empty());

  // Both busy now (a second /block): a newcomer is refused, and told why.
  std::thread busy2([&] { CHECK(fresh.get("/block").body() == "released"); });
  while (blocked < 2) std::this_thread::sleep_for(1ms);
  codis::test::HttpClient refused(s.server.port());
  CHECK(refused.read_until_closed().ends_with("\r\n\r\n503 too many api connections, retry.\n"));
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  busy.join();
  busy2.join();
}

TEST_CASE("http server: request and idle timeouts are separate", "[http][flood]") {
  http::Router r;
  r.add("GET", "/", echo("root"));
  auto o = options("api", 0);
  o.limits.request_timeout = 300ms;
  o.limits.idle_timeout = 1500ms;
  Served s(std::move(r), o);

  const int slow = dial(s.server.port());
  const int idle = dial(s.server.port());
  Fds fds{{slow, idle}};
  send_all(slow, "GET / HTTP/1.1\r\nHo");
  const auto start = std::chrono::steady_clock::now();
  CHECK(closed_within(slow, 1200ms));  // request_timeout after its first byte
  CHECK(std::chrono::steady_clock::now() - start < 1200ms);
  CHECK_FALSE(closed_within(idle, 0ms));  // still within its idle timeout
  // A request that arrives within request_timeout, byte by byte, is served.
  codis::test::HttpClient c(s.server.port());
  for (char ch : std::string("GET / HTTP/1.1\r\nHost: a\r\n\r\n")) {
    c.send_raw(std::string_view(&ch, 1));
    std::this_thread::sleep_for(5ms);
  }
  CHECK(c.read_response().result_int() == 200);
  CHECK(closed_within(idle, 3s));  // then the idle timeout
}

// ---------------------------------------------------------------------------
// HTTPS

namespace {

// A throwaway PKI made with the openssl command line: a CA, a server
// certificate for 127.0.0.1 signed by it, one for another IP, and a second,
// unrelated CA.
struct TestPki {
  std::string dir, ca, other_ca, cert, key, wrong_ip_cert, wrong_ip_key;

  TestPki() {
    char tmpl[] = "/tmp/codis-tls-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    {
      std::ofstream cnf(dir + "/openssl.cnf");
      cnf << "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = codis test\n"
             "[ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n"
             "[server]\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1\n"
             "[wrong]\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.2\n";
    }
    const std::string q = "cd '" + dir + "' && ";
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string cmd =
        q + "openssl req -x509 -config openssl.cnf -extensions ca" + ec + " -keyout ca.key -out ca.pem -days 2" +
        " -subj /CN=codis-test-ca && " +
        "openssl req -x509 -config openssl.cnf -extensions ca" + ec +
        " -keyout other.key -out other.pem -days 2 -subj /CN=other-ca && " +
        "openssl req -new -config openssl.cnf" + ec + " -keyout server.key -out server.csr -subj /CN=server && " +
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile openssl.cnf"
        " -extensions server -out server.pem && " +
        "openssl req -new -config openssl.cnf" + ec + " -keyout wrong.key -out wrong.csr -subj /CN=wrong && " +
        "openssl x509 -req -in wrong.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile openssl.cnf"
        " -extensions wrong -out wrong.pem) >/dev/null 2>&1";
    REQUIRE(std::system(("(" + cmd).c_str()) == 0);
    ca = dir + "/ca.pem";
    other_ca = dir + "/other.pem";
    cert = dir + "/server.pem";
    key = dir + "/server.key";
    wrong_ip_cert = dir + "/wrong.pem";
    wrong_ip_key = dir + "/wrong.key";
  }
  ~TestPki() { std::filesystem::remove_all(dir); }
};

const TestPki& pki() {
  static TestPki p;
  return p;
}

http::Server::Options tls_options(const std::string& cert, const std::string& key) {
  http::Server::Options o;
  o.name = "admin";
  o.tls_cert_file = cert;
  o.tls_key_file = key;
  return o;
}

}  // namespace

TEST_CASE("https: server and client with a private CA", "[http][tls]") {
  Served s(bearer_router(), tls_options(pki().cert, pki().key));
  CHECK(s.server.secure());
  const std::string addr = "127.0.0.1:" + std::to_string(s.server.port());
  auto tls = http::load_client_tls(pki().ca);
  REQUIRE(tls);

  http::ClientOptions co;
  co.timeout = 3s;
  co.bearer = "s3cret";
  co.tls = *tls;
  for (int i = 0; i < 3; ++i) {
    auto r = http::request(addr, "GET", "/admin", "", co);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "secure");  // Request::secure
  }

  SECTION("a client trusting another CA is refused") {
    auto other = http::load_client_tls(pki().other_ca);
    REQUIRE(other);
    co.tls = *other;
    auto r = http::request(addr, "GET", "/admin", "", co);
    REQUIRE_FALSE(r);
    CHECK(r.message().find("TLS handshake with " + addr + " failed") != std::string::npos);
    CHECK(r.message().find("unable to get local issuer certificate") != std::string::npos);
  }
  SECTION("plain HTTP to the HTTPS port fails cleanly") {
    co.tls = nullptr;
    auto r = http::request(addr, "GET", "/admin", "", co);
    CHECK_FALSE(r);
    codis::test::HttpClient raw(s.server.port());
    raw.send_raw("GET /admin HTTP/1.1\r\nHost: a\r\n\r\n");
    bool timed_out = true;
    const auto got = raw.read_until_closed(timed_out, 3s);
    CHECK_FALSE(timed_out);
    CHECK(got.find("s3cret") == std::string::npos);
    CHECK(got.find("200") == std::string::npos);
  }
  SECTION("a silent client is closed after request_timeout (the handshake is part of the request)") {
    // Served with default limits above; a server with a short one here.
    auto o = tls_options(pki().cert, pki().key);
    o.limits.request_timeout = 300ms;
    Served quick(bearer_router(), o);
    const int fd = dial(quick.server.port());
    Fds fds{{fd}};
    CHECK(closed_within(fd, 2s));
  }
  // The server goes on serving after each of these.
  co.tls = *tls;
  auto again = http::request(addr, "GET", "/admin", "", co);
  REQUIRE(again);
  CHECK(again->status == 200);
}

TEST_CASE("https: the client checks the certificate's IP address", "[http][tls]") {
  Served s(bearer_router(), tls_options(pki().wrong_ip_cert, pki().wrong_ip_key));  // for 127.0.0.2
  auto tls = http::load_client_tls(pki().ca);
  REQUIRE(tls);
  http::ClientOptions co;
  co.timeout = 3s;
  co.tls = *tls;
  auto r = http::request("127.0.0.1:" + std::to_string(s.server.port()), "GET", "/admin", "", co);
  REQUIRE_FALSE(r);
  CHECK(r.message().find("IP address mismatch") != std::string::npos);
}

TEST_CASE("https: an HTTPS client against a plain HTTP server fails cleanly", "[http][tls]") {
  Served s(bearer_router());
  auto tls = http::load_client_tls(pki().ca);
  REQUIRE(tls);
  http::ClientOptions co;
  co.timeout = 3s;
  co.tls = *tls;
  auto r = http::request("127.0.0.1:" + std::to_string(s.server.port()), "GET", "/admin", "", co);
  REQUIRE_FALSE(r);
  CHECK(r.message().find("TLS handshake with") != std::string::npos);
}

TEST_CASE("https: bad certificate, key and CA files are start-up errors that name the file", "[http][tls]") {
  boost::asio::io_context io;
  auto listen_with = [&](const std::string& cert, const std::string& key) {
    http::Server server(io, bearer_router(), tls_options(cert, key));
    return server.listen("127.0.0.1:0");
  };
  auto missing = listen_with(pki().dir + "/nope.pem", pki().key);
  CHECK_FALSE(missing.ok());
  CHECK(missing.message().find("nope.pem") != std::string::npos);
  CHECK(missing.message().find("admin_tls_cert_file") != std::string::npos);

  auto not_a_key = listen_with(pki().cert, pki().cert);
  CHECK_FALSE(not_a_key.ok());
  CHECK(not_a_key.message().find("admin_tls_key_file") != std::string::npos);

  auto mismatch = listen_with(pki().cert, pki().wrong_ip_key);
  CHECK_FALSE(mismatch.ok());
  CHECK(mismatch.message().find("does not belong to the certificate") != std::string::npos);

  auto half = listen_with(pki().cert, "");
  CHECK_FALSE(half.ok());

  CHECK(http::check_server_tls(pki().cert, pki().key).ok());
  CHECK_FALSE(http::check_server_tls(pki().key, pki().key).ok());

  auto no_ca = http::load_client_tls(pki().dir + "/nope.pem");
  CHECK_FALSE(no_ca);
  CHECK(no_ca.message().find("nope.pem") != std::string::npos);
  auto key_as_ca = http::load_client_tls(pki().key);
  CHECK_FALSE(key_as_ca);
}

TEST_CASE("http client: one deadline over the whole exchange, errors name the step", "[http][client]") {
  // A peer that accepts (the kernel does) and never answers.
  const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(lfd >= 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
  REQUIRE(::listen(lfd, 8) == 0);
  socklen_t len = sizeof(sa);
  REQUIRE(::getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &len) == 0);
  Fds fds{{lfd}};
  const std::string mute = "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));

  http::ClientOptions co;
  co.timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  auto r = http::request(mute, "GET", "/", "", co);
  REQUIRE_FALSE(r);
  CHECK(r.message() == "read reply from " + mute + " timed out");
  CHECK(std::chrono::steady_clock::now() - start < 2s);

  auto tls = http::load_client_tls(pki().ca);
  REQUIRE(tls);
  co.tls = *tls;
  start = std::chrono::steady_clock::now();
  r = http::request(mute, "GET", "/", "", co);
  REQUIRE_FALSE(r);
  CHECK(r.message() == "TLS handshake with " + mute + " timed out");
  CHECK(std::chrono::steady_clock::now() - start < 2s);

  CHECK(http::request("127.0.0.1", "GET", "/", "", co).message().find("bad address") != std::string::npos);
  CHECK(http::request("127.0.0.1:99999", "GET", "/", "", co).message().find("bad address") != std::string::npos);
  CHECK(http::request(mute, "BREW", "/", "", co).message().find("unknown HTTP method") != std::string::npos);
}

TEST_CASE("http client: the request it sends", "[http][client]") {
  http::Router r;
  r.add("PUT", "/echo/:x", [](const http::Request& req) {
    std::string out = std::string(req.param("x")) + "|" + req.body + "|" + std::string(req.header("authorization")) + "|" +
                      std::string(req.header("content-type")) + "|" + std::string(req.header("user-agent"));
    return http::text(800, out);
  });
  Served s(std::move(r));
  http::ClientOptions co;
  co.bearer = "tok";
  co.user_agent = "codis-test";
  auto res = http::request("127.0.0.1:" + std::to_string(s.server.port()), "PUT", "/echo/a%3Ab", "[1]", co);
  REQUIRE(res);
  CHECK(res->status == 800);  // any status is a reply
  CHECK(res->body == "a:b|[1]|Bearer tok|application/json; charset=utf-8|codis-test");
  co.bearer.clear();
  res = http::request(":" + std::to_string(s.server.port()), "PUT", "/echo/z", "", co);  // empty host: 127.0.0.1
  REQUIRE(res);
  CHECK(res->body == "z||||codis-test");
}
