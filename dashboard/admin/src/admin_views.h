// The text views codis-admin prints, as pure functions of the JSON the
// daemons return (so they are tested without a daemon). Formats follow
// Codis's codis-admin, which operators' scripts grep:
//   --group-status  "[ ] group-1 [0] 127.0.0.1:6379      ==> NO:ONE"
//   --proxy-status  "[ ] proxy-1 [T] <token> [A] <admin> [P] <proxy>"
//   --rebalance     "[0000,0511] => 1" ... "done" (or "nothing changes")
#pragma once

#include <string>
#include <string_view>

#include "api_client.h"

namespace codis::admin {

// Indented JSON (4 spaces, as Codis's json.MarshalIndent) and a newline.
std::string pretty(const Json &v);

// `stats` is GET /api/topom/stats. "[?]" no stats yet, "[E]" error,
// "[T]" timeout, "[X]" replication not as the group says, "[ ]" fine.
std::string group_status(const Json &stats);
std::string proxy_status(const Json &stats);

// `plan` is the reply of slots/rebalance: {"<sid>": gid, ...}.
std::string rebalance_plan(const Json &plan);

// Picks a part of GET /topom (dashboard) or GET /proxy (proxy) by view name:
// "" or "overview" (all), config, model, stats, slots, group, proxy,
// list-group, list-proxy. Null if the overview lacks the part.
Json select_view(const Json &overview, std::string_view view, bool dashboard);

} // namespace codis::admin
