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
  CHECK(!codis::parse_dashboard_config("coordinator_name = \"etcd\"\n").ok());
  CHECK(!codis::parse_dashboard_config("migration_timeout = \"soon\"\n").ok());
  CHECK(!codis::parse_dashboard_config("migration_parallel_slots = 0\n").ok());
  CHECK(!codis::parse_dashboard_config("product_name = \"a/b\"\n").ok());
  CHECK(!codis::parse_dashboard_config("product_name = 3\n").ok());
}

namespace {

Router test_router(bool* closed) {
  Router r;
  r.xauth = [] { return codis::codis_xauth({"demo"}); };
  r.closed = [closed] { return *closed; };
  r.closed_error = "use of closed topom";
  r.routes.push_back(Route{"GET", "/api/topom/model", false, [](const Call&) { return codis::rpc::json_ok(json{{"a", 1}}); }});
  r.routes.push_back(Route{"PUT", "/api/topom/group/add/:xauth/:gid/:addr", true, [](const Call& c) {
                             return codis::rpc::json_ok(json{{"gid", c.param("gid")}, {"addr", c.param("addr")}});
                           }});
  r.routes.push_back(Route{"PUT", "/api/topom/throw/:xauth", true,
                           [](const Call&) -> HttpReply { throw std::runtime_error("boom"); }});
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

TEST_CASE("topom routes: every Codis 3.2 group/sentinel route is bound") {
  const auto dir = std::filesystem::temp_directory_path() / ("codis-dash-unit-" + std::to_string(::getpid()));
  auto coord = codis::connect_coordinator("filesystem", dir.string());
  REQUIRE(coord.ok());
  codis::DashboardConfig config;
  config.product_name = "unit";
  {
    codis::dashboard::Topom topom(config, std::move(*coord));
    Router r = codis::dashboard::make_topom_router(topom, nullptr);
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
    // group/info and sentinels/info are GETs without xauth, as in Codis.
    CHECK(r.dispatch("GET", "/api/topom/group/info/127.0.0.1%3A1", "", "t").status == 800);
    CHECK(r.dispatch("GET", "/api/topom/sentinels/info/127.0.0.1%3A1", "", "t").status == 800);
    CHECK(r.dispatch("GET", "/api/topom/sentinels/info/127.0.0.1%3A1/monitored", "", "t").status == 800);
    topom.close();
  }
  std::filesystem::remove_all(dir);
}
