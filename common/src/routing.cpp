#include "codis/routing.h"

namespace codis::models {

std::string group_master(const std::map<int, Group>& groups, int gid) {
  auto it = groups.find(gid);
  if (it == groups.end() || it->second.servers.empty()) return {};
  return it->second.servers.front().server;
}

namespace {

bool promoting(const std::map<int, Group>& groups, int gid) {
  auto it = groups.find(gid);
  return it != groups.end() && !it->second.promoting.state.empty();
}

// Replicas that serve reads (servers[1..] marked replica_group): those in the
// proxy's datacenter first, then the others.
std::vector<std::vector<std::string>> replica_groups(const std::map<int, Group>& groups, int gid,
                                                     const std::string& datacenter) {
  auto it = groups.find(gid);
  if (it == groups.end() || !it->second.promoting.state.empty()) return {};
  std::vector<std::string> near, far;
  for (size_t i = 1; i < it->second.servers.size(); ++i) {
    const GroupServer& srv = it->second.servers[i];
    if (!srv.replica_group) continue;
    (!datacenter.empty() && srv.datacenter == datacenter ? near : far).push_back(srv.server);
  }
  std::vector<std::vector<std::string>> out;
  if (!near.empty()) out.push_back(std::move(near));
  if (!far.empty()) out.push_back(std::move(far));
  return out;
}

}  // namespace

Slot slot_route(const SlotMapping& m, const std::map<int, Group>& groups, const RoutingOptions& options) {
  Slot s;
  s.id = m.id;
  const std::string_view state = m.action.state;
  const bool moving = state == action::kPrepared || state == action::kMigrating || state == action::kFinished ||
                      (state == action::kPreparing && options.loaded_by_proxy);
  if (!moving) {
    // "", pending, preparing (as pushed): the source serves; replicas only while nothing is in flight.
    s.backend_addr = group_master(groups, m.group_id);
    s.backend_addr_group_id = m.group_id;  // as Codis: even while the group has no master
    s.locked = promoting(groups, m.group_id);
    if (state != action::kPreparing) s.replica_groups = replica_groups(groups, m.group_id, options.datacenter);
    return s;
  }
  const int target = m.action.target_id;
  s.backend_addr = group_master(groups, target);
  s.backend_addr_group_id = target;
  if (state == action::kFinished) {
    s.locked = promoting(groups, target);
    return s;
  }
  s.migrate_from = group_master(groups, m.group_id);
  s.migrate_from_group_id = m.group_id;
  s.forward_method = options.forward_method;
  s.locked = state == action::kPrepared || state == action::kPreparing || promoting(groups, m.group_id) ||
             promoting(groups, target);
  return s;
}

std::vector<Slot> slot_routes(const std::vector<SlotMapping>& mappings, const std::map<int, Group>& groups,
                              const RoutingOptions& options) {
  std::vector<Slot> out;
  out.reserve(mappings.size());
  for (const auto& m : mappings) out.push_back(slot_route(m, groups, options));
  return out;
}

}  // namespace codis::models
