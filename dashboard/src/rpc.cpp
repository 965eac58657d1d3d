#include "rpc.h"

#include "codis/codis_rpc.h"

#include <spdlog/spdlog.h>

#include <exception>
#include <optional>

namespace codis::dashboard {

using nlohmann::json;

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

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The decoded path, as Go's URL.Path (Codis's router matches on it).
std::optional<std::string> request_path(std::string_view target) {
  if (target.starts_with("http://") || target.starts_with("https://")) {
    target.remove_prefix(target.find("//") + 2);
    const auto slash = target.find('/');
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  target = target.substr(0, target.find_first_of("?#"));
  if (!target.starts_with('/')) return std::nullopt;
  std::string path;
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] != '%') {
      path += target[i];
      continue;
    }
    if (i + 2 >= target.size()) return std::nullopt;
    const int hi = hex_value(target[i + 1]), lo = hex_value(target[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    path += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return path;
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segs;
  if (path.starts_with('/')) path.remove_prefix(1);
  if (path.ends_with('/')) path.remove_suffix(1);
  if (path.empty()) return segs;
  for (;;) {
    const auto slash = path.find('/');
    segs.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segs;
}

bool same_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

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
