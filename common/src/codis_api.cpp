#include "codis/codis_api.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <utility>

namespace codis::rpc {

http::Reply json_ok(const nlohmann::json& v) { return http::text(200, go_json(v), kJsonType); }

http::Reply json_ok(const nlohmann::ordered_json& v) { return http::text(200, go_json(v), kJsonType); }

http::Reply json_error(std::string_view cause) {
  http::Reply r = http::text(kErrorStatus, error_body(cause), kJsonType);
  r.error = cause;
  return r;
}

namespace {

// What every route of one table shares; the http::Router's handlers hold it.
struct Policy {
  std::function<std::string()> xauth;
  std::function<bool()> closed;
  std::string closed_error;
  std::string log_name;
};

// The path as called with the secret left out, for the log:
// "/api/proxy/loglevel/:xauth/debug".
std::string shown_route(std::string_view pattern, const http::Request& req) {
  std::string shown;
  for (std::size_t at = 0; at < pattern.size();) {
    const auto next = std::min(pattern.find('/', at + 1), pattern.size());
    const auto seg = pattern.substr(at, next - at);  // "/name" or "/:name"
    if (seg.starts_with("/:") && seg != "/:xauth") {
      shown.append("/").append(req.param(seg.substr(2)));
    } else {
      shown.append(seg);
    }
    at = next;
  }
  return shown;
}

http::Handler guarded(std::shared_ptr<const Policy> policy, const Route& route) {
  return [policy = std::move(policy), pattern = route.pattern, needs_xauth = route.needs_xauth,
          handler = route.handler](const http::Request& req) -> http::Reply {
    const auto& p = *policy;
    http::Reply reply;
    try {
      if (needs_xauth && p.closed && p.closed()) {
        reply = json_error(p.closed_error);
      } else if (needs_xauth && !same_secret(req.param("xauth"), p.xauth())) {
        spdlog::warn("{}: {} {} from {}: invalid xauth", p.log_name, req.method, shown_route(pattern, req),
                     req.remote);
        return json_error("invalid xauth, please check product name & auth");
      } else {
        reply = handler(req);
      }
    } catch (const std::exception& e) {
      reply = json_error(std::string("internal error: ") + e.what());
    } catch (...) {
      reply = json_error("internal error: unknown exception");
    }
    if (req.method != "GET" && req.method != "HEAD") {
      spdlog::info("{}: API call {} {} from {}: {}", p.log_name, req.method, shown_route(pattern, req), req.remote,
                   reply.status == 200 ? std::string("OK") : "failed: " + reply.error);
    } else if (reply.status != 200) {
      spdlog::debug("{}: {} {} from {}: failed: {}", p.log_name, req.method, shown_route(pattern, req), req.remote,
                    reply.error);
    }
    return reply;
  };
}

}  // namespace

http::Router Router::http_router() const {
  auto policy = std::make_shared<const Policy>(Policy{xauth, closed, closed_error, log_name});
  http::Router router(http_options);
  for (const Route& route : routes) router.add(route.verb, route.pattern, guarded(policy, route));
  return router;
}

http::Reply Router::dispatch(std::string_view verb, std::string_view target, const std::string& body,
                             const std::string& who) const {
  return http_router().dispatch(verb, target, body, who);
}

}  // namespace codis::rpc
