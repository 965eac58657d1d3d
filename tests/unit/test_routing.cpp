#include <catch2/catch.hpp>

#include "codis/routing.h"

using namespace codis::models;

namespace {
std::map<int, Group> two_groups() {
  Group g1;
  g1.id = 1;
  g1.servers = {{"10.0.0.1:6379", "", {}, false}, {"10.0.0.11:6379", "", {}, true}};
  Group g2;
  g2.id = 2;
  g2.servers = {{"10.0.0.2:6379", "", {}, false}};
  return {{1, g1}, {2, g2}};
}
SlotMapping mapping(int id, int gid, std::string_view state = "", int target = 0) {
  SlotMapping m;
  m.id = id;
  m.group_id = gid;
  m.action.state = std::string(state);
  m.action.target_id = target;
  return m;
}
}  // namespace

TEST_CASE("slot routes follow the action state table", "[routing]") {
  auto groups = two_groups();
  RoutingOptions push;
  RoutingOptions load;
  load.loaded_by_proxy = true;

  Slot s = slot_route(mapping(1, 1), groups, push);
  CHECK(s.backend_addr == "10.0.0.1:6379");
  CHECK(s.backend_addr_group_id == 1);
  CHECK_FALSE(s.locked);
  CHECK(s.migrate_from.empty());
  CHECK(s.replica_groups == std::vector<std::vector<std::string>>{{"10.0.0.11:6379"}});

  s = slot_route(mapping(2, 1, action::kPending, 2), groups, push);
  CHECK(s.backend_addr == "10.0.0.1:6379");
  CHECK_FALSE(s.replica_groups.empty());

  s = slot_route(mapping(3, 1, action::kPreparing, 2), groups, push);
  CHECK(s.backend_addr == "10.0.0.1:6379");  // source, no replicas
  CHECK(s.replica_groups.empty());
  CHECK_FALSE(s.locked);

  s = slot_route(mapping(3, 1, action::kPreparing, 2), groups, load);  // a proxy loading: held
  CHECK(s.locked);
  CHECK(s.backend_addr == "10.0.0.2:6379");
  CHECK(s.migrate_from == "10.0.0.1:6379");

  s = slot_route(mapping(4, 1, action::kPrepared, 2), groups, push);
  CHECK(s.locked);
  CHECK(s.backend_addr == "10.0.0.2:6379");
  CHECK(s.migrate_from == "10.0.0.1:6379");
  CHECK(s.migrate_from_group_id == 1);

  s = slot_route(mapping(5, 1, action::kMigrating, 2), groups, push);
  CHECK_FALSE(s.locked);
  CHECK(s.backend_addr == "10.0.0.2:6379");
  CHECK(s.migrate_from == "10.0.0.1:6379");
  CHECK(s.forward_method == kForwardSemiAsync);

  s = slot_route(mapping(6, 1, action::kFinished, 2), groups, push);
  CHECK(s.backend_addr == "10.0.0.2:6379");
  CHECK(s.migrate_from.empty());
  CHECK_FALSE(s.locked);

  s = slot_route(mapping(7, 0), groups, push);  // unassigned
  CHECK(s.backend_addr.empty());
  CHECK(s.backend_addr_group_id == 0);
  s = slot_route(mapping(8, 9), groups, push);  // unknown group: no address, the id kept (as Codis)
  CHECK(s.backend_addr.empty());
  CHECK(s.backend_addr_group_id == 9);

  // a group being promoted locks its slots; replicas of the proxy's datacenter come first
  auto promoting = groups;
  promoting[1].promoting.state = "preparing";
  CHECK(slot_route(mapping(9, 1), promoting, push).locked);
  CHECK(slot_route(mapping(9, 1), promoting, push).replica_groups.empty());
  auto dc = groups;
  dc[1].servers.push_back({"10.0.1.12:6379", "dc2", {}, true});
  dc[1].servers[1].datacenter = "dc1";
  RoutingOptions in_dc2;
  in_dc2.datacenter = "dc2";
  CHECK(slot_route(mapping(10, 1), dc, in_dc2).replica_groups ==
        std::vector<std::vector<std::string>>{{"10.0.1.12:6379"}, {"10.0.0.11:6379"}});
  CHECK(slot_routes({mapping(1, 1), mapping(2, 2)}, groups, push).size() == 2);
}
