// Unit tests of codis-admin's pure parts: argument parsing and checking,
// Codis rpc reply decoding, path escaping and the text views, without a
// daemon (tests/admin/test_admin_cli.py drives the binary against real ones).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "admin_command.h"
#include "admin_views.h"
#include "api_client.h"

using codis::admin::AdminCommand;
using codis::admin::Json;

namespace {

codis::admin::ParseOutcome parse(std::vector<std::string> args) {
  args.insert(args.begin(), "codis-admin");
  std::vector<const char *> argv;
  for (const auto &a : args)
    argv.push_back(a.c_str());
  return codis::admin::parse_admin_args(static_cast<int>(argv.size()),
                                        argv.data());
}

} // namespace

TEST_CASE("both --flag=value and --flag value are accepted") {
  auto a = parse({"--dashboard=127.0.0.1:18080", "--group-add", "--gid=3",
                  "--addr", "127.0.0.1:6379"});
  REQUIRE(a.command);
  CHECK(a.command->target == AdminCommand::Target::kDashboard);
  CHECK(a.command->addr == "127.0.0.1:18080");
  CHECK(a.command->action == "group-add");
  CHECK(a.command->gid == 3);
  CHECK(a.command->server_addr == "127.0.0.1:6379");

  auto b = parse(
      {"--proxy", "127.0.0.1:11080", "-a", "pw", "--log-level", "WARNING"});
  REQUIRE(b.command);
  CHECK(b.command->target == AdminCommand::Target::kProxy);
  CHECK(b.command->auth == "pw");
  CHECK(b.command->log_level == "warn");
}

TEST_CASE("views: flags, Codis's bare words, and --proxy as a dashboard view") {
  CHECK(parse({"--dashboard=h:1", "--list-group"}).command->view ==
        "list-group");
  CHECK(parse({"--dashboard=h:1", "group"}).command->view == "group");
  CHECK(parse({"--dashboard=h:1", "--proxy"}).command->view == "proxy");
  CHECK(parse({"--proxy=h:1", "--slots"}).command->view == "slots");
  CHECK(parse({"--proxy=h:1"}).command->view.empty());
  CHECK_FALSE(parse({"--proxy=h:1", "--group"}).command);
}

TEST_CASE("bad command lines are refused with a reason and exit code 1") {
  auto check = [](std::vector<std::string> args, std::string_view needle) {
    auto r = parse(std::move(args));
    CHECK_FALSE(r.command);
    CHECK(r.exit_code == 1);
    INFO(r.message);
    CHECK(r.message.find(needle) != std::string::npos);
  };
  check({"--create-group", "--gid=1"},
        "missing --dashboard=ADDR or --proxy=ADDR");
  check({"--dashboard=h:1", "--proxy=h:2"}, "not both");
  check({"--dashboard=h:1", "--create-group"}, "--create-group needs --gid");
  check({"--dashboard=h:1", "--create-group", "--gid=x"},
        "--gid expects an integer");
  check({"--dashboard=h:1", "--create-group", "--gid=1", "--remove-group"},
        "one action per call");
  check({"--dashboard=h:1", "--start"}, "is a proxy command");
  check({"--proxy=h:1", "--create-group", "--gid=1"}, "is a dashboard command");
  check({"--dashboard=h:1", "--no-such-flag"}, "bad arguments");
  check(
      {"--dashboard=h:1", "--slots-assign", "--beg=0", "--end=1024", "--gid=1"},
      "is not a slot");
  check({"--dashboard=h:1", "--slots-assign", "--beg=9", "--end=3", "--gid=1"},
        "is after --end");
  check({"--dashboard=h:1", "--remove-proxy"}, "exactly one of");
  check({"--dashboard=h:1", "--slot-action", "--create", "--sid=1"},
        "needs --gid");
  check({"--dashboard=h:1", "--slot-action"},
        "--slot-action needs exactly one of");
  check({"--dashboard=h:1", "--log-level=loud"}, "is not a level");
}

TEST_CASE("--help prints usage with examples and exits 0") {
  auto r = parse({"--help"});
  CHECK_FALSE(r.command);
  CHECK(r.exit_code == 0);
  CHECK(r.message.find("Examples") != std::string::npos);
  CHECK(r.message.find("--slot-action    --create-some") != std::string::npos);
}

TEST_CASE("Codis rpc replies: 200 JSON, 800 Cause, anything else") {
  auto ok = codis::admin::decode_reply(200, R"({"a": 1})");
  REQUIRE(ok);
  CHECK((*ok)["a"] == 1);
  auto err = codis::admin::decode_reply(
      800, R"({"Cause": "group-[1] already exists", "Stack": null})");
  REQUIRE_FALSE(err);
  CHECK(err.message() == "group-[1] already exists");
  auto nf = codis::admin::decode_reply(404, "404 page not found\n");
  REQUIRE_FALSE(nf);
  CHECK(nf.message().find("HTTP 404") == 0);
  CHECK_FALSE(codis::admin::decode_reply(200, "not json"));
}

TEST_CASE("path segments are escaped as Go's url.URL does") {
  CHECK(codis::admin::escape_path_segment("127.0.0.1:6379") ==
        "127.0.0.1:6379");
  CHECK(codis::admin::escape_path_segment("a b/c?") == "a%20b%2Fc%3F");
  CHECK(codis::admin::ApiClient::path(
            {"api", "topom", "group", "add", "x", "1", "h:1"}) ==
        "/api/topom/group/add/x/1/h:1");
}

TEST_CASE("rebalance plan is printed as ranges, as Codis does") {
  Json plan = Json::object();
  for (int i = 0; i < 3; ++i)
    plan[std::to_string(i)] = 1;
  plan["3"] = 2;
  plan["10"] = 2;
  CHECK(codis::admin::rebalance_plan(plan) ==
        "[0000,0002] => 1\n[0003,0003] => 2\n[0010,0010] => 2\ndone\n");
  CHECK(codis::admin::rebalance_plan(Json::object()) == "nothing changes\n");
}

TEST_CASE("group and proxy status views") {
  auto stats = Json::parse(R"({
    "group": {
      "models": [{"id": 1, "servers": [{"server": "127.0.0.1:6379"}, {"server": "127.0.0.1:16380"}]},
                 {"id": 12, "servers": [{"server": "127.0.0.1:6381"}]}],
      "stats": {
        "127.0.0.1:6379": {"stats": {"role": "master"}, "unixtime": 1},
        "127.0.0.1:16380": {"stats": {"master_addr": "127.0.0.1:6379", "master_link_status": "down"}},
        "127.0.0.1:6381": {"error": {"Cause": "refused", "Stack": null}}
      }
    },
    "proxy": {
      "models": [{"id": 1, "token": "t1", "admin_addr": "127.0.0.1:11080", "proxy_addr": "127.0.0.1:19000"}],
      "stats": {"t1": {"stats": {"online": true}}}
    }
  })");
  CHECK(codis::admin::group_status(stats) ==
        "[ ] group-01 [0] 127.0.0.1:6379       ==> NO:ONE\n"
        "[X] group-01 [1] 127.0.0.1:16380      ==> 127.0.0.1:6379:down\n"
        "[E] group-12 [0] 127.0.0.1:6381 \n");
  CHECK(codis::admin::proxy_status(stats) ==
        "[ ] proxy-1 [T] t1 [A] 127.0.0.1:11080 [P] 127.0.0.1:19000\n");
}

TEST_CASE("views select parts of the overview") {
  auto o = Json::parse(R"({"config": {"a": 1}, "model": {"m": 2},
                           "stats": {"slots": [1], "group": {"models": [3]}, "proxy": {"models": [4]}}})");
  CHECK(codis::admin::select_view(o, "config", true) ==
        Json::parse(R"({"a": 1})"));
  CHECK(codis::admin::select_view(o, "slots", true) == Json::parse("[1]"));
  CHECK(codis::admin::select_view(o, "list-group", true) == Json::parse("[3]"));
  CHECK(codis::admin::select_view(o, "list-proxy", true) == Json::parse("[4]"));
  CHECK(codis::admin::select_view(o, "", true) == o);
}
