#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "codis/sentinel.h"
#include "routing_table.h"

using namespace codis::sentinel;

TEST_CASE("sentinel group names are {product}-{gid}", "[sentinel]") {
  CHECK(group_name("codis-demo", 3) == "codis-demo-3");
  CHECK(group_of("codis-demo", "codis-demo-3") == 3);
  CHECK(group_of("codis-demo", "codis-demo-1024") == 1024);
  CHECK(group_of("codis-demo", "codis-demo-") == -1);
  CHECK(group_of("codis-demo", "codis-demo-0") == -1);
  CHECK(group_of("codis-demo", "codis-demo-x") == -1);
  CHECK(group_of("codis-demo", "codis-demo-3x") == -1);
  CHECK(group_of("codis-demo", "codis-demo-2-3") == -1);  // product "codis-demo-2"'s group
  CHECK(group_of("codis-demo-2", "codis-demo-2-3") == 3);
  CHECK(group_of("codis", "codis-demo-3") == -1);
  CHECK(group_of("codis-demo", "other-3") == -1);
  CHECK(group_of("codis-demo", "codis-demo") == -1);
}

TEST_CASE("+switch-master payloads are parsed", "[sentinel]") {
  auto e = parse_switch_master("codis-demo-1 127.0.0.1 6379 127.0.0.1 6380");
  REQUIRE(e);
  CHECK(e->name == "codis-demo-1");
  CHECK(e->from == "127.0.0.1:6379");
  CHECK(e->to == "127.0.0.1:6380");
  CHECK_FALSE(parse_switch_master("codis-demo-1 127.0.0.1 6379"));
  CHECK_FALSE(parse_switch_master(""));
  CHECK_FALSE(parse_switch_master("a b c d e f"));
}

TEST_CASE("the highest config epoch wins, then the most sentinels", "[sentinel]") {
  std::vector<std::map<int, MasterView>> answers = {
      {{1, {"10.0.0.1:6379", 0}}, {2, {"10.0.0.2:6379", 0}}},
      {{1, {"10.0.0.11:6379", 1}}, {2, {"10.0.0.2:6379", 0}}},  // saw the failover of group 1
      {{1, {"10.0.0.1:6379", 0}}, {2, {"10.0.0.22:6379", 0}}},  // stale, same epoch: outvoted
  };
  auto m = choose_masters(answers);
  REQUIRE(m.size() == 2);
  CHECK(m[1] == "10.0.0.11:6379");
  CHECK(m[2] == "10.0.0.2:6379");
  CHECK(choose_masters({}).empty());
  // A group only one sentinel knows is still reported.
  m = choose_masters({{}, {{7, {"10.0.0.7:6379", 3}}}});
  CHECK(m == std::map<int, std::string>{{7, "10.0.0.7:6379"}});
}

TEST_CASE("query_masters and Watcher give up fast on dead sentinels", "[sentinel]") {
  using namespace std::chrono;
  const auto t0 = steady_clock::now();
  // Port 1 on loopback refuses at once; a bad address fails to parse.
  auto m = query_masters("p", "", {"127.0.0.1:1", "no-port"}, milliseconds(2000));
  CHECK(m.answered == 0);
  CHECK(m.masters.empty());
  CHECK(m.errors.size() == 2);
  CHECK(steady_clock::now() - t0 < seconds(2));

  int calls = 0;
  Watcher::Options o;
  o.product = "p";
  o.servers = {"127.0.0.1:1"};
  o.timeout = milliseconds(300);
  auto w = std::make_unique<Watcher>(o, [&](const std::map<int, std::string>&, const std::string&) { ++calls; });
  std::this_thread::sleep_for(milliseconds(300));
  CHECK(w->subscribed() == 0);
  const auto t1 = steady_clock::now();
  w.reset();  // cancel + join
  CHECK(steady_clock::now() - t1 < milliseconds(500));
  CHECK(calls == 0);
}

TEST_CASE("a sentinel switch re-routes the group's slots and migration sources", "[sentinel][routing]") {
  using codis::models::Slot;
  codis::proxy::RoutingTable empty;
  std::vector<Slot> slots;
  for (int i = 0; i < 4; ++i) {
    Slot s;
    s.id = i;
    s.backend_addr = i < 2 ? "10.0.0.1:6379" : "10.0.0.2:6379";
    s.backend_addr_group_id = i < 2 ? 1 : 2;
    slots.push_back(s);
  }
  slots[3].migrate_from = "10.0.0.1:6379";  // slot 3 migrates from group 1 to group 2
  slots[3].migrate_from_group_id = 1;
  slots[3].locked = true;
  auto t = codis::proxy::RoutingTable::apply(empty, slots);

  CHECK(t->switched_slots({}).empty());
  CHECK(t->switched_slots({{1, "10.0.0.1:6379"}, {2, "10.0.0.2:6379"}}).empty());
  CHECK(t->switched_slots({{9, "10.0.0.9:6379"}}).empty());

  auto changed = t->switched_slots({{1, "10.0.0.11:6379"}});
  REQUIRE(changed.size() == 3);
  CHECK(changed[0].id == 0);
  CHECK(changed[0].backend_addr == "10.0.0.11:6379");
  CHECK(changed[1].id == 1);
  CHECK(changed[2].id == 3);
  CHECK(changed[2].backend_addr == "10.0.0.2:6379");  // the target is not group 1
  CHECK(changed[2].migrate_from == "10.0.0.11:6379");
  CHECK(changed[2].locked);  // everything else of the slot is kept
  auto next = codis::proxy::RoutingTable::apply(*t, changed);
  CHECK(next->route(0).backend == "10.0.0.11:6379");
  CHECK(next->route(2).backend == "10.0.0.2:6379");
  CHECK(next->route(4).backend.empty());  // offline slots stay offline
  CHECK(next->switched_slots({{1, "10.0.0.11:6379"}}).empty());
}
