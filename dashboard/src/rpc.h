// Codis 3.2's HTTP rpc conventions (pkg/utils/rpc), shared by the dashboard's
// API server (RpcServer) and its clients (ProxyClient):
//   success: 200, application/json, the value as Go's json.MarshalIndent(v, "", "    ");
//   failure: status 800, body {"Cause": "...", "Stack": null}.
// Plain data and functions only, so Topom code can build replies without Beast.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "codis/status.h"

namespace codis::dashboard {

inline constexpr unsigned kCodisErrorStatus = 800;  // codis::rpc::kErrorStatus
inline constexpr std::string_view kJsonType = "application/json; charset=utf-8";
inline constexpr std::string_view kTextType = "text/plain; charset=utf-8";
inline constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";

struct HttpReply {
  unsigned status = 200;
  std::string body;
  std::string content_type = std::string(kJsonType);
  std::string location;  // redirects
  std::string error;     // the Cause of a Codis error, for the log
  std::vector<std::pair<std::string, std::string>> headers;  // extra response headers (Cache-Control, ...)
};

// Go's MarshalIndent layout, with Go's escaping of <, >, & and U+2028/9.
// ordered_json keeps Go's struct field order (models::encode's order).
std::string go_json(const nlohmann::json& v);
std::string go_json(const nlohmann::ordered_json& v);

HttpReply json_ok(const nlohmann::json& v);
HttpReply json_ok(const nlohmann::ordered_json& v);
inline HttpReply json_ok() { return json_ok(nlohmann::json("OK")); }
HttpReply json_error(std::string_view cause);
inline HttpReply json_reply(const Status& st) { return st.ok() ? json_ok() : json_error(st.message()); }
HttpReply plain(unsigned status, std::string body, std::string_view type = kTextType);

// What a handler gets: decoded path parameters and the raw body.
struct Call {
  std::vector<std::pair<std::string, std::string>> params;
  std::string body;
  std::string remote;  // who called, for the log

  std::string_view param(std::string_view name) const {
    for (const auto& [k, v] : params) {
      if (k == name) return v;
    }
    return {};
  }
};

struct Route {
  std::string verb;     // "GET", "PUT"
  std::string pattern;  // "/api/topom/group/create/:xauth/:gid"; ":name" segments are parameters
  bool needs_xauth = false;
  std::function<HttpReply(const Call&)> handler;
};

// Routing, xauth checks and logging for one request; never throws. Exposed
// for unit tests of the route table without sockets. `allowed` gets the
// verbs of routes whose path matched (for 405).
struct Router {
  std::vector<Route> routes;
  std::function<std::string()> xauth;  // the expected xauth
  std::function<bool()> closed;        // Codis refuses every xauth call of a closed topom
  std::string closed_error = "use of closed topom";

  HttpReply dispatch(std::string_view verb, std::string_view target, const std::string& body,
                     const std::string& who) const;
};

}  // namespace codis::dashboard
