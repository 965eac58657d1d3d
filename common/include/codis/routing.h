// How a slot is routed, derived from what the coordinator stores (a
// SlotMapping and the Groups): the table of docs/design.md §7.1, plus Codis's
// rule that a slot whose group is being promoted is locked. Used by the
// dashboard to build what it pushes to proxies, and by a proxy that loads
// its routing from the coordinator at start.
#pragma once

#include <map>
#include <vector>

#include "codis/models.h"

namespace codis::models {

struct RoutingOptions {
  int forward_method = kForwardSemiAsync;  // how proxies reach a migrating slot's source
  // A proxy reading the coordinator (not a push) cannot know whether the
  // dashboard has told the other proxies "prepared" yet, so a slot in state
  // preparing is held (locked, routed to the target) until the next push.
  bool loaded_by_proxy = false;
  // The receiving proxy's datacenter: its replicas come first in replica_groups.
  std::string datacenter;
};

// The master ("servers[0]") of a group, or "" if the group is unknown or empty.
std::string group_master(const std::map<int, Group>& groups, int gid);

Slot slot_route(const SlotMapping& mapping, const std::map<int, Group>& groups, const RoutingOptions& options);
std::vector<Slot> slot_routes(const std::vector<SlotMapping>& mappings, const std::map<int, Group>& groups,
                              const RoutingOptions& options);

}  // namespace codis::models
