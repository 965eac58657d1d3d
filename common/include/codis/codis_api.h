// rpc::Router: a Codis 3.2 admin API as a route table, the layer between
// http::Router and a daemon's operations. The proxy (proxy/src/proxy_api.cpp,
// pkg/proxy/proxy_api.go) and the dashboard (dashboard/src/topom_api.cpp,
// pkg/topom/topom_api.go) each fill one; http_router() turns it into the
// http::Router that http::Server serves. What it adds to every route, as
// Codis's martini handlers did:
//   - a route with `needs_xauth` (its path has an ":xauth" segment) is refused
//     with status 800 "invalid xauth, please check product name & auth" unless
//     the segment equals xauth(), and with `closed_error` while closed();
//   - an exception from a handler becomes "internal error: ..." (800);
//   - every call that may change something (not GET/HEAD) is logged with its
//     outcome, the path shown without the secret.
// json_ok / json_error / json_reply build the replies (codis/codis_rpc.h).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "codis/codis_rpc.h"
#include "codis/http_server.h"
#include "codis/status.h"

namespace codis::rpc {

inline constexpr std::string_view kJsonType = "application/json; charset=utf-8";
inline constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";  // Prometheus

// 200 with the value in Go's json.MarshalIndent layout; "OK" by default.
http::Reply json_ok(const nlohmann::json& v);
http::Reply json_ok(const nlohmann::ordered_json& v);
inline http::Reply json_ok() { return json_ok(nlohmann::json("OK")); }
// Codis's RemoteError: 800, {"Cause": cause, "Stack": null}; `error` = cause.
http::Reply json_error(std::string_view cause);
inline http::Reply json_reply(const Status& st) { return st.ok() ? json_ok() : json_error(st.message()); }

struct Route {
  std::string verb;     // "GET", "PUT"
  std::string pattern;  // "/api/topom/group/add/:xauth/:gid/:addr"
  bool needs_xauth = false;
  http::Handler handler;
};

struct Router {
  std::vector<Route> routes;
  std::function<std::string()> xauth;  // the expected xauth (32 hex chars)
  std::function<bool()> closed;        // optional: Codis refuses every xauth call of a closed proxy/topom
  std::string closed_error;            // "use of closed proxy", "use of closed topom"
  std::string log_name = "api";        // the prefix of its log lines: "admin", "api"
  http::Router::Options http_options;  // how HEAD is served

  // The routes with Codis's checks around each handler. The result holds
  // copies of xauth/closed, not a reference to this table.
  http::Router http_router() const;

  // Routes one request without sockets (for tests); builds the http::Router
  // on every call.
  http::Reply dispatch(std::string_view verb, std::string_view target, const std::string& body,
                       const std::string& who) const;
};

}  // namespace codis::rpc
