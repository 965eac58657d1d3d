#include "rpc.h"

#include "codis/codis_rpc.h"

#include <spdlog/spdlog.h>

#include <exception>
#include <optional>

namespace codis::dashboard {

using nlohmann::json;

using rpc::request_path;
using rpc::same_secret;
using rpc::split_path;

std::string go_json(const json& v) { return rpc::go_json(v); }
std::string go_json(const nlohmann::ordered_json& v) { return rpc::go_json(v); }

HttpReply json_ok(const nlohmann::ordered_json& v) {
  HttpReply r;
  r.body = go_json(v);
  return r;
}

HttpReply json_ok(const json& v) {
  HttpReply r;
  r.body = go_json(v);
  return r;
}

HttpReply json_error(std::string_view cause) {
  HttpReply r;
  r.status = kCodisErrorStatus;
  r.body = rpc::error_body(cause);
  r.error = cause;
  return r;
}

HttpReply plain(unsigned status, std::string body, std::string_view type) {
  HttpReply r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = type;
  return r;
}


HttpReply Router::dispatch(std::string_view verb, std::string_view target, const std::string& body,
                           const std::string& who) const {
  const auto path = request_path(target);
  if (!path) return plain(400, "400 bad request: malformed request target\n");
  const auto segs = split_path(*path);
  std::string allowed;
  for (const Route& route : routes) {
    const auto pattern = split_path(route.pattern);
    if (pattern.size() != segs.size()) continue;
    Call call{{}, body, who};
    bool match = true;
    for (std::size_t i = 0; i < segs.size() && match; ++i) {
      if (pattern[i].starts_with(':')) {
        match = !segs[i].empty();
        call.params.emplace_back(std::string(pattern[i].substr(1)), std::string(segs[i]));
      } else {
        match = pattern[i] == segs[i];
      }
    }
    if (!match) continue;
    if (route.verb != verb && !(verb == "HEAD" && route.verb == "GET")) {
      if (allowed.find(route.verb) == std::string::npos) {
        if (!allowed.empty()) allowed += ", ";
        allowed += route.verb;
      }
      continue;
    }
    std::string shown = route.pattern;  // the route without the secret
    for (const auto& [k, v] : call.params) {
      if (k == "xauth") continue;
      const auto at = shown.find(":" + k);
      if (at != std::string::npos) shown.replace(at, k.size() + 1, v);
    }
    HttpReply reply;
    try {
      if (route.needs_xauth && closed && closed()) {
        reply = json_error(closed_error);
      } else if (route.needs_xauth && !same_secret(call.param("xauth"), xauth())) {
        spdlog::warn("api: {} {} from {}: invalid xauth", verb, shown, who);
        return json_error("invalid xauth, please check product name & auth");
      } else {
        reply = route.handler(call);
      }
    } catch (const std::exception& e) {
      reply = json_error(std::string("internal error: ") + e.what());
    } catch (...) {
      reply = json_error("internal error: unknown exception");
    }
    if (verb != "GET" && verb != "HEAD") {
      spdlog::info("api: API call {} {} from {}: {}", verb, shown, who,
                   reply.status == 200 ? std::string("OK") : "failed: " + reply.error);
    } else if (reply.status != 200) {
      spdlog::debug("api: {} {} from {}: failed: {}", verb, shown, who, reply.error);
    }
    return reply;
  }
  if (!allowed.empty()) {
    HttpReply r = plain(405, "405 method not allowed\n");
    r.location = allowed;  // carried to the Allow header by the server
    return r;
  }
  return plain(404, "404 page not found\n");
}

}  // namespace codis::dashboard
