// "host:port" as Codis stores addresses: the last ':' splits; "[v6]" loses
// its brackets; an empty host means 127.0.0.1.
#pragma once

#include <string>

namespace codis {

inline bool split_host_port(const std::string& addr, std::string& host, std::string& port) {
  const auto colon = addr.rfind(':');
  if (colon == std::string::npos || colon + 1 == addr.size()) return false;
  host = addr.substr(0, colon);
  port = addr.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "127.0.0.1";
  return true;
}

}  // namespace codis
