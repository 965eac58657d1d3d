// Codis 3.2 JSON models: round trips, Codis's own JSON, omitempty, errors.
// The samples are written from Codis's pkg/models field lists, in the shape
// its jsonEncode (4-space MarshalIndent) leaves in ZooKeeper.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "codis/models.h"

using namespace codis::models;
using nlohmann::json;

namespace {

template <class T>
T roundtrip(const T& v) {
  auto back = parse_json<T>(encode(v));
  REQUIRE(back.ok());
  json j = v;  // the nlohmann hooks agree with encode()
  CHECK(j == json::parse(encode(v)));
  CHECK(j.get<T>() == v);
  return *back;
}

Slot slot_with_id(int id) {
  Slot s;
  s.id = id;
  return s;
}

}  // namespace

TEST_CASE("topom", "[models]") {
  const char* codis = R"({
    "token": "1a2b3c4d5e6f708192a3b4c5d6e7f809",
    "start_time": "2024-01-02 03:04:05.678901234 +0800 CST",
    "admin_addr": "10.0.0.1:18080",
    "product_name": "codis-demo",
    "pid": 4242,
    "pwd": "/opt/codis",
    "sys": "Linux host 5.10.0 x86_64 GNU/Linux"
})";
  auto t = parse_json<Topom>(codis);
  REQUIRE(t.ok());
  CHECK(t->token == "1a2b3c4d5e6f708192a3b4c5d6e7f809");
  CHECK(t->admin_addr == "10.0.0.1:18080");
  CHECK(t->pid == 4242);
  CHECK(roundtrip(*t) == *t);
  CHECK(json::parse(encode(*t)) == json::parse(codis));
  // Codis's field order is kept.
  CHECK(encode(*t).find("\"token\"") < encode(*t).find("\"sys\""));
}

TEST_CASE("proxy", "[models]") {
  const char* codis = R"({
    "id": 3,
    "token": "0f8e4b2c1d3a5e7f9b8c6d4e2f1a3b5c",
    "start_time": "2024-01-02 03:04:05",
    "admin_addr": "10.0.0.2:11080",
    "proto_type": "tcp4",
    "proxy_addr": "10.0.0.2:19000",
    "jodis_path": "/jodis/codis-demo/proxy-0f8e4b2c1d3a5e7f9b8c6d4e2f1a3b5c",
    "product_name": "codis-demo",
    "pid": 777,
    "pwd": "/opt/codis",
    "sys": "Linux",
    "hostname": "proxy-1",
    "datacenter": "dc1"
})";
  auto p = parse_json<Proxy>(codis);
  REQUIRE(p.ok());
  CHECK(p->id == 3);
  CHECK(p->jodis_path == "/jodis/codis-demo/proxy-0f8e4b2c1d3a5e7f9b8c6d4e2f1a3b5c");
  CHECK(p->datacenter == "dc1");
  CHECK(json::parse(encode(*p)) == json::parse(codis));
  CHECK(roundtrip(*p) == *p);

  // A proxy's own model before the dashboard gives it an id: id and
  // jodis_path are omitempty.
  Proxy fresh;
  fresh.token = "t";
  const json j = json::parse(encode(fresh));
  CHECK_FALSE(j.contains("id"));
  CHECK_FALSE(j.contains("jodis_path"));
  CHECK(j.contains("hostname"));
  CHECK(j.contains("datacenter"));
  CHECK(j.contains("pid"));
  CHECK(roundtrip(fresh) == fresh);
}

TEST_CASE("group", "[models]") {
  const char* codis = R"({
    "id": 1,
    "servers": [
        {
            "server": "127.0.0.1:6379",
            "datacenter": "",
            "action": {},
            "replica_group": false
        },
        {
            "server": "127.0.0.1:6380",
            "datacenter": "dc2",
            "action": {
                "index": 7,
                "state": "pending"
            },
            "replica_group": true
        }
    ],
    "promoting": {},
    "out_of_sync": false
})";
  auto g = parse_json<Group>(codis);
  REQUIRE(g.ok());
  REQUIRE(g->servers.size() == 2);
  CHECK(g->servers[0].server == "127.0.0.1:6379");
  CHECK(g->servers[1].action.index == 7);
  CHECK(g->servers[1].action.state == action::kPending);
  CHECK(g->servers[1].replica_group);
  CHECK(json::parse(encode(*g)) == json::parse(codis));
  CHECK(roundtrip(*g) == *g);

  Group promoting = *g;
  promoting.promoting = {1, std::string(action::kPreparing)};
  promoting.out_of_sync = true;
  const json j = json::parse(encode(promoting));
  CHECK(j["promoting"] == json{{"index", 1}, {"state", "preparing"}});
  CHECK(roundtrip(promoting) == promoting);

  // Empty group: "servers" is an array, promoting an empty object.
  const json e = json::parse(encode(Group{}));
  CHECK(e["servers"] == json::array());
  CHECK(e["promoting"] == json::object());
  // Go writes a nil slice as null; it decodes to empty.
  auto n = parse_json<Group>(R"({"id": 2, "servers": null, "promoting": {}, "out_of_sync": false})");
  REQUIRE(n.ok());
  CHECK(n->servers.empty());
}

TEST_CASE("slot mapping", "[models]") {
  auto idle = parse_json<SlotMapping>(R"({"id": 12, "group_id": 1, "action": {}})");
  REQUIRE(idle.ok());
  CHECK(idle->id == 12);
  CHECK(idle->group_id == 1);
  CHECK(idle->action == SlotMappingAction{});
  CHECK(json::parse(encode(*idle)) == json::parse(R"({"id": 12, "group_id": 1, "action": {}})"));

  const char* migrating = R"({"id": 5, "group_id": 1, "action": {"index": 3, "state": "migrating", "target_id": 2}})";
  auto m = parse_json<SlotMapping>(migrating);
  REQUIRE(m.ok());
  CHECK(m->action.state == action::kMigrating);
  CHECK(m->action.target_id == 2);
  CHECK(json::parse(encode(*m)) == json::parse(migrating));
  CHECK(roundtrip(*m) == *m);

  // Offline slot: group 0. Codis writes {"id":0,"group_id":0,"action":{}}.
  CHECK(json::parse(encode(SlotMapping{})) == json::parse(R"({"id":0,"group_id":0,"action":{}})"));

  CHECK(action::kNothing.empty());
  CHECK(action::kPreparing == "preparing");
  CHECK(action::kPrepared == "prepared");
  CHECK(action::kFinished == "finished");
}

TEST_CASE("slot (fillslots table)", "[models]") {
  const char* codis = R"([
    {"id": 0, "backend_addr": "127.0.0.1:6379", "backend_addr_group_id": 1,
     "replica_groups": [["127.0.0.1:6380"], ["127.0.0.1:6381", "127.0.0.1:6382"]]},
    {"id": 1, "locked": true, "backend_addr": "127.0.0.1:6383", "backend_addr_group_id": 2,
     "migrate_from": "127.0.0.1:6379", "migrate_from_group_id": 1, "forward_method": 1},
    {"id": 2}
  ])";
  auto slots = parse_slots(codis);
  REQUIRE(slots.ok());
  REQUIRE(slots->size() == 3);
  const auto& s0 = (*slots)[0];
  CHECK(s0.backend_addr == "127.0.0.1:6379");
  CHECK(s0.replica_groups.size() == 2);
  CHECK(s0.replica_groups[1][1] == "127.0.0.1:6382");
  CHECK(s0.forward_method == kForwardSync);
  const auto& s1 = (*slots)[1];
  CHECK(s1.locked);
  CHECK(s1.migrate_from == "127.0.0.1:6379");
  CHECK(s1.migrate_from_group_id == 1);
  CHECK(s1.forward_method == kForwardSemiAsync);
  CHECK((*slots)[2] == slot_with_id(2));

  CHECK(json::parse(encode(*slots)) == json::parse(codis));
  for (const auto& s : *slots) CHECK(roundtrip(s) == s);

  // Everything but id is omitempty.
  CHECK(encode(slot_with_id(7)) == "{\n    \"id\": 7\n}");
}

TEST_CASE("sentinel", "[models]") {
  auto s = parse_json<Sentinel>(R"({"servers": ["10.0.0.1:26379", "10.0.0.2:26379"], "out_of_sync": true})");
  REQUIRE(s.ok());
  CHECK(s->servers.size() == 2);
  CHECK(s->out_of_sync);
  CHECK(roundtrip(*s) == *s);
  const json empty = json::parse(encode(Sentinel{}));
  CHECK(empty == json{{"out_of_sync", false}});
  auto e = parse_json<Sentinel>(R"({"out_of_sync": false})");
  REQUIRE(e.ok());
  CHECK(*e == Sentinel{});
}

TEST_CASE("decoding is lenient like Go: missing, null and unknown fields", "[models]") {
  auto p = parse_json<Proxy>(R"({"token": "abc", "pid": null, "unknown_field": [1, 2]})");
  REQUIRE(p.ok());
  CHECK(p->token == "abc");
  CHECK(p->pid == 0);
  auto t = parse_json<Topom>("{}");
  REQUIRE(t.ok());
  CHECK(*t == Topom{});
}

TEST_CASE("bad JSON and wrong types are errors naming the field", "[models]") {
  auto bad = parse_json<Topom>("{\"token\": ");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.message(), Catch::StartsWith("invalid JSON:"));
  CHECK_FALSE(parse_json<Topom>("").ok());
  CHECK_FALSE(parse_json<Topom>("{} trailing").ok());

  auto pid = parse_json<Topom>(R"({"pid": "42"})");
  REQUIRE_FALSE(pid.ok());
  CHECK(pid.message() == "field 'pid': type must be number, but is string");

  auto root = parse_json<Topom>("[]");
  REQUIRE_FALSE(root.ok());
  CHECK(root.message() == "type must be object, but is array");

  auto frac = parse_json<Slot>(R"({"id": 1.5})");
  REQUIRE_FALSE(frac.ok());
  CHECK_THAT(frac.message(), Catch::Contains("field 'id'") && Catch::Contains("integer"));

  auto big = parse_json<Slot>(R"({"id": 99999999999})");
  REQUIRE_FALSE(big.ok());
  CHECK_THAT(big.message(), Catch::Contains("out of range"));

  auto nested = parse_json<Group>(R"({"servers": [{"server": "a:1"}, {"action": {"index": "x"}}]})");
  REQUIRE_FALSE(nested.ok());
  CHECK(nested.message() == "field 'servers[1].action.index': type must be number, but is string");

  auto flag = parse_json<Group>(R"({"out_of_sync": 1})");
  REQUIRE_FALSE(flag.ok());
  CHECK(flag.message() == "field 'out_of_sync': type must be boolean, but is number");

  auto rg = parse_json<Slot>(R"({"id": 1, "replica_groups": [["a:1", 2]]})");
  REQUIRE_FALSE(rg.ok());
  CHECK(rg.message() == "field 'replica_groups[0][1]': type must be string, but is number");

  // from_json used directly throws (a std::exception) instead.
  CHECK_THROWS(json::parse(R"({"pid": true})").get<Topom>());
}

TEST_CASE("parse_slots names the slot and validates it", "[models]") {
  auto wrong = parse_slots(R"([{"id": 0}, {"id": 1}, {"id": 2}, {"id": "3"}])");
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.message() == "slot 3: field 'id': type must be number, but is string");

  auto range = parse_slots(R"([{"id": 1024}])");
  REQUIRE_FALSE(range.ok());
  CHECK_THAT(range.message(), Catch::Contains("slot 0") && Catch::Contains("[0, 1024)"));

  auto method = parse_slots(R"([{"id": 5, "forward_method": 2}])");
  REQUIRE_FALSE(method.ok());
  CHECK_THAT(method.message(), Catch::Contains("forward_method"));

  CHECK_FALSE(parse_slots(R"({"id": 1})").ok());
  auto empty = parse_slots("[]");
  REQUIRE(empty.ok());
  CHECK(empty->empty());

  CHECK(validate_slot(slot_with_id(0)).ok());
  CHECK(validate_slot(slot_with_id(1023)).ok());
  CHECK_FALSE(validate_slot(slot_with_id(-1)).ok());
  Slot s = slot_with_id(3);
  s.forward_method = kForwardSemiAsync;
  CHECK(validate_slot(s).ok());
  s.backend_addr_group_id = -2;
  CHECK_FALSE(validate_slot(s).ok());
}

TEST_CASE("coordinator paths", "[models]") {
  CHECK(path::product_dir("codis-demo") == "/codis3/codis-demo");
  CHECK(path::topom("codis-demo") == "/codis3/codis-demo/topom");
  CHECK(path::proxy_dir("codis-demo") == "/codis3/codis-demo/proxy");
  CHECK(path::proxy("codis-demo", "abc") == "/codis3/codis-demo/proxy/proxy-abc");
  CHECK(path::group_dir("codis-demo") == "/codis3/codis-demo/group");
  CHECK(path::group("codis-demo", 7) == "/codis3/codis-demo/group/group-0007");
  CHECK(path::group("codis-demo", 9999) == "/codis3/codis-demo/group/group-9999");
  CHECK(path::slot_dir("codis-demo") == "/codis3/codis-demo/slots");
  CHECK(path::slot("codis-demo", 0) == "/codis3/codis-demo/slots/slot-0000");
  CHECK(path::slot("codis-demo", 1023) == "/codis3/codis-demo/slots/slot-1023");
  CHECK(path::sentinel("codis-demo") == "/codis3/codis-demo/sentinel");
  CHECK(path::jodis_dir("codis-demo") == "/jodis/codis-demo");
  CHECK(path::jodis("codis-demo", "abc") == "/jodis/codis-demo/proxy-abc");
  CHECK(path::jodis_compat("codis-demo", "abc") == "/zk/codis/db_codis-demo/proxy-abc");
}
