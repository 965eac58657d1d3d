// Codis 3.2's HTTP rpc conventions (pkg/utils/rpc), shared by every admin API
// server (through codis_api.h) and client of ours (proxy, dashboard, codis-admin):
//   success: 200, application/json, the value as Go's json.MarshalIndent(v, "", "    ");
//   failure: status 800, body {"Cause": "...", "Stack": null}.
// Codis's clients accept 800 (and 1500) as "an error with a cause"; any other
// status only says that the call failed.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace codis::rpc {

inline constexpr unsigned kErrorStatus = 800;

// Go's MarshalIndent layout (nlohmann's dump(4)) with Go's escaping of <, >, &
// and U+2028/9 inside strings. ordered_json keeps a struct's field order.
std::string go_json(const nlohmann::json& v);
std::string go_json(const nlohmann::ordered_json& v);

// The body of a Codis error reply.
std::string error_body(std::string_view cause);

}  // namespace codis::rpc
