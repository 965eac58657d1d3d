// rpc::Router: a Codis 3.2 admin API as a route table, the layer between
// http::Router and a daemon's operations. The proxy (proxy/src/proxy_api.cpp)
// and the dashboard (dashboard/src/topom_api.cpp) each fill one;
// http_router() turns it into the http::Router that http::Server serves.
// What it adds to every route:
//   - who may call it (Access, below; docs/operations.md "Security"): the
//     admin secret as "Authorization: Bearer <secret>", a signed-in UI
//     session (with its CSRF token for calls that change something), or,
//     only with admin_compat_xauth, Codis's xauth path segment. A caller
//     without them gets 401 {"Cause": ...}; a bad xauth in compat mode gets
//     Codis's 800 "invalid xauth";
//   - closed_error while closed(), on the routes with an ":xauth" segment;
//   - an exception from a handler becomes "internal error: ..." (800);
//   - every call that may change something (not GET/HEAD) is logged and
//     handed to `audit` with who made it and its outcome, the path shown
//     without the xauth.
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

// Who may call a route.
enum class Access {
  kOpen,       // anyone: health checks, the UI's sign-in
  kMetrics,    // anyone, unless metrics_secret is set: then Bearer metrics_secret (or the admin secret)
  kCodisOpen,  // Codis served it to anyone (GET /topom, /proxy/model): only admin_compat_xauth keeps that
  kAdmin,      // authenticated callers; with admin_compat_xauth also a matching ":xauth" segment
};

struct Route {
  std::string verb;     // "GET", "PUT"
  std::string pattern;  // "/api/topom/group/add/:xauth/:gid/:addr"
  Access access = Access::kAdmin;
  http::Handler handler;  // req.user says who called (see Security)
};

// One mutating call, for the audit log.
struct AuditEvent {
  std::string user;    // "admin" (the secret), an operator's name, "xauth" (compat mode), "" (anonymous)
  std::string remote;  // "ip:port" as in http::Request
  std::string method;
  std::string route;   // the path, without the xauth
  bool ok = false;
  std::string result;  // "OK" or the cause
};

// What a UI session cookie proves (the dashboard's sign-in; see Security).
struct SessionCheck {
  bool present = false;  // the request carries a session cookie at all
  std::string user;      // set when the session is valid for this request
  std::string error;     // why not: expired, or no CSRF token on a call that changes something
};

struct Security {
  std::string admin_secret;     // Bearer <admin_secret> is the admin, everywhere
  bool compat_xauth = false;    // admin_compat_xauth (Codis's tools on a trusted network)
  std::string metrics_secret;   // metrics_auth; empty: /metrics is open
  // The UI's sessions (dashboard only): looks at the request's cookie;
  // `mutating` calls must also carry the session's CSRF token.
  std::function<SessionCheck(const http::Request&, bool mutating)> session;
  std::function<void(const AuditEvent&)> audit;  // every mutating call, after it ran
};

// A daemon's Security from its config (ProxyConfig or DashboardConfig, after
// main() has resolved admin_auth).
template <class Config>
Security security_from(const Config& c) {
  Security s;
  s.admin_secret = c.admin_auth;
  s.compat_xauth = c.admin_compat_xauth;
  s.metrics_secret = c.metrics_auth;
  return s;
}

struct Router {
  std::vector<Route> routes;
  Security security;
  std::function<std::string()> xauth;  // the expected Codis xauth (32 hex chars), for compat mode
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
                       const std::string& who, http::Headers headers = {}) const;
};

}  // namespace codis::rpc
