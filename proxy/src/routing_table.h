// RoutingTable: an immutable snapshot of where each of the 1024 slots goes.
// The admin thread builds a new one for every fillslots push and hands it to
// every worker; a worker reads its current snapshot without locks and keeps
// it alive for as long as it uses it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "codis/models.h"
#include "codis/slot_hash.h"

namespace codis::proxy {

constexpr int kSlotCount = CODIS_SLOT_COUNT;

enum class ForwardMethod : uint8_t { kSync = 0, kSemiAsync = 1 };

struct Route {
  int id = 0;
  bool locked = false;
  std::string backend;       // "host:port" of the owning group's master; empty: slot offline
  int group_id = 0;
  std::string migrate_from;  // source master while the slot migrates; empty otherwise
  int migrate_from_group_id = 0;
  ForwardMethod method = ForwardMethod::kSemiAsync;
  std::vector<std::vector<std::string>> replica_groups;  // replica-read candidates, by preference

  bool migrating() const { return !migrate_from.empty(); }
};

class RoutingTable {
 public:
  RoutingTable();  // every slot offline
  // A copy of `base` with the given slots replaced (fillslots updates only the slots it names).
  static std::shared_ptr<const RoutingTable> apply(const RoutingTable& base,
                                                   const std::vector<models::Slot>& slots);

  const Route& route(uint32_t slot) const { return routes_[slot]; }
  uint64_t version() const { return version_; }
  std::vector<models::Slot> to_models() const;
  // Codis's Router.SwitchMasters: the slots whose group (backend_addr_group_id)
  // or migration source group (migrate_from_group_id) has another master in
  // `masters` (gid -> "ip:port"), with that master put in; nothing else of the
  // slot changes. Empty when every slot already routes there.
  std::vector<models::Slot> switched_slots(const std::map<int, std::string>& masters) const;

 private:
  std::array<Route, kSlotCount> routes_;
  uint64_t version_ = 0;
};

}  // namespace codis::proxy
