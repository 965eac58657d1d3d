// TLS for the dashboard's Redis connections (RedisClient), when dashboard.toml
// sets backend_tls: servers that listen on a TLS port only. The context is
// built once at start (configure, from main) and shared by every connection;
// I/O stays blocking-with-deadlines as RedisClient's plain path is: the
// socket is non-blocking and every wait is a poll() bounded by the caller's
// deadline. Sentinels are reached through RedisClient too, so with
// backend_tls they must speak TLS as well (sentinel's tls-port).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "codis/status.h"
#include "codis/tls.h"

namespace codis::dashboard::redis_tls {

struct Settings {
  bool enabled = false;
  std::string ca_file, cert_file, key_file, server_name;
};
// Builds the context (errors name the file); enabled() is true afterwards if settings.enabled.
Status configure(const Settings& settings);
bool enabled();

class Conn {
 public:
  using Deadline = std::chrono::steady_clock::time_point;
  // The client handshake on a connected socket (`addr` is "host:port"; the
  // certificate must name host, or the configured server name).
  static Result<std::unique_ptr<Conn>> handshake(int fd, const std::string& addr, Deadline deadline);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  Status write_all(std::string_view data, Deadline deadline, const std::string& what);
  // Appends what is readable; 0 bytes = the server closed.
  Result<size_t> read_some(std::string& out, Deadline deadline, const std::string& what);

 private:
  Conn(SSL* ssl, int fd) : ssl_(ssl), fd_(fd) {}
  SSL* ssl_;
  int fd_;
};

}  // namespace codis::dashboard::redis_tls
