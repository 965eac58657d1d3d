// The one address type: "host:port" as Codis stores addresses, an IPv6 host
// in brackets ("[::1]:6379"). Every daemon parses and prints addresses with
// it, so IPv6 is handled the same everywhere (host without brackets when
// resolving or handing it to Redis, with brackets when printed).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "codis/status.h"

namespace codis {

struct HostPort {
  std::string host;  // without brackets; empty for ":port" (see host_or)
  uint16_t port = 0;

  // "host:port", "[v6]:port" or ":port"; the port 0-65535. A bare IPv6
  // address ("::1:6379") is refused: which colon splits it is ambiguous.
  static Result<HostPort> parse(std::string_view addr);

  // host, or `fallback` when it is empty ("0.0.0.0" to listen, "127.0.0.1" to connect).
  std::string host_or(std::string_view fallback) const { return host.empty() ? std::string(fallback) : host; }
  std::string port_text() const { return std::to_string(port); }
  // "host:port", with brackets around an IPv6 host.
  std::string str() const;
};

}  // namespace codis
