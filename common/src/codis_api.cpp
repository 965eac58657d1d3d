#include "codis/codis_api.h"

#include "codis/admin_auth.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <mutex>
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

// Refused and failed calls are logged at most kPerSecond lines a second: a
// flood of bad credentials must not flood the log. The count of lines left
// out goes into the next line that is written.
class LogBudget {
 public:
  // True when a line may be written now; `skipped` is set to how many were left out before it.
  bool take(long& skipped) {
    std::lock_guard lk(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (now - window_ >= std::chrono::seconds(1)) window_ = now, used_ = 0;
    if (used_ >= kPerSecond) {
      ++skipped_;
      return false;
    }
    ++used_;
    skipped = skipped_;
    skipped_ = 0;
    return true;
  }

 private:
  static constexpr int kPerSecond = 20;
  std::mutex mu_;
  std::chrono::steady_clock::time_point window_{};
  int used_ = 0;
  long skipped_ = 0;
};

// What every route of one table shares; the http::Router's handlers hold it.
struct Policy {
  Security security;
  std::function<std::string()> xauth;
  std::function<bool()> closed;
  std::string closed_error;
  std::string log_name;
  std::shared_ptr<LogBudget> refusals = std::make_shared<LogBudget>();
};

std::string skipped_note(long skipped) {
  return skipped > 0 ? " (" + std::to_string(skipped) + " more refused or failed calls not logged)" : "";
}

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

http::Reply unauthorized(std::string_view cause) {
  http::Reply r = json_error(cause);
  r.status = 401;
  r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"codis\"");
  return r;
}

constexpr std::string_view kHowToAuth =
    "send \"Authorization: Bearer <admin_auth>\" (codis-admin --auth, or sign in to the web UI); "
    "see docs/operations.md, Security";

// Who the caller is, or the reply that refuses it.
struct Verdict {
  bool allowed = false;
  std::string user;
  http::Reply refusal;
};

Verdict authorize(const Policy& p, Access access, bool has_xauth, bool mutating, const http::Request& req) {
  const Security& sec = p.security;
  if (access == Access::kOpen) return {true, "", {}};
  const auto authorization = req.header("Authorization");
  if (!authorization.empty()) {
    const auto token = auth::bearer_token(authorization);
    if (!token.empty() && auth::same_secret(token, sec.admin_secret)) return {true, "admin", {}};
    if (!token.empty() && access == Access::kMetrics && !sec.metrics_secret.empty() &&
        auth::same_secret(token, sec.metrics_secret)) {
      return {true, "metrics", {}};
    }
    return {false, "", unauthorized("invalid credentials in the Authorization header: " + std::string(kHowToAuth))};
  }
  if (sec.session) {
    SessionCheck s = sec.session(req, mutating);
    if (!s.user.empty()) return {true, std::move(s.user), {}};
    if (s.present && !s.error.empty()) return {false, "", unauthorized(s.error)};
  }
  if (access == Access::kMetrics && sec.metrics_secret.empty()) return {true, "", {}};
  if (sec.compat_xauth) {
    if (access == Access::kCodisOpen) return {true, "", {}};
    if (access == Access::kAdmin && has_xauth) {
      if (p.xauth && auth::same_secret(req.param("xauth"), p.xauth())) return {true, "xauth", {}};
      return {false, "", json_error("invalid xauth, please check product name & auth")};
    }
  }
  return {false, "", unauthorized("authentication required: " + std::string(kHowToAuth))};
}

http::Handler guarded(std::shared_ptr<const Policy> policy, const Route& route) {
  const bool has_xauth = route.pattern.find("/:xauth") != std::string::npos;
  return [policy = std::move(policy), pattern = route.pattern, access = route.access, has_xauth,
          handler = route.handler](const http::Request& req) -> http::Reply {
    const auto& p = *policy;
    const bool mutating = req.method != "GET" && req.method != "HEAD";
    Verdict v = authorize(p, access, has_xauth, mutating, req);
    if (!v.allowed) {
      if (long skipped = 0; p.refusals->take(skipped)) {
        spdlog::warn("{}: {} {} from {}: refused: {}{}", p.log_name, req.method, shown_route(pattern, req),
                     req.remote, v.refusal.error, skipped_note(skipped));
      }
      if (mutating && p.security.audit) {
        p.security.audit(AuditEvent{"", req.remote, req.method, shown_route(pattern, req), false,
                                    "refused: " + v.refusal.error});
      }
      return std::move(v.refusal);
    }
    http::Reply reply;
    try {
      if (has_xauth && p.closed && p.closed()) {
        reply = json_error(p.closed_error);
      } else {
        http::Request authed = req;
        authed.user = v.user;
        reply = handler(authed);
      }
    } catch (const std::exception& e) {
      reply = json_error(std::string("internal error: ") + e.what());
    } catch (...) {
      reply = json_error("internal error: unknown exception");
    }
    if (mutating) {
      const bool ok = reply.status < 300;
      const std::string result = ok ? std::string("OK") : "failed: " + reply.error;
      const std::string who = v.user.empty() ? std::string("anonymous") : v.user;
      // Every change is logged; failures of anonymous calls (sign-in attempts) within the budget.
      if (long skipped = 0; ok || !v.user.empty() || p.refusals->take(skipped)) {
        spdlog::info("{}: API call {} {} by {} from {}: {}{}", p.log_name, req.method, shown_route(pattern, req),
                     who, req.remote, result, skipped_note(skipped));
      }
      if (p.security.audit) {
        p.security.audit(AuditEvent{v.user, req.remote, req.method, shown_route(pattern, req), ok,
                                    ok ? std::string("OK") : reply.error});
      }
    } else if (reply.status != 200) {
      spdlog::debug("{}: {} {} from {}: failed: {}", p.log_name, req.method, shown_route(pattern, req), req.remote,
                    reply.error);
    }
    return reply;
  };
}

}  // namespace

http::Router Router::http_router() const {
  auto policy = std::make_shared<const Policy>(Policy{security, xauth, closed, closed_error, log_name});
  http::Router router(http_options);
  for (const Route& route : routes) router.add(route.verb, route.pattern, guarded(policy, route));
  return router;
}

http::Reply Router::dispatch(std::string_view verb, std::string_view target, const std::string& body,
                             const std::string& who, http::Headers headers) const {
  return http_router().dispatch(verb, target, body, who, std::move(headers));
}

}  // namespace codis::rpc
