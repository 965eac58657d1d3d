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

struct ProxyRoute {
  std::string_view verb;
  std::string_view pattern;  // ":name" segments are parameters
  bool needs_xauth;
  Handler handler;
};

// Codis 3.2 pkg/proxy/proxy_api.go, plus GET /metrics.
const ProxyRoute kRoutes[] = {
    {"GET", "/", false,
     [](AdminApi&, const Call&) {
       http::Reply r = http::text(302, "");
       r.location = "/proxy";
       return r;
     }},
    {"GET", "/proxy", false, [](AdminApi& api, const Call&) { return json_ok(api.overview()); }},
    {"GET", "/proxy/model", false, [](AdminApi& api, const Call&) { return json_ok(api.model()); }},
    {"GET", "/proxy/stats", false, [](AdminApi& api, const Call&) { return json_ok(api.stats(true)); }},
    {"GET", "/proxy/slots", false, [](AdminApi& api, const Call&) { return json_ok(api.slots()); }},
    {"GET", "/metrics", false,
     [](AdminApi& api, const Call&) { return http::text(200, api.metrics(), rpc::kMetricsType); }},

    {"GET", "/api/proxy/model", false, [](AdminApi& api, const Call&) { return json_ok(api.model()); }},
    {"GET", "/api/proxy/xping/:xauth", true, [](AdminApi&, const Call&) { return json_ok(); }},
    {"GET", "/api/proxy/stats/:xauth", true, [](AdminApi& api, const Call&) { return json_ok(api.stats(false)); }},
    {"GET", "/api/proxy/stats/:xauth/:flags", true,
     [](AdminApi& api, const Call& c) {
       auto flags = parse_stats_flags(c.param("flags"));
       if (!flags) return json_error(flags.message());
       return json_ok(api.stats((*flags & 1u) != 0));
     }},
    {"GET", "/api/proxy/slots/:xauth", true, [](AdminApi& api, const Call&) { return json_ok(api.slots()); }},
    {"PUT", "/api/proxy/start/:xauth", true, [](AdminApi& api, const Call&) { return json_reply(api.start()); }},
    {"PUT", "/api/proxy/stats/reset/:xauth", true,
     [](AdminApi& api, const Call&) {
       api.reset_stats();
       return json_ok();
     }},
    // Codis runs Go's garbage collector here; we have none.
    {"PUT", "/api/proxy/forcegc/:xauth", true, [](AdminApi&, const Call&) { return json_ok(); }},
    {"PUT", "/api/proxy/shutdown/:xauth", true, [](AdminApi& api, const Call&) { return json_reply(api.shutdown()); }},
    {"PUT", "/api/proxy/loglevel/:xauth/:value", true,
     [](AdminApi& api, const Call& c) { return json_reply(api.set_log_level(c.param("value"))); }},
    {"PUT", "/api/proxy/fillslots/:xauth", true,
     [](AdminApi& api, const Call& c) {
       auto slots = parse_body(c.body, json::value_t::array, "fillslots body (an array of slots)");
       if (!slots) return json_error(slots.message());
       return json_reply(api.fill_slots(*slots));
     }},
    {"PUT", "/api/proxy/sentinels/:xauth", true,
     [](AdminApi& api, const Call& c) {
       auto sentinel = parse_body(c.body, json::value_t::object, "sentinels body (a Sentinel object)");
       if (!sentinel) return json_error(sentinel.message());
       return json_reply(api.set_sentinels(*sentinel));
     }},
    {"PUT", "/api/proxy/sentinels/:xauth/rewatch", true,
     [](AdminApi& api, const Call&) { return json_reply(api.rewatch_sentinels()); }},
};

}  // namespace

rpc::Router make_proxy_router(AdminApi& api) {
  rpc::Router router;
  for (const ProxyRoute& route : kRoutes) {
    router.routes.push_back(rpc::Route{std::string(route.verb), std::string(route.pattern), route.needs_xauth,
                                       [&api, h = route.handler](const Call& c) { return h(api, c); }});
  }
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
