// RpcServer: the dashboard's HTTP/1.1 API endpoint (Boost.Beast), in front of
// a Router (rpc.h) holding Codis 3.2's dashboard routes. One accept loop and
// one coroutine per connection run on the caller's io_context; handlers run
// on a small thread pool because Topom operations block on the coordinator,
// proxies and redis servers (a slow proxy must not stall GET /topom/stats).
// Beast and Asio stay in rpc_server.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "codis/status.h"
#include "rpc.h"

namespace boost::asio {
class io_context;
}

namespace codis::dashboard {

class RpcServer {
 public:
  // `io` must outlive this object; `router` is copied.
  RpcServer(boost::asio::io_context& io, Router router, int handler_threads = 4);
  ~RpcServer();
  RpcServer(const RpcServer&) = delete;
  RpcServer& operator=(const RpcServer&) = delete;

  // Binds now, so a taken port is reported at once. "host:port", ":port".
  Status listen(const std::string& addr);
  uint16_t port() const;
  // Stops accepting and closes idle connections; thread-safe, idempotent.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace codis::dashboard
