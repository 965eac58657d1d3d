#include "codis/routing.h"

namespace codis::models {

std::string group_master(const std::map<int, Group>& groups, int gid) {
  auto it = groups.find(gid);
  if (it == groups.end() || it->second.servers.empty()) return {};
  return it->second.servers.front().server;
}

namespace {
// Replicas that serve reads (servers[1..] marked replica_group), one preference level.
std::vector<std::vector<std::string>> replica_groups(const std::map<int, Group>& groups, int gid) {
  auto it = groups.find(gid);
  if (it == groups.end()) return {};
  std::vector<std::string> replicas;
  for (size_t i = 1; i < it->second.servers.size(); ++i)
    if (it->second.servers[i].replica_group) replicas.push_back(it->second.servers[i].server);
  if (replicas.empty()) return {};
  return {replicas};
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
    s.backend_addr_group_id = s.backend_addr.empty() ? 0 : m.group_id;
    if (state != action::kPreparing) s.replica_groups = replica_groups(groups, m.group_id);
    return s;
  }
  const int target = m.action.target_id;
  s.backend_addr = group_master(groups, target);
  s.backend_addr_group_id = s.backend_addr.empty() ? 0 : target;
  if (state == action::kFinished) return s;
  s.migrate_from = group_master(groups, m.group_id);
  s.migrate_from_group_id = s.migrate_from.empty() ? 0 : m.group_id;
  s.forward_method = options.forward_method;
  s.locked = state == action::kPrepared || state == action::kPreparing;
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
