#include "proxy_api.h"

#include <charconv>
#include <cstdint>
#include <string>
#include <utility>

#include "admin_api.h"

namespace codis::proxy {

using nlohmann::json;

namespace {

using rpc::json_error;
using rpc::json_ok;
using rpc::json_reply;

// Go quotes the offending text in strconv errors.
std::string go_quote(std::string_view s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  q += '"';
  return q;
}

// Codis's StatsFlags: strconv.Atoi then a uint32 bit mask; bit 0 (StatsCmds)
// asks for per-command stats. The other bits (slots, Go runtime) have no
// meaning for the stats reply of our proxy.
Result<uint32_t> parse_stats_flags(std::string_view s) {
  std::string_view digits = s;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  int64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || (digits.front() == '-' && digits.size() == 1) || end != digits.data() + digits.size() ||
      (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    return Result<uint32_t>::Error("strconv.Atoi: parsing " + go_quote(s) + ": invalid syntax");
  }
  if (ec == std::errc::result_out_of_range) {
    return Result<uint32_t>::Error("strconv.Atoi: parsing " + go_quote(s) + ": value out of range");
  }
  return static_cast<uint32_t>(n);
}

// The PUT bodies are JSON; Codis decodes an empty body to the zero value
// (no slots / no sentinels), so we do too. Invalid JSON is refused without
// calling the proxy (Codis's binding would have passed a half-decoded value).
Result<json> parse_body(const std::string& body, json::value_t expected, std::string_view what) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return json(expected);
  json v = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (v.is_discarded()) {
    return Result<json>::Error("invalid json body: cannot parse " + std::string(what) + " (not valid JSON)");
  }
  if (v.is_null()) return json(expected);
  if (v.type() != expected) {
    return Result<json>::Error("invalid json body: " + std::string(what) + " must be a JSON " +
                               (expected == json::value_t::array ? "array" : "object") + ", got " +
                               v.type_name());
  }
  return v;
}

using Call = http::Request;
using Handler = http::Reply (*)(AdminApi&, const Call&);

using rpc::Access;
constexpr Access kOpen = Access::kOpen;
constexpr Access kCodisOpen = Access::kCodisOpen;
constexpr Access kAdmin = Access::kAdmin;

struct ProxyRoute {
  std::string_view verb;
  std::string_view pattern;  // ":name" segments are parameters
  Access access;
  Handler handler;
};

// Codis 3.2 pkg/proxy/proxy_api.go, plus GET /metrics and GET /health.
// Codis served the GET /proxy* reads to anyone; they hold the proxy's token,
// so they need the admin secret unless admin_compat_xauth is on.
const ProxyRoute kRoutes[] = {
    {"GET", "/", kOpen,
     [](AdminApi&, const Call&) {
       http::Reply r = http::text(302, "");
       r.location = "/proxy";
       return r;
     }},
    {"GET", "/proxy", kCodisOpen, [](AdminApi& api, const Call&) { return json_ok(api.overview()); }},
    {"GET", "/proxy/model", kCodisOpen, [](AdminApi& api, const Call&) { return json_ok(api.model()); }},
    {"GET", "/proxy/stats", kCodisOpen, [](AdminApi& api, const Call&) { return json_ok(api.stats(true)); }},
    {"GET", "/proxy/slots", kCodisOpen, [](AdminApi& api, const Call&) { return json_ok(api.slots()); }},
    {"GET", "/metrics", Access::kMetrics,
     [](AdminApi& api, const Call&) { return http::text(200, api.metrics(), rpc::kMetricsType); }},
    // For load balancers (HAProxy's check) and systemd: 200 "OK" when the proxy should get clients, else
    // 503 with the reason. On the admin port, so a flood of the client port cannot starve it.
    {"GET", "/health", kOpen,
     [](AdminApi& api, const Call&) {
       const std::string why = api.unhealthy();
       return why.empty() ? http::text(200, "OK\n") : http::text(503, why + "\n");
     }},

    {"GET", "/api/proxy/model", kCodisOpen, [](AdminApi& api, const Call&) { return json_ok(api.model()); }},
    {"GET", "/api/proxy/xping/:xauth", kAdmin, [](AdminApi&, const Call&) { return json_ok(); }},
    {"GET", "/api/proxy/stats/:xauth", kAdmin, [](AdminApi& api, const Call&) { return json_ok(api.stats(false)); }},
    {"GET", "/api/proxy/stats/:xauth/:flags", kAdmin,
     [](AdminApi& api, const Call& c) {
       auto flags = parse_stats_flags(c.param("flags"));
       if (!flags) return json_error(flags.message());
       return json_ok(api.stats((*flags & 1u) != 0));
     }},
    {"GET", "/api/proxy/slots/:xauth", kAdmin, [](AdminApi& api, const Call&) { return json_ok(api.slots()); }},
    {"PUT", "/api/proxy/start/:xauth", kAdmin, [](AdminApi& api, const Call&) { return json_reply(api.start()); }},
    {"PUT", "/api/proxy/stats/reset/:xauth", kAdmin,
     [](AdminApi& api, const Call&) {
       api.reset_stats();
       return json_ok();
     }},
    // Codis runs Go's garbage collector here; we have none.
    {"PUT", "/api/proxy/forcegc/:xauth", kAdmin, [](AdminApi&, const Call&) { return json_ok(); }},
    // Not in Codis: re-reads users_file (as ACL LOAD and SIGHUP do).
    {"PUT", "/api/proxy/acl/reload/:xauth", kAdmin,
     [](AdminApi& api, const Call&) { return json_reply(api.reload_users()); }},
    {"PUT", "/api/proxy/shutdown/:xauth", kAdmin, [](AdminApi& api, const Call&) { return json_reply(api.shutdown()); }},
    {"PUT", "/api/proxy/loglevel/:xauth/:value", kAdmin,
     [](AdminApi& api, const Call& c) { return json_reply(api.set_log_level(c.param("value"))); }},
    {"PUT", "/api/proxy/fillslots/:xauth", kAdmin,
     [](AdminApi& api, const Call& c) {
       auto slots = parse_body(c.body, json::value_t::array, "fillslots body (an array of slots)");
       if (!slots) return json_error(slots.message());
       return json_reply(api.fill_slots(*slots));
     }},
    {"PUT", "/api/proxy/sentinels/:xauth", kAdmin,
     [](AdminApi& api, const Call& c) {
       auto sentinel = parse_body(c.body, json::value_t::object, "sentinels body (a Sentinel object)");
       if (!sentinel) return json_error(sentinel.message());
       return json_reply(api.set_sentinels(*sentinel));
     }},
    {"PUT", "/api/proxy/sentinels/:xauth/rewatch", kAdmin,
     [](AdminApi& api, const Call&) { return json_reply(api.rewatch_sentinels()); }},
};

}  // namespace

rpc::Router make_proxy_router(AdminApi& api, rpc::Security security) {
  rpc::Router router;
  for (const ProxyRoute& route : kRoutes) {
    router.routes.push_back(rpc::Route{std::string(route.verb), std::string(route.pattern), route.access,
                                       [&api, h = route.handler](const Call& c) { return h(api, c); }});
  }
  router.security = std::move(security);
  router.xauth = [&api] { return api.xauth(); };
  router.closed = [&api] { return api.closed(); };
  router.closed_error = "use of closed proxy";
  router.log_name = "admin";
  // Our proxy has always answered HEAD with 405 (and no body); Codis's martini
  // served HEAD from the GET routes, as our dashboard does.
  router.http_options.head_as_get = false;
  return router;
}

}  // namespace codis::proxy
