// AdminApi: what the proxy's admin API (proxy_api.h: Codis's routes, served
// by an http::Server) needs from the proxy. The proxy implements it; tests
// implement it with a fake. Keeping this seam narrow lets the HTTP layer
// (routing, xauth, Codis wire format) be tested without a running proxy, and
// lets the proxy be written without Beast.
//
// Every call comes from the admin server's thread (the proxy's control
// thread); implementations must be thread-safe with respect to the proxy's
// worker threads. A call may throw in the control plane: the server turns an
// exception into a Codis error reply.
#pragma once

#include <nlohmann/json.hpp>  // ok in this header; it is included by few files
#include <string>
#include <string_view>

#include "codis/status.h"

namespace codis::proxy {

class AdminApi {
 public:
  virtual ~AdminApi() = default;

  virtual std::string xauth() const = 0;                   // 32 hex chars
  virtual nlohmann::json overview() const = 0;             // GET /proxy : {version, compile, config, model, stats, slots}
  virtual nlohmann::json model() const = 0;                // Codis models.Proxy JSON
  virtual nlohmann::json stats(bool with_cmds) const = 0;  // Codis proxy Stats JSON
  virtual nlohmann::json slots() const = 0;                // array of Codis models.Slot
  virtual Status start() = 0;                              // mark online
  virtual Status fill_slots(const nlohmann::json& slots) = 0;  // body of PUT fillslots, already parsed JSON; impl validates
  virtual void reset_stats() = 0;
  virtual Status set_log_level(std::string_view level) = 0;
  virtual Status shutdown() = 0;                           // stop the proxy (asynchronously; reply first)
  virtual Status set_sentinels(const nlohmann::json& sentinel) = 0;
  virtual Status rewatch_sentinels() = 0;
  virtual std::string metrics() const = 0;                 // Prometheus text exposition
  // GET /health: "" when the proxy should get clients (online, not closing, every worker thread
  // turning), else why not. Cheap: load balancers call it every second.
  virtual std::string unhealthy() const { return ""; }
  // Re-reads users_file (PUT /api/proxy/acl/reload); an error leaves the users as they were.
  virtual Status reload_users() { return Status::Error("users are not supported here"); }

  // Codis refuses every xauth-checked call of a closed proxy with "use of
  // closed proxy" before it even looks at the xauth. Optional: a proxy that
  // does not override this is never reported closed by the admin server.
  virtual bool closed() const { return false; }
};

}  // namespace codis::proxy
