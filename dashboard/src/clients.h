// Blocking clients the dashboard's control plane uses: a Redis connection
// (AUTH, PING, INFO, SLAVEOF ...) and Codis's rpc client for a proxy's admin
// API. Every call has a deadline, so a dead peer costs at most `timeout`, and
// every error names the peer and the step. Blocking on purpose: these run on
// the API's handler threads and the stats poller. The Redis client is plain
// POSIX sockets; rpc_call is codis/http_client.h.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "codis/http_client.h"
#include "codis/resp.h"
#include "codis/status.h"

namespace codis::dashboard {

namespace redis_tls {
class Conn;
}

class RedisClient {
 public:
  // Connects and AUTHs (when auth is not empty); over TLS when dashboard.toml
  // sets backend_tls (redis_tls.h).
  static Result<RedisClient> connect(const std::string& addr, const std::string& auth,
                                     std::chrono::milliseconds timeout);
  RedisClient(RedisClient&& other) noexcept;
  RedisClient& operator=(RedisClient&& other) noexcept;
  ~RedisClient();

  // One command; an error reply is a Value of type kError (not a failed Result).
  Result<resp::Value> call(const std::vector<std::string>& args);
  // INFO as a key -> value map (all sections).
  Result<std::map<std::string, std::string>> info();
  // SLAVEOF host port / SLAVEOF NO ONE (master = "NO:ONE"), with masterauth set first.
  Status set_master(const std::string& master, const std::string& auth);

 private:
  RedisClient(int fd, std::string addr, std::chrono::milliseconds timeout);  // out of line: tls_'s type is incomplete here
  int fd_ = -1;
  std::unique_ptr<redis_tls::Conn> tls_;  // backend_tls: the session over fd_
  std::string addr_;
  std::chrono::milliseconds timeout_;
  std::string buffer_;
};

// The TLS of the dashboard's calls to proxies (rpc_call): HTTPS verified
// against admin_tls_ca_file when set, plain HTTP when null. main() sets it
// once at start-up, before anything calls a proxy.
void set_proxy_tls(std::shared_ptr<const http::ClientTls> tls);

// Codis rpc over http::request (one connection per call, "Authorization:
// Bearer <bearer>" when `bearer` is not empty, HTTPS per set_proxy_tls):
// 200 -> the JSON value; 800/1500 -> an error with the remote Cause;
// 401 -> an error with the Cause; anything else -> an error with the status and body.
Result<nlohmann::json> rpc_call(const std::string& addr, std::string_view method, const std::string& path,
                                const std::string& body, std::chrono::milliseconds timeout,
                                const std::string& bearer = "");

// Percent-encodes one path segment (Codis's rpc.EncodeURL).
std::string url_segment(std::string_view s);

}  // namespace codis::dashboard
