// Codis 3.2 topology models: what the dashboard stores in the coordinator
// (docs/design.md §4) and what the admin APIs carry (§5).
//
// JSON field names and omitempty behaviour are exactly Codis's
// (pkg/models/*.go), so a Codis dashboard, proxy or codis-fe can read what we
// write and the other way round. Decoding follows Go's encoding/json: absent
// or null fields keep their defaults, unknown fields are ignored, a field of
// the wrong type is an error. Callers that take JSON from outside use
// parse_json()/parse_slots(), which never throw. nlohmann/json stays out of
// this header: include <nlohmann/json.hpp> to use to_json/from_json directly.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "codis/slot_hash.h"
#include "codis/status.h"

namespace codis::models {

inline constexpr int kMaxSlotNum = CODIS_SLOT_COUNT;
inline constexpr int kMaxGroupId = 9999;

// Slot/group action states (pkg/models/action.go).
namespace action {
inline constexpr std::string_view kNothing = "";
inline constexpr std::string_view kPending = "pending";
inline constexpr std::string_view kPreparing = "preparing";
inline constexpr std::string_view kPrepared = "prepared";
inline constexpr std::string_view kMigrating = "migrating";
inline constexpr std::string_view kFinished = "finished";
inline constexpr std::string_view kSyncing = "syncing";
}  // namespace action

// Slot::forward_method values.
inline constexpr int kForwardSync = 0;
inline constexpr int kForwardSemiAsync = 1;

// The dashboard's lock node: /codis3/{product}/topom.
struct Topom {
  std::string token;
  std::string start_time;
  std::string admin_addr;
  std::string product_name;
  int pid = 0;
  std::string pwd;
  std::string sys;
  auto operator<=>(const Topom&) const = default;
};

// /codis3/{product}/proxy/proxy-{token}; also the proxy's /api/proxy/model.
struct Proxy {
  int id = 0;  // omitempty
  std::string token;
  std::string start_time;
  std::string admin_addr;
  std::string proto_type;
  std::string proxy_addr;
  std::string jodis_path;  // omitempty
  std::string product_name;
  int pid = 0;
  std::string pwd;
  std::string sys;
  std::string hostname;
  std::string datacenter;
  auto operator<=>(const Proxy&) const = default;
};

struct GroupServerAction {
  int index = 0;      // omitempty
  std::string state;  // omitempty
  auto operator<=>(const GroupServerAction&) const = default;
};

struct GroupServer {
  std::string server;  // "host:port"
  std::string datacenter;
  GroupServerAction action;
  bool replica_group = false;
  auto operator<=>(const GroupServer&) const = default;
};

struct GroupPromoting {
  int index = 0;      // omitempty
  std::string state;  // omitempty
  auto operator<=>(const GroupPromoting&) const = default;
};

// /codis3/{product}/group/group-%04d. servers[0] is the master.
struct Group {
  int id = 0;
  std::vector<GroupServer> servers;
  GroupPromoting promoting;
  bool out_of_sync = false;
  auto operator<=>(const Group&) const = default;
};

struct SlotMappingAction {
  int index = 0;      // omitempty
  std::string state;  // omitempty; one of action::k*
  int target_id = 0;  // omitempty
  auto operator<=>(const SlotMappingAction&) const = default;
};

// /codis3/{product}/slots/slot-%04d: which group owns a slot, and the
// migration in flight.
struct SlotMapping {
  int id = 0;
  int group_id = 0;
  SlotMappingAction action;
  auto operator<=>(const SlotMapping&) const = default;
};

// One entry of the routing table the dashboard pushes to a proxy
// (PUT /api/proxy/fillslots). Every field but id is omitempty.
struct Slot {
  int id = 0;
  bool locked = false;
  std::string backend_addr;
  int backend_addr_group_id = 0;
  std::string migrate_from;
  int migrate_from_group_id = 0;
  int forward_method = kForwardSync;
  std::vector<std::vector<std::string>> replica_groups;
  auto operator<=>(const Slot&) const = default;
};

// /codis3/{product}/sentinel.
struct Sentinel {
  std::vector<std::string> servers;  // omitempty
  bool out_of_sync = false;
  auto operator<=>(const Sentinel&) const = default;
};

// nlohmann hooks (found by ADL). from_json throws on a wrong type, with a
// message naming the field ("field 'servers[1].action.index': type must be
// number, but is string").
void to_json(nlohmann::json& j, const Topom& v);
void from_json(const nlohmann::json& j, Topom& v);
void to_json(nlohmann::json& j, const Proxy& v);
void from_json(const nlohmann::json& j, Proxy& v);
void to_json(nlohmann::json& j, const GroupServer& v);
void from_json(const nlohmann::json& j, GroupServer& v);
void to_json(nlohmann::json& j, const Group& v);
void from_json(const nlohmann::json& j, Group& v);
void to_json(nlohmann::json& j, const SlotMapping& v);
void from_json(const nlohmann::json& j, SlotMapping& v);
void to_json(nlohmann::json& j, const Slot& v);
void from_json(const nlohmann::json& j, Slot& v);
void to_json(nlohmann::json& j, const Sentinel& v);
void from_json(const nlohmann::json& j, Sentinel& v);

// Parses one model from JSON text; never throws. Instantiated for Topom,
// Proxy, GroupServer, Group, SlotMapping, Slot, Sentinel and std::vector of
// each.
template <class T>
Result<T> parse_json(std::string_view text);

// Encodes like Codis's jsonEncode (json.MarshalIndent with 4 spaces), which
// is what sits in the coordinator. Same instantiations as parse_json.
template <class T>
std::string encode(const T& value);

// The body of PUT /api/proxy/fillslots: parse_json<std::vector<Slot>> plus
// validate_slot() on each. Errors name the array index ("slot 3: ...").
Result<std::vector<Slot>> parse_slots(std::string_view text);

// id in [0, 1024), forward_method 0 or 1, group ids in [0, 9999].
Status validate_slot(const Slot& slot);

// Coordinator paths (Codis's models.Store, pkg/models/store.go).
namespace path {
inline constexpr std::string_view kCodisDir = "/codis3";
inline constexpr std::string_view kJodisDir = "/jodis";

std::string product_dir(std::string_view product);  // /codis3/{product}
std::string topom(std::string_view product);        // .../topom
std::string proxy_dir(std::string_view product);    // .../proxy
std::string proxy(std::string_view product, std::string_view token);  // .../proxy/proxy-{token}
std::string group_dir(std::string_view product);    // .../group
std::string group(std::string_view product, int gid);  // .../group/group-%04d
std::string slot_dir(std::string_view product);     // .../slots
std::string slot(std::string_view product, int sid);  // .../slots/slot-%04d
std::string sentinel(std::string_view product);     // .../sentinel
std::string jodis_dir(std::string_view product);    // /jodis/{product}
std::string jodis(std::string_view product, std::string_view token);  // /jodis/{product}/proxy-{token}
// Codis 2 layout for jodis_compatible = true: /zk/codis/db_{product}/proxy-{token}.
std::string jodis_compat(std::string_view product, std::string_view token);
}  // namespace path

}  // namespace codis::models
