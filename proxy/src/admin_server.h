// AdminServer: the proxy's admin HTTP/1.1 endpoint (default :11080), wire
// compatible with Codis 3.2's proxy API (pkg/proxy/proxy_api.go) so that
// codis-dashboard, codis-admin and codis-fe can drive our proxy, plus
// GET /metrics for Prometheus.
//
// The proxy's main() creates one on an io_context run by a dedicated admin
// thread and hands it an AdminApi; the server does the HTTP, routing, xauth
// checks and Codis's JSON/error conventions, and calls AdminApi for the rest.
// Beast and Asio stay in admin_server.cpp (pimpl), so this header is cheap.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "codis/status.h"

namespace boost::asio {
class io_context;
}

namespace codis::proxy {

class AdminApi;

class AdminServer {
 public:
  // Defaults suit production; tests shrink them to exercise the limits.
  struct Limits {
    std::size_t max_body_bytes = 16 * 1024 * 1024;  // fillslots for 1024 slots is ~300 KB
    std::size_t max_header_bytes = 64 * 1024;
    std::size_t max_connections = 64;  // one more gets "503" and is closed
    // Whole request (headers + body), idle keep-alive wait and each write.
    std::chrono::milliseconds io_timeout = std::chrono::seconds(30);
  };

  // `io` and `api` must outlive this object. Nothing runs until the caller
  // runs `io` (in one thread: the server is not meant for a pool of threads).
  AdminServer(boost::asio::io_context& io, AdminApi& api);
  AdminServer(boost::asio::io_context& io, AdminApi& api, Limits limits);
  ~AdminServer();  // stop()s
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds and listens now, so a taken port is reported to the caller at once.
  // addr: "host:port", "[v6]:port" or ":port" (all interfaces); port 0 picks
  // a free port (see port()). Connections are served once `io` runs.
  Status listen(const std::string& addr);

  // The bound port (useful after listen(":0")); 0 before listen().
  uint16_t port() const;

  // Stops accepting, closes idle connections and lets requests in progress
  // finish their reply; `io.run()` then returns once nothing is left.
  // Thread-safe and idempotent; may be called from an API handler.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace codis::proxy
