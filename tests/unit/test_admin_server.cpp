// The proxy's admin API (proxy_api.h) served by http::Server over real
// loopback sockets: Codis 3.2 routes, xauth, the Codis reply format, and
// robustness against bad clients. The proxy side is a fake AdminApi that
// records what the server asked of it.
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "admin_api.h"
#include "codis/http_server.h"
#include "http_test_client.h"
#include "proxy_api.h"

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using codis::Status;
using codis::proxy::AdminApi;
using Limits = codis::http::Server::Limits;
using Client = codis::test::HttpClient;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kXAuth = "0123456789abcdef0123456789abcdef";
constexpr const char* kBadXAuth = "ffffffffffffffffffffffffffffffff";
constexpr const char* kInvalidXAuthBody =
    "{\n    \"Cause\": \"invalid xauth, please check product name \\u0026 auth\",\n    \"Stack\": null\n}";

class FakeApi : public AdminApi {
 public:
  std::string xauth() const override { return kXAuth; }
  json overview() const override {
    record("overview");
    return {{"version", "test"}, {"model", model_json()}};
  }
  json model() const override {
    record("model");
    return model_json();
  }
  json stats(bool with_cmds) const override {
    record(with_cmds ? "stats+cmds" : "stats");
    json s = {{"online", true}, {"closed", false}};
    if (with_cmds) s["ops"]["cmd"] = json::array({{{"opstr", "GET"}, {"calls", 1}}});
    return s;
  }
  json slots() const override {
    record("slots");
    return json::array({{{"id", 0}, {"backend_addr", "127.0.0.1:6379"}}});
  }
  Status start() override { return result("start"); }
  Status fill_slots(const json& slots) override { return result("fill_slots " + std::to_string(slots.size())); }
  void reset_stats() override { record("reset_stats"); }
  Status set_log_level(std::string_view level) override { return result("loglevel " + std::string(level)); }
  Status shutdown() override {
    Status st = result("shutdown");
    std::function<void()> hook;
    {
      std::lock_guard lock(mu_);
      hook = on_shutdown_;
    }
    if (hook) hook();
    return st;
  }
  Status set_sentinels(const json& sentinel) override { return result("sentinels " + sentinel.dump()); }
  Status rewatch_sentinels() override { return result("rewatch"); }
  std::string metrics() const override {
    record("metrics");
    return "# TYPE codis_proxy_ops_total counter\ncodis_proxy_ops_total 7\n";
  }
  bool closed() const override {
    std::lock_guard lock(mu_);
    return closed_;
  }

  std::vector<std::string> take_calls() {
    std::lock_guard lock(mu_);
    return std::exchange(calls_, {});
  }
  void fail_with(std::optional<std::string> error) {
    std::lock_guard lock(mu_);
    error_ = std::move(error);
  }
  void set_closed(bool c) {
    std::lock_guard lock(mu_);
    closed_ = c;
  }
  void on_shutdown(std::function<void()> hook) {
    std::lock_guard lock(mu_);
    on_shutdown_ = std::move(hook);
  }

 private:
  static json model_json() { return {{"token", "t0k"}, {"admin_addr", "a<b&c>"}}; }
  void record(std::string call) const {
    std::lock_guard lock(mu_);
    calls_.push_back(std::move(call));
  }
  Status result(std::string call) {
    record(std::move(call));
    std::lock_guard lock(mu_);
    return error_ ? Status::Error(*error_) : Status::Ok();
  }

  mutable std::mutex mu_;
  mutable std::vector<std::string> calls_;
  std::optional<std::string> error_;
  bool closed_ = false;
  std::function<void()> on_shutdown_;
};

// The proxy's admin server as proxy.cpp builds it, over `api`.
// Codis compatibility (admin_compat_xauth) unless `strict`.
constexpr const char* kAdminSecret = "unit-admin-secret";
codis::http::Server admin_server(asio::io_context& io, AdminApi& api, Limits limits = {}, bool strict = false) {
  codis::http::Server::Options options;
  options.name = "admin";
  options.limits = limits;
  codis::rpc::Security security;
  security.admin_secret = kAdminSecret;
  security.compat_xauth = !strict;
  return codis::http::Server(io, codis::proxy::make_proxy_router(api, security).http_router(), options);
}

// The server on 127.0.0.1:0 with its own io_context and thread.
struct TestServer {
  explicit TestServer(Limits limits = {}, bool strict = false) : server(admin_server(io, api, limits, strict)) {
    Status st = server.listen("127.0.0.1:0");
    REQUIRE(st.ok());
    REQUIRE(server.port() != 0);
    thread = std::thread([this] { io.run(); });
  }
  ~TestServer() { stop(); }
  void stop() {
    server.stop();
    if (thread.joinable()) thread.join();
  }

  asio::io_context io;
  FakeApi api;
  codis::http::Server server;
  std::thread thread;
};

std::string x(const std::string& route) { return route + kXAuth; }
std::string bad(const std::string& route) { return route + kBadXAuth; }

std::string slots_json(int n) {
  json slots = json::array();
  for (int i = 0; i < n; ++i) {
    slots.push_back({{"id", i},
                     {"locked", false},
                     {"backend_addr", "127.0.0.1:6379"},
                     {"backend_addr_group_id", 1},
                     {"migrate_from", ""},
                     {"migrate_from_group_id", 0},
                     {"forward_method", 1},
                     {"replica_groups", json::array()}});
  }
  return slots.dump(4);
}

}  // namespace

TEST_CASE("admin server: read-only routes need no xauth and use Go's JSON format", "[admin]") {
  TestServer s;
  Client c(s.server.port());

  auto r = c.get("/proxy/model");
  CHECK(r.result_int() == 200);
  CHECK(r[http::field::content_type] == "application/json; charset=utf-8");
  // json.MarshalIndent(v, "", "    "), with Go's HTML escaping.
  CHECK(r.body() == "{\n    \"admin_addr\": \"a\\u003cb\\u0026c\\u003e\",\n    \"token\": \"t0k\"\n}");
  CHECK(json::parse(r.body())["admin_addr"] == "a<b&c>");

  CHECK(c.get("/api/proxy/model").result_int() == 200);
  CHECK(json::parse(c.get("/proxy").body())["version"] == "test");
  CHECK(json::parse(c.get("/proxy/stats").body())["ops"]["cmd"].size() == 1);  // StatsFull
  CHECK(json::parse(c.get("/proxy/slots").body()).size() == 1);
  CHECK(json::parse(c.get("/proxy/?a=b").body())["version"] == "test");  // trailing slash, query
  CHECK(s.api.take_calls() == std::vector<std::string>{"model", "model", "overview", "stats+cmds", "slots", "overview"});

  r = c.get("/");
  CHECK(r.result_int() == 302);
  CHECK(r[http::field::location] == "/proxy");

  r = c.get("/metrics");
  CHECK(r.result_int() == 200);
  CHECK(std::string(r[http::field::content_type]).starts_with("text/plain; version=0.0.4"));
  CHECK(r.body().find("codis_proxy_ops_total 7\n") != std::string::npos);
}

TEST_CASE("admin server: without admin_compat_xauth, tokens and changes need the admin secret", "[admin]") {
  TestServer s({}, /*strict=*/true);
  Client c(s.server.port());
  // What Codis served to anyone holds the token: 401, and the proxy is not asked.
  for (const char* path : {"/proxy", "/proxy/model", "/proxy/stats", "/proxy/slots", "/api/proxy/model"}) {
    auto r = c.get(path);
    INFO(path);
    CHECK(r.result_int() == 401);
    CHECK(r.body().find("t0k") == std::string::npos);
    CHECK(r[http::field::www_authenticate] == "Bearer realm=\"codis\"");
  }
  CHECK(c.put(x("/api/proxy/fillslots/"), slots_json(1)).result_int() == 401);
  CHECK(c.put(x("/api/proxy/shutdown/")).result_int() == 401);
  CHECK(s.api.take_calls().empty());
  CHECK(c.get("/health").result_int() == 200);
  CHECK(c.get("/metrics").result_int() == 200);
  CHECK(s.api.take_calls() == std::vector<std::string>{"metrics"});

  c.authorization = "Bearer wrong";
  CHECK(c.put(x("/api/proxy/loglevel/") + "/debug").result_int() == 401);
  CHECK(s.api.take_calls().empty());

  c.authorization = std::string("Bearer ") + kAdminSecret;
  CHECK(c.get("/proxy/model").result_int() == 200);
  CHECK(c.put(bad("/api/proxy/fillslots/"), slots_json(1)).result_int() == 200);  // the secret, not the xauth
  CHECK(s.api.take_calls() == std::vector<std::string>{"model", "fill_slots 1"});
}

TEST_CASE("admin server: xauth routes call the proxy with the right xauth", "[admin]") {
  TestServer s;
  Client c(s.server.port());
  auto ok = [](const http::response<http::string_body>& r) {
    CHECK(r.result_int() == 200);
    CHECK(r.body() == "\"OK\"");
  };

  ok(c.get(x("/api/proxy/xping/")));
  CHECK(s.api.take_calls().empty());

  auto r = c.get(x("/api/proxy/stats/"));
  CHECK(r.result_int() == 200);
  CHECK_FALSE(json::parse(r.body())["ops"].contains("cmd"));
  CHECK(json::parse(c.get(x("/api/proxy/stats/") + "/1").body())["ops"]["cmd"].size() == 1);
  c.get(x("/api/proxy/stats/") + "/0");
  c.get(x("/api/proxy/stats/") + "/6");   // slots + runtime bits, no cmds
  c.get(x("/api/proxy/stats/") + "/-1");  // StatsFull as Go prints it signed
  CHECK(json::parse(c.get(x("/api/proxy/slots/")).body())[0]["backend_addr"] == "127.0.0.1:6379");
  CHECK(s.api.take_calls() == std::vector<std::string>{"stats", "stats+cmds", "stats", "stats", "stats+cmds", "slots"});

  r = c.get(x("/api/proxy/stats/") + "/abc");
  CHECK(r.result_int() == 800);
  CHECK(json::parse(r.body())["Cause"] == "strconv.Atoi: parsing \"abc\": invalid syntax");
  CHECK(s.api.take_calls().empty());

  ok(c.put(x("/api/proxy/start/")));
  ok(c.put(x("/api/proxy/stats/reset/")));
  ok(c.put(x("/api/proxy/forcegc/")));
  ok(c.put(x("/api/proxy/loglevel/") + "/WARN"));
  ok(c.put(x("/api/proxy/sentinels/"), R"({"servers":["127.0.0.1:26379"],"out_of_sync":false})"));
  ok(c.put(x("/api/proxy/sentinels/") + "/rewatch"));
  ok(c.put(x("/api/proxy/shutdown/")));
  CHECK(s.api.take_calls() ==
        std::vector<std::string>{"start", "reset_stats", "loglevel WARN",
                                 R"(sentinels {"out_of_sync":false,"servers":["127.0.0.1:26379"]})", "rewatch",
                                 "shutdown"});
}

TEST_CASE("admin server: a wrong xauth gets Codis's error and changes nothing", "[admin]") {
  TestServer s;
  Client c(s.server.port());
  const std::vector<std::pair<http::verb, std::string>> routes = {
      {http::verb::get, bad("/api/proxy/xping/")},
      {http::verb::get, bad("/api/proxy/stats/")},
      {http::verb::get, bad("/api/proxy/stats/") + "/1"},
      {http::verb::get, bad("/api/proxy/slots/")},
      {http::verb::put, bad("/api/proxy/start/")},
      {http::verb::put, bad("/api/proxy/stats/reset/")},
      {http::verb::put, bad("/api/proxy/forcegc/")},
      {http::verb::put, bad("/api/proxy/shutdown/")},
      {http::verb::put, bad("/api/proxy/loglevel/") + "/DEBUG"},
      {http::verb::put, bad("/api/proxy/fillslots/")},
      {http::verb::put, bad("/api/proxy/sentinels/")},
      {http::verb::put, bad("/api/proxy/sentinels/") + "/rewatch"},
      {http::verb::put, "/api/proxy/start/short"},
  };
  for (const auto& [verb, target] : routes) {
    INFO(target);
    auto r = c.request(verb, target, verb == http::verb::put ? "[]" : "");
    CHECK(r.result_int() == 800);
    CHECK(r.reason() == "status code 800");
    CHECK(r[http::field::content_type] == "application/json; charset=utf-8");
    CHECK(r.body() == kInvalidXAuthBody);
  }
  CHECK(s.api.take_calls().empty());

  // A closed proxy refuses before looking at the xauth, like Codis.
  s.api.set_closed(true);
  auto r = c.put(x("/api/proxy/start/"));
  CHECK(r.result_int() == 800);
  CHECK(json::parse(r.body())["Cause"] == "use of closed proxy");
  CHECK(s.api.take_calls().empty());
}

TEST_CASE("admin server: proxy errors become Codis remote errors", "[admin]") {
  TestServer s;
  Client c(s.server.port());
  s.api.fail_with("invalid loglevel");
  auto r = c.put(x("/api/proxy/loglevel/") + "/NOISY");
  CHECK(r.result_int() == 800);
  CHECK(r.body() == "{\n    \"Cause\": \"invalid loglevel\",\n    \"Stack\": null\n}");
  s.api.fail_with("slot-0001 is locked");
  CHECK(c.put(x("/api/proxy/start/")).result_int() == 800);
  CHECK(s.api.take_calls() == std::vector<std::string>{"loglevel NOISY", "start"});
}

TEST_CASE("admin server: fillslots and sentinels bodies", "[admin]") {
  TestServer s;
  Client c(s.server.port());

  auto r = c.put(x("/api/proxy/fillslots/"), slots_json(1024));
  CHECK(r.result_int() == 200);
  CHECK(r.body() == "\"OK\"");
  CHECK(c.put(x("/api/proxy/fillslots/")).result_int() == 200);  // empty body: no slots, as in Codis
  CHECK(c.put(x("/api/proxy/fillslots/"), "null").result_int() == 200);
  CHECK(s.api.take_calls() == std::vector<std::string>{"fill_slots 1024", "fill_slots 0", "fill_slots 0"});

  for (const std::string body : {"[{\"id\": 1,", "{\"id\": 1}", "garbage", "[1] 2"}) {
    INFO(body);
    r = c.put(x("/api/proxy/fillslots/"), body);
    CHECK(r.result_int() == 800);
    CHECK(json::parse(r.body())["Cause"].get<std::string>().starts_with("invalid json body"));
  }
  r = c.put(x("/api/proxy/sentinels/"), "[\"127.0.0.1:26379\"]");
  CHECK(r.result_int() == 800);
  r = c.put(x("/api/proxy/sentinels/"), "{");
  CHECK(r.result_int() == 800);
  CHECK(s.api.take_calls().empty());
}

TEST_CASE("admin server: unknown paths and wrong verbs", "[admin]") {
  TestServer s;
  Client c(s.server.port());
  CHECK(c.get("/nope").result_int() == 404);
  CHECK(c.get("/api/proxy/xping/").result_int() == 404);  // missing xauth segment
  CHECK(c.get(x("/api/proxy/xping/") + "/extra").result_int() == 404);
  CHECK(c.get("/proxy//model").result_int() == 404);

  auto r = c.get(x("/api/proxy/start/"));
  CHECK(r.result_int() == 405);
  CHECK(r[http::field::allow] == "PUT");
  r = c.request(http::verb::post, x("/api/proxy/fillslots/"), "[]");
  CHECK(r.result_int() == 405);
  r = c.request(http::verb::delete_, "/proxy");
  CHECK(r.result_int() == 405);
  CHECK(r[http::field::allow] == "GET");
  CHECK(c.request(http::verb::put, "/metrics").result_int() == 405);
  CHECK(s.api.take_calls().empty());
}

TEST_CASE("admin server: keep-alive serves several requests on one connection", "[admin]") {
  TestServer s;
  Client c(s.server.port());
  for (int i = 0; i < 5; ++i) {
    CHECK(c.get(x("/api/proxy/xping/")).result_int() == 200);
    CHECK(c.put(x("/api/proxy/start/")).keep_alive());
  }
  // Two pipelined requests in one write are answered in order.
  c.send_raw("GET /proxy/model HTTP/1.1\r\nHost: a\r\n\r\nGET /nope HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(c.read_response().result_int() == 200);
  CHECK(c.read_response().result_int() == 404);

  auto r = c.request(http::verb::get, "/proxy/model", "", /*keep_alive=*/false);
  CHECK(r.result_int() == 200);
  CHECK_FALSE(r.keep_alive());
  CHECK(c.read_until_closed().empty());  // the server closed its side
}

TEST_CASE("admin server: survives bad clients", "[admin]") {
  Limits limits;
  limits.max_body_bytes = 1024;
  limits.max_header_bytes = 4096;
  TestServer s(limits);

  SECTION("garbage bytes") {
    Client bad_client(s.server.port());
    bad_client.send_raw(std::string_view("\x16\x03\x01\x02\x00garbage\r\n\r\n", 16));
    CHECK(bad_client.read_until_closed().starts_with("HTTP/1.1 400"));
  }
  SECTION("a request cut off mid-body, then close") {
    Client bad_client(s.server.port());
    bad_client.send_raw(std::string("PUT /api/proxy/fillslots/") + kXAuth +
                        " HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n[{\"id\":");
    bad_client.close();
  }
  SECTION("a request cut off mid-header, then close") {
    Client bad_client(s.server.port());
    bad_client.send_raw("GET /proxy HTTP/1.1\r\nHo");
    bad_client.close();
  }
  SECTION("huge headers") {
    Client bad_client(s.server.port());
    bad_client.send_raw("GET /proxy HTTP/1.1\r\nX-Big: " + std::string(8192, 'a') + "\r\n\r\n");
    CHECK(bad_client.read_until_closed().starts_with("HTTP/1.1 431"));
  }
  SECTION("a body over the limit") {
    Client bad_client(s.server.port());
    auto big = slots_json(64);
    REQUIRE(big.size() > limits.max_body_bytes);
    bad_client.send_raw(std::string("PUT /api/proxy/fillslots/") + kXAuth +
                        " HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(big.size()) + "\r\n\r\n");
    CHECK(bad_client.read_until_closed().starts_with("HTTP/1.1 413"));
  }
  SECTION("bad chunked encoding") {
    Client bad_client(s.server.port());
    bad_client.send_raw("PUT /api/proxy/fillslots/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    CHECK(bad_client.read_until_closed().starts_with("HTTP/1.1 400"));
  }
  SECTION("a malformed percent-encoding") {
    Client bad_client(s.server.port());
    CHECK(bad_client.get("/proxy%zz").result_int() == 400);
  }

  // Whatever happened before, the server still answers and nothing was called.
  Client c(s.server.port());
  CHECK(c.get(x("/api/proxy/xping/")).result_int() == 200);
  CHECK(s.api.take_calls().empty());
}

TEST_CASE("admin server: a request arriving one byte at a time", "[admin]") {
  TestServer s;
  Client c(s.server.port());
  const std::string body = slots_json(2);
  const std::string request = std::string("PUT /api/proxy/fillslots/") + kXAuth +
                              " HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(body.size()) +
                              "\r\n\r\n" + body;
  for (char ch : request) c.send_raw(std::string_view(&ch, 1));
  CHECK(c.read_response().result_int() == 200);
  CHECK(s.api.take_calls() == std::vector<std::string>{"fill_slots 2"});
  // HEAD is not a Codis route; the reply must not carry a body that would
  // corrupt the next response on this connection.
  c.send_raw("HEAD /proxy HTTP/1.1\r\nHost: a\r\n\r\n");
  bool timed_out = false;
  auto raw = c.read_until_closed(timed_out, 500ms);
  CHECK(raw.starts_with("HTTP/1.1 405"));
  CHECK(raw.ends_with("\r\n\r\n"));
}

TEST_CASE("admin server: Expect 100-continue", "[admin]") {
  TestServer s;
  Client c(s.server.port());
  const std::string body = "[]";
  c.send_raw(std::string("PUT /api/proxy/fillslots/") + kXAuth +
             " HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
  auto r = c.read_response();  // the interim reply comes before we send the body
  CHECK(r.result_int() == 100);
  c.send_raw(body);
  r = c.read_response();
  CHECK(r.result_int() == 200);
  CHECK(s.api.take_calls() == std::vector<std::string>{"fill_slots 0"});
}

TEST_CASE("admin server: idle connections time out; at the cap the oldest idle one makes room", "[admin]") {
  Limits limits;
  limits.idle_timeout = 300ms;
  limits.max_connections = 2;
  TestServer s(limits);

  Client a(s.server.port());
  Client b(s.server.port());
  CHECK(a.get("/proxy/model").result_int() == 200);  // both are being served
  CHECK(b.get("/proxy/model").result_int() == 200);
  Client third(s.server.port());  // over the cap: a, the oldest idle connection, is closed for it
  CHECK(third.get("/proxy/model").result_int() == 200);
  bool timed_out = true;
  CHECK(a.read_until_closed(timed_out, 3s).empty());
  CHECK_FALSE(timed_out);

  b.read_until_closed(timed_out, 3s);  // closed by the server's idle timeout
  CHECK_FALSE(timed_out);
  third.read_until_closed(timed_out, 3s);
  CHECK_FALSE(timed_out);
  Client fourth(s.server.port());
  CHECK(fourth.get("/proxy/model").result_int() == 200);
}

TEST_CASE("admin server: listen errors, stop with clients connected, stop from a handler", "[admin]") {
  SECTION("a taken port and bad addresses are reported") {
    TestServer s;
    asio::io_context io;
    FakeApi api;
    auto other = admin_server(io, api);
    Status st = other.listen("127.0.0.1:" + std::to_string(s.server.port()));
    CHECK_FALSE(st.ok());
    CHECK(st.message().find("cannot listen") != std::string::npos);
    auto third = admin_server(io, api);
    CHECK_FALSE(third.listen("127.0.0.1").ok());
    CHECK_FALSE(third.listen("127.0.0.1:99999").ok());
    CHECK_FALSE(third.listen("127.0.0.1:http").ok());
  }
  SECTION("stop() closes idle clients and the io thread ends") {
    TestServer s;
    Client idle(s.server.port());
    Client used(s.server.port());
    CHECK(used.get("/proxy/model").result_int() == 200);
    s.stop();  // joins the thread: it must end although clients are connected
    CHECK(used.read_until_closed().empty());
    CHECK(idle.read_until_closed().empty());
  }
  SECTION("shutdown handler stopping the server still gets its reply out") {
    TestServer s;
    s.api.on_shutdown([&] { s.server.stop(); });
    Client c(s.server.port());
    auto r = c.put(x("/api/proxy/shutdown/"));
    CHECK(r.result_int() == 200);
    CHECK(r.body() == "\"OK\"");
    CHECK(c.read_until_closed().empty());
    s.thread.join();  // the io_context ran out of work by itself
  }
  SECTION("destroying a running server does not crash") {
    asio::io_context io;
    FakeApi api;
    std::thread t;
    {
      auto server = admin_server(io, api);
      REQUIRE(server.listen("127.0.0.1:0").ok());
      t = std::thread([&] { io.run(); });
      Client c(server.port());
      CHECK(c.get("/proxy/model").result_int() == 200);
    }
    t.join();
  }
}
