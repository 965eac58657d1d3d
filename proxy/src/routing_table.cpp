#include "routing_table.h"

namespace codis::proxy {

RoutingTable::RoutingTable() {
  for (int i = 0; i < kSlotCount; ++i) routes_[i].id = i;
}

std::shared_ptr<const RoutingTable> RoutingTable::apply(const RoutingTable& base,
                                                        const std::vector<models::Slot>& slots) {
  auto t = std::make_shared<RoutingTable>(base);
  t->version_ = base.version_ + 1;
  for (const auto& s : slots) {
    Route& r = t->routes_.at(s.id);
    r.locked = s.locked;
    r.backend = s.backend_addr;
    r.group_id = s.backend_addr_group_id;
    r.migrate_from = s.migrate_from;
    r.migrate_from_group_id = s.migrate_from_group_id;
    r.method = s.forward_method == 0 ? ForwardMethod::kSync : ForwardMethod::kSemiAsync;
    r.replica_groups = s.replica_groups;
  }
  return t;
}

namespace {

models::Slot to_model(const Route& r) {
  models::Slot s;
  s.id = r.id;
  s.locked = r.locked;
  s.backend_addr = r.backend;
  s.backend_addr_group_id = r.group_id;
  s.migrate_from = r.migrate_from;
  s.migrate_from_group_id = r.migrate_from_group_id;
  s.forward_method = static_cast<int>(r.method);
  s.replica_groups = r.replica_groups;
  return s;
}

}  // namespace

std::vector<models::Slot> RoutingTable::to_models() const {
  std::vector<models::Slot> out;
  out.reserve(kSlotCount);
  for (const Route& r : routes_) out.push_back(to_model(r));
  return out;
}

std::vector<models::Slot> RoutingTable::switched_slots(const std::map<int, std::string>& masters) const {
  std::vector<models::Slot> out;
  if (masters.empty()) return out;
  auto master_of = [&](int gid) -> const std::string* {
    if (gid == 0) return nullptr;
    auto it = masters.find(gid);
    return it == masters.end() || it->second.empty() ? nullptr : &it->second;
  };
  for (const Route& r : routes_) {
    models::Slot s = to_model(r);
    bool changed = false;
    if (const auto* m = master_of(r.group_id); m && !r.backend.empty() && *m != r.backend) {
      s.backend_addr = *m;
      changed = true;
    }
    if (const auto* m = master_of(r.migrate_from_group_id); m && !r.migrate_from.empty() && *m != r.migrate_from) {
      s.migrate_from = *m;
      changed = true;
    }
    if (changed) out.push_back(std::move(s));
  }
  return out;
}

}  // namespace codis::proxy
