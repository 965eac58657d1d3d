// Unit tests of the dashboard's pure parts: dashboard.toml parsing and the
// Codis rpc router (xauth, errors, path parameters), without sockets.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <unistd.h>

#include "codis/coordinator.h"
#include "codis/dashboard_config.h"
#include "codis/sha256.h"
#include "codis/codis_api.h"
#include "topom.h"
#include "topom_api.h"
#include "clients.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

using Call = codis::http::Request;
using HttpReply = codis::http::Reply;
using codis::rpc::Route;
using codis::rpc::Router;
using nlohmann::json;

TEST_CASE("dashboard.toml: defaults are Codis's") {
  auto c = codis::parse_dashboard_config("");
  REQUIRE(c.ok());
  CHECK(c->coordinator_name == "filesystem");
  CHECK(c->admin_addr == "0.0.0.0:18080");
  CHECK(c->migration_method == "semi-async");
  CHECK(c->migration_async_maxbytes == 32u << 20);
  CHECK(c->migration_timeout == std::chrono::seconds(30));
  CHECK(c->sentinel_failover_timeout == std::chrono::minutes(5));
  auto again = codis::parse_dashboard_config(codis::default_dashboard_config_text());
  REQUIRE(again.ok());
  CHECK(*again == *c);
}

TEST_CASE("dashboard.toml: values and errors name the line and key") {
  auto c = codis::parse_dashboard_config(
      "coordinator_name = \"zookeeper\"\ncoordinator_addr = \"127.0.0.1:2181\"\n"
      "product_name = \"p\"\nmigration_async_maxbytes = \"1mb\"\nmigration_timeout = 10\n");
  REQUIRE(c.ok());
  CHECK(c->migration_async_maxbytes == 1u << 20);
  CHECK(c->migration_timeout == std::chrono::seconds(10));

  auto unknown = codis::parse_dashboard_config("product_name = \"p\"\nno_such_key = 1\n");
  REQUIRE(!unknown.ok());
  CHECK(unknown.message().find("line 2") != std::string::npos);
  CHECK(unknown.message().find("no_such_key") != std::string::npos);
  CHECK(!codis::parse_dashboard_config("migration_method = \"fast\"\n").ok());
  CHECK(!codis::parse_dashboard_config("coordinator_name = \"consul\"\n").ok());
  CHECK(codis::parse_dashboard_config("coordinator_name = \"etcd\"\ncoordinator_addr = \"127.0.0.1:2379\"\n").ok());
  // TLS to the coordinator: etcd only, the CA needed, certificate and key together.
  CHECK(!codis::parse_dashboard_config("coordinator_name = \"zookeeper\"\ncoordinator_tls_ca_file = \"ca.pem\"\n").ok());
  CHECK(!codis::parse_dashboard_config("coordinator_name = \"etcd\"\ncoordinator_tls_cert_file = \"c.pem\"\n"
                                       "coordinator_tls_key_file = \"k.pem\"\n").ok());
  CHECK(!codis::parse_dashboard_config("coordinator_name = \"etcd\"\ncoordinator_tls_ca_file = \"ca.pem\"\n"
                                       "coordinator_tls_cert_file = \"c.pem\"\n").ok());
  CHECK(codis::parse_dashboard_config("coordinator_name = \"etcd\"\ncoordinator_tls_ca_file = \"ca.pem\"\n").ok());
  CHECK(!codis::parse_dashboard_config("migration_timeout = \"soon\"\n").ok());
  CHECK(!codis::parse_dashboard_config("migration_parallel_slots = 0\n").ok());
  CHECK(!codis::parse_dashboard_config("product_name = \"a/b\"\n").ok());
  CHECK(!codis::parse_dashboard_config("product_name = 3\n").ok());
}

namespace {

using codis::rpc::Access;

Router test_router(bool* closed, bool compat = true) {
  Router r;
  r.security.admin_secret = "s3cret-admin";
  r.security.compat_xauth = compat;
  r.xauth = [] { return codis::codis_xauth({"demo"}); };
  r.closed = [closed] { return *closed; };
  r.closed_error = "use of closed topom";
  r.routes.push_back(Route{"GET", "/api/topom/model", Access::kCodisOpen, [](const Call&) { return codis::rpc::json_ok(json{{"a", 1}}); }});
  r.routes.push_back(Route{"PUT", "/api/topom/group/add/:xauth/:gid/:addr", Access::kAdmin, [](const Call& c) {
                             return codis::rpc::json_ok(json{{"gid", c.param("gid")}, {"addr", c.param("addr")}});
                           }});
  r.routes.push_back(Route{"PUT", "/api/topom/throw/:xauth", Access::kAdmin,
                           [](const Call&) -> HttpReply { throw std::runtime_error("boom"); }});
  r.routes.push_back(Route{"GET", "/metrics", Access::kMetrics, [](const Call& c) {
                             return codis::http::text(200, "m " + c.user);
                           }});
  r.routes.push_back(Route{"GET", "/health", Access::kOpen, [](const Call&) { return codis::http::text(200, "OK"); }});
  return r;
}

json body(const HttpReply& r) { return json::parse(r.body); }

}  // namespace

TEST_CASE("router: xauth, parameters, Codis errors") {
  bool closed = false;
  const Router r = test_router(&closed);
  const std::string x = codis::codis_xauth({"demo"});

  auto ok = r.dispatch("PUT", "/api/topom/group/add/" + x + "/3/127.0.0.1%3A6379", "", "t");
  REQUIRE(ok.status == 200);
  CHECK(body(ok) == json{{"gid", "3"}, {"addr", "127.0.0.1:6379"}});
  CHECK(ok.body.find("\n    \"addr\"") != std::string::npos);  // Go's 4-space indent

  auto bad = r.dispatch("PUT", "/api/topom/group/add/" + std::string(32, '0') + "/3/a:1", "", "t");
  CHECK(bad.status == 800);
  CHECK(body(bad) == json{{"Cause", "invalid xauth, please check product name & auth"}, {"Stack", nullptr}});
  CHECK(bad.body.find("\\u0026") != std::string::npos);  // Go escapes '&'

  CHECK(r.dispatch("GET", "/api/topom/group/add/" + x + "/3/a:1", "", "t").status == 405);
  CHECK(r.dispatch("GET", "/api/topom/nothing", "", "t").status == 404);
  CHECK(r.dispatch("GET", "/api/topom/model/", "", "t").status == 200);  // one trailing slash is fine
  auto thrown = r.dispatch("PUT", "/api/topom/throw/" + x, "", "t");
  CHECK(thrown.status == 800);
  CHECK(body(thrown)["Cause"] == "internal error: boom");

  closed = true;
  auto c = r.dispatch("PUT", "/api/topom/group/add/" + x + "/3/a:1", "", "t");
  CHECK(body(c)["Cause"] == "use of closed topom");
  CHECK(r.dispatch("GET", "/api/topom/model", "", "t").status == 200);  // no xauth: still served
}

TEST_CASE("router: the admin secret, not Codis's xauth, unless admin_compat_xauth") {
  bool closed = false;
  Router r = test_router(&closed, /*compat=*/false);
  const std::string x = codis::codis_xauth({"demo"});
  const codis::http::Headers admin{{"authorization", "Bearer s3cret-admin"}};
  const std::string add = "/api/topom/group/add/" + x + "/3/a:1";

  // Codis's xauth alone (computable from the product name) is refused: 401.
  auto anon = r.dispatch("PUT", add, "", "t");
  CHECK(anon.status == 401);
  CHECK(body(anon)["Cause"].get<std::string>().find("authentication required") != std::string::npos);
  CHECK(r.dispatch("GET", "/api/topom/model", "", "t").status == 401);  // Codis's open read holds tokens
  // A wrong secret, another scheme, an empty bearer: 401, whatever the xauth.
  for (const char* v : {"Bearer s3cret-admin2", "Bearer s3cret-admi", "Basic s3cret-admin", "Bearer ", "s3cret-admin"}) {
    INFO(v);
    CHECK(r.dispatch("PUT", add, "", "t", {{"Authorization", v}}).status == 401);
  }
  // The secret works with any xauth segment, and the handler learns who called.
  CHECK(r.dispatch("PUT", add, "", "t", admin).status == 200);
  CHECK(r.dispatch("PUT", "/api/topom/group/add/whatever/3/a:1", "", "t", admin).status == 200);
  CHECK(r.dispatch("GET", "/api/topom/model", "", "t", {{"AUTHORIZATION", "bearer s3cret-admin"}}).status == 200);
  // Open routes stay open; /metrics is open until metrics_auth is set.
  CHECK(r.dispatch("GET", "/health", "", "t").status == 200);
  CHECK(r.dispatch("GET", "/metrics", "", "t").status == 200);
  r.security.metrics_secret = "prom";
  CHECK(r.dispatch("GET", "/metrics", "", "t").status == 401);
  CHECK(r.dispatch("GET", "/metrics", "", "t", {{"Authorization", "Bearer prom"}}).body == "m metrics");
  CHECK(r.dispatch("GET", "/metrics", "", "t", admin).body == "m admin");
  CHECK(r.dispatch("PUT", add, "", "t", {{"Authorization", "Bearer prom"}}).status == 401);  // metrics only

  // Every mutating call reaches the audit hook, refused ones too.
  std::vector<codis::rpc::AuditEvent> audit;
  r.security.audit = [&](const codis::rpc::AuditEvent& e) { audit.push_back(e); };
  r.dispatch("PUT", add, "", "10.0.0.9:555", admin);
  r.dispatch("PUT", add, "", "10.0.0.8:556");
  r.dispatch("GET", "/api/topom/model", "", "t", admin);
  REQUIRE(audit.size() == 2);
  CHECK(audit[0].user == "admin");
  CHECK(audit[0].ok);
  CHECK(audit[0].remote == "10.0.0.9:555");
  CHECK(audit[0].route == "/api/topom/group/add/:xauth/3/a:1");  // never the xauth itself
  CHECK(!audit[1].ok);
  CHECK(audit[1].user.empty());

  // A UI session: valid for reads; a mutating call without CSRF is refused with the session's reason.
  r.security.session = [](const codis::http::Request& q, bool mutating) {
    codis::rpc::SessionCheck s;
    s.present = q.header("Cookie") == "s=1";
    if (!s.present) return s;
    if (mutating && q.header("X-CSRF-Token") != "tok") {
      s.error = "missing CSRF token";
    } else {
      s.user = "ops";
    }
    return s;
  };
  CHECK(r.dispatch("GET", "/api/topom/model", "", "t", {{"Cookie", "s=1"}}).status == 200);
  auto nocsrf = r.dispatch("PUT", add, "", "t", {{"Cookie", "s=1"}});
  CHECK(nocsrf.status == 401);
  CHECK(body(nocsrf)["Cause"] == "missing CSRF token");
  CHECK(r.dispatch("PUT", add, "", "t", {{"Cookie", "s=1"}, {"X-CSRF-Token", "tok"}}).status == 200);
  CHECK(audit.back().user == "ops");

  // Compat mode: Codis's xauth is enough, a wrong one is Codis's 800, the secret still works.
  Router c = test_router(&closed, /*compat=*/true);
  CHECK(c.dispatch("PUT", add, "", "t").status == 200);
  CHECK(c.dispatch("GET", "/api/topom/model", "", "t").status == 200);
  CHECK(c.dispatch("PUT", "/api/topom/group/add/whatever/3/a:1", "", "t").status == 800);
  CHECK(c.dispatch("PUT", "/api/topom/group/add/whatever/3/a:1", "", "t", admin).status == 200);
  CHECK(c.dispatch("PUT", add, "", "t", {{"Authorization", "Bearer nope"}}).status == 401);
}

TEST_CASE("topom routes: every Codis 3.2 group/sentinel route is bound") {
  const auto dir = std::filesystem::temp_directory_path() / ("codis-dash-unit-" + std::to_string(::getpid()));
  auto coord = codis::connect_coordinator("filesystem", dir.string());
  REQUIRE(coord.ok());
  codis::DashboardConfig config;
  config.product_name = "unit";
  {
    codis::dashboard::Topom topom(config, std::move(*coord));
    codis::rpc::Security compat;
    compat.admin_secret = "s3cret";
    compat.compat_xauth = true;
    Router r = codis::dashboard::make_topom_router(topom, nullptr, compat);
    const std::string wrong(32, '0');
    // A wrong xauth is refused by a matched route (800), never 404/405.
    for (const std::string p : {"group/replica-groups/X/1/127.0.0.1%3A6379/1", "group/replica-groups-all/X/1",
                                "group/action/create/X/127.0.0.1%3A6379", "group/action/remove/X/127.0.0.1%3A6379",
                                "sentinels/add/X/127.0.0.1%3A26379", "sentinels/del/X/127.0.0.1%3A26379/1",
                                "sentinels/resync-all/X", "group/add/X/1/127.0.0.1%3A6379"}) {
      std::string target = "/api/topom/" + p;
      target.replace(target.find("/X"), 2, "/" + wrong);
      auto rep = r.dispatch("PUT", target, "", "t");
      INFO(target << " -> " << rep.status << " " << rep.body);
      CHECK(rep.status == codis::rpc::kErrorStatus);
      CHECK(rep.body.find("invalid xauth") != std::string::npos);
    }
    // Parameter errors name the parameter (Codis's parseInteger).
    const std::string x = topom.xauth();
    auto bad = r.dispatch("PUT", "/api/topom/group/replica-groups-all/" + x + "/yes", "", "t");
    CHECK(bad.body.find("invalid value") != std::string::npos);
    auto missing = r.dispatch("PUT", "/api/topom/group/replica-groups/" + x + "/1/a%3A1/1", "", "t");
    CHECK(missing.body.find("group-[1] doesn't exist") != std::string::npos);
    CHECK(r.dispatch("PUT", "/api/topom/group/replica-groups-all/" + x + "/1", "", "t").status == 200);
    auto del = r.dispatch("PUT", "/api/topom/sentinels/del/" + x + "/a%3A1/0", "", "t");
    CHECK(del.body.find("sentinel-[a:1] not found") != std::string::npos);
    // group/info and sentinels/info are GETs without xauth, as in Codis, but
    // they connect only to servers and sentinels of the topology.
    for (const char* path : {"/api/topom/group/info/127.0.0.1%3A1", "/api/topom/sentinels/info/127.0.0.1%3A1",
                             "/api/topom/sentinels/info/127.0.0.1%3A1/monitored"}) {
      auto rep = r.dispatch("GET", path, "", "t");
      INFO(path << " -> " << rep.body);
      CHECK(rep.status == 800);
      CHECK((rep.body.find("is not in any group") != std::string::npos ||
             rep.body.find("is not a sentinel of this cluster") != std::string::npos));
    }
    // Without compat mode, the same routes need the secret.
    codis::rpc::Security strict;
    strict.admin_secret = "s3cret";
    Router s = codis::dashboard::make_topom_router(topom, nullptr, strict);
    CHECK(s.dispatch("GET", "/api/topom/group/info/127.0.0.1%3A1", "", "t").status == 401);
    CHECK(s.dispatch("GET", "/topom", "", "t").status == 401);
    CHECK(s.dispatch("GET", "/topom/stats", "", "t").status == 401);
    CHECK(s.dispatch("PUT", "/api/topom/group/create/" + x + "/9", "", "t").status == 401);
    CHECK(s.dispatch("GET", "/health", "", "t").status == 200);
    CHECK(s.dispatch("GET", "/topom", "", "t", {{"Authorization", "Bearer s3cret"}}).status == 200);
    topom.close();
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("RedisClient: a server that never answers is a timeout (Code::kTimeout), not a text to match") {
  // A listening socket nobody reads from: the connect succeeds, AUTH's reply never comes.
  const int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(lfd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(lfd, 4) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  const std::string addr = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  auto c = codis::dashboard::RedisClient::connect(addr, "secret", std::chrono::milliseconds(200));
  CHECK_FALSE(c.ok());
  CHECK(c.code() == codis::Code::kTimeout);
  CHECK(c.message().find(addr) != std::string::npos);
  ::close(lfd);
  // Nothing listening: refused, which is not a timeout.
  auto refused = codis::dashboard::RedisClient::connect(addr, "", std::chrono::milliseconds(200));
  CHECK_FALSE(refused.ok());
  CHECK(refused.code() == codis::Code::kRefused);
}
