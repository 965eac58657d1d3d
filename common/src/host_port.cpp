#include "codis/host_port.h"

#include <charconv>

namespace codis {

Result<HostPort> HostPort::parse(std::string_view addr) {
  const auto bad = [&](std::string_view why) {
    return Result<HostPort>::Error("bad address \"" + std::string(addr) + "\": " + std::string(why) +
                                   " (expected host:port, or [IPv6]:port)");
  };
  HostPort out;
  size_t colon;
  if (!addr.empty() && addr.front() == '[') {
    const size_t close = addr.find(']');
    if (close == std::string_view::npos) return bad("no ']' after the IPv6 address");
    if (close + 1 >= addr.size() || addr[close + 1] != ':') return bad("no port");
    out.host = std::string(addr.substr(1, close - 1));
    colon = close + 1;
  } else {
    colon = addr.rfind(':');
    if (colon == std::string_view::npos) return bad("no port");
    if (addr.substr(0, colon).find(':') != std::string_view::npos) return bad("an IPv6 address needs brackets");
    out.host = std::string(addr.substr(0, colon));
  }
  const std::string_view port = addr.substr(colon + 1);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
    return bad("the port must be a number from 0 to 65535");
  out.port = static_cast<uint16_t>(value);
  return out;
}

std::string HostPort::str() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + port_text();
}

}  // namespace codis
