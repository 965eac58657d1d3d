// The proxies' backend identity (codis/backend_identity.h) and the proxy's
// AUTH throttle (proxy/src/auth_throttle.h). Expected passwords computed with
// Python: hmac.new(product_auth, b"codis-ng backend user password v1", sha256).
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "auth_throttle.h"
#include "codis/backend_identity.h"

namespace bi = codis::backend_identity;
using codis::proxy::AuthThrottle;

TEST_CASE("backend password is derived from product_auth unless configured", "[data-security]") {
  CHECK(bi::password("", "secret") == "b679f59c10ec6f46284030f813115db98a51caf4cbf806c1d64acfef7097fa7c");
  CHECK(bi::password("", "") == "d819db982e2bf2e496b0d66036f11bab57519697a0b5b3af1fe550e7e4a36001");
  CHECK(bi::password("mine", "secret") == "mine");
}

TEST_CASE("backend user names", "[data-security]") {
  CHECK(bi::valid_user("codis-proxy"));
  CHECK(bi::valid_user("a.b_c-1"));
  CHECK_FALSE(bi::valid_user(""));
  CHECK_FALSE(bi::valid_user("default"));
  CHECK_FALSE(bi::valid_user("DEFAULT"));
  CHECK_FALSE(bi::valid_user("two words"));
  CHECK_FALSE(bi::valid_user("semi;colon"));
  CHECK_FALSE(bi::valid_user(std::string(65, 'a')));
}

TEST_CASE("ACL rules deny admin, dangerous and migration commands", "[data-security]") {
  const std::vector<std::string> module = {"slotsinfo", "slotsdel", "SLOTSRESTORE", "slotsmgrttagone",
                                           "slotsmgrt-exec-wrapper", "slotsrestore-async-auth"};
  const auto a = bi::acl_setuser_args("pw", module, {"10.0.0.1", "[::1]"});
  auto has = [&](const std::string& s) { return std::find(a.begin(), a.end(), s) != a.end(); };
  CHECK(a.front() == "reset");  // idempotent: from scratch
  CHECK(has("on"));
  CHECK(has("sanitize-payload"));
  CHECK(has("#" + std::string("30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4")));  // sha256("pw")
  CHECK_FALSE(has(">pw"));  // never the password itself
  for (const char* d : {"-@admin", "-@dangerous", "-flushall", "-flushdb", "-swapdb", "-migrate", "-config",
                        "-debug", "-shutdown", "-replicaof", "-slaveof", "-module", "-acl", "-monitor",
                        "-slotsinfo", "-slotsdel", "-slotsrestore", "-slotsrestore-async-auth"}) {
    INFO(d);
    CHECK(has(d));
  }
  // What the proxy forwards or sends itself stays allowed.
  for (const char* k : {"+keys", "+sort", "+restore", "+info"}) CHECK(has(k));
  CHECK_FALSE(has("-slotsmgrt-exec-wrapper"));
  // SLOTSMGRTTAGONE only toward the cluster's hosts, after its denial.
  const auto deny = std::find(a.begin(), a.end(), "-slotsmgrttagone");
  const auto allow = std::find(a.begin(), a.end(), "+slotsmgrttagone|10.0.0.1");
  CHECK(deny != a.end());
  CHECK(allow != a.end());
  CHECK(deny < allow);
  CHECK(has("+slotsmgrttagone|[::1]"));
  // Allow rules come before the denials, so a later + cannot undo a -.
  size_t last_plus = 0, first_deny = a.size();
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i][0] == '+' && !a[i].starts_with("+slotsmgrttagone|")) last_plus = i;
    if (a[i] == "-flushall" && first_deny == a.size()) first_deny = i;
  }
  CHECK(last_plus < first_deny);
}

TEST_CASE("AUTH throttle: per-connection delay doubles up to 2 s", "[data-security]") {
  CHECK(AuthThrottle::connection_delay_ms(0) == 0);
  CHECK(AuthThrottle::connection_delay_ms(1) == 10);
  CHECK(AuthThrottle::connection_delay_ms(2) == 20);
  CHECK(AuthThrottle::connection_delay_ms(8) == 1280);
  CHECK(AuthThrottle::connection_delay_ms(9) == 2000);
  CHECK(AuthThrottle::connection_delay_ms(1000) == 2000);
}

TEST_CASE("AUTH throttle: a source's attempts queue up after a few failures", "[data-security]") {
  AuthThrottle t;
  int64_t now = 1000000;
  CHECK(t.admit("10.0.0.1", now) == now);  // never failed: no delay, nothing kept
  CHECK(t.sources() == 0);
  for (int i = 0; i < 3; ++i) t.failed("10.0.0.1", now);
  // Three failures: the next attempts wait their turn, each later than the one before.
  const int64_t a = t.admit("10.0.0.1", now);
  const int64_t b = t.admit("10.0.0.1", now);
  CHECK(a == now);
  CHECK(b > a);
  CHECK(t.admit("10.0.0.2", now) == now);  // another address is not affected
  for (int i = 0; i < 20; ++i) t.failed("10.0.0.1", now);
  // A long queue: refused without a check.
  bool refused = false;
  for (int i = 0; i < 10 && !refused; ++i) refused = t.admit("10.0.0.1", now) < 0;
  CHECK(refused);
  // The score halves every minute: after a quiet while the address is free again.
  now += 20 * 60 * 1000;
  CHECK(t.admit("10.0.0.1", now) == now);
}
