// codis::HostPort: the one parser and printer of "host:port" addresses.
#include <catch2/catch.hpp>

#include "codis/host_port.h"

using codis::HostPort;

TEST_CASE("HostPort: parses what Codis stores, IPv6 in brackets") {
  auto a = HostPort::parse("10.0.0.5:6379");
  REQUIRE(a.ok());
  CHECK(a->host == "10.0.0.5");
  CHECK(a->port == 6379);
  CHECK(a->str() == "10.0.0.5:6379");

  auto b = HostPort::parse("[::1]:19000");
  REQUIRE(b.ok());
  CHECK(b->host == "::1");  // no brackets: what getaddrinfo and Redis's SLAVEOF take
  CHECK(b->str() == "[::1]:19000");

  auto c = HostPort::parse(":11080");
  REQUIRE(c.ok());
  CHECK(c->host.empty());
  CHECK(c->host_or("0.0.0.0") == "0.0.0.0");
  CHECK(c->port_text() == "11080");

  auto d = HostPort::parse("redis-1.example:0");
  REQUIRE(d.ok());
  CHECK(d->host == "redis-1.example");
  CHECK(d->port == 0);
}

TEST_CASE("HostPort: refuses what is ambiguous or broken, and says why") {
  for (const char* bad : {"", "6379", "host:", "host:65536", "host:-1", "host:63x", "::1:6379", "[::1]6379",
                          "[::1", "[::1]:", "host:99999999999"}) {
    auto r = HostPort::parse(bad);
    INFO(bad);
    CHECK_FALSE(r.ok());
    CHECK(r.message().find("expected host:port") != std::string::npos);
  }
  CHECK(HostPort::parse("::1:6379").message().find("brackets") != std::string::npos);
}
