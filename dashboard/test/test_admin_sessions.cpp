// Unit tests of the web UI's sign-in (dashboard/src/admin_sessions.h): the
// users file, Argon2id hashing, sessions (expiry, idle timeout, CSRF,
// Origin, logout), throttling of failed sign-ins and the audit log, through
// the same rpc::Router the dashboard serves, on a clock the tests move.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "admin_sessions.h"
#include "codis/codis_api.h"

using codis::dashboard::AdminSessions;
using codis::http::Headers;
using codis::http::Request;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string kSecret = "unit-admin-secret-0123456789";

// One Argon2 hash for the whole file: each costs a noticeable fraction of a second.
const std::string& bob_hash() {
  static const std::string h = codis::dashboard::hash_password("bob's password");
  return h;
}

struct Fixture {
  AdminSessions::Clock::time_point t = AdminSessions::Clock::now();
  AdminSessions sessions;
  codis::rpc::Router router;

  static AdminSessions::Options options(Fixture* f, std::function<void(AdminSessions::Options&)> tweak) {
    AdminSessions::Options o;
    o.admin_secret = kSecret;
    o.users = {{"bob", bob_hash()}};
    o.lifetime = 12h;
    o.idle_timeout = 1h;
    o.now = [f] { return f->t; };
    if (tweak) tweak(o);
    return o;
  }
  explicit Fixture(std::function<void(AdminSessions::Options&)> tweak = nullptr) : sessions(options(this, tweak)) {
    router.security.admin_secret = kSecret;
    router.security.session = [this](const Request& r, bool m) { return sessions.check(r, m); };
    router.security.audit = [this](const codis::rpc::AuditEvent& e) { sessions.audit(e); };
    router.routes.push_back({"PUT", "/api/topom/thing/:xauth/:v", codis::rpc::Access::kAdmin,
                             [](const Request& r) { return codis::rpc::json_ok(json(r.user)); }});
    router.routes.push_back({"GET", "/topom", codis::rpc::Access::kCodisOpen,
                             [](const Request& r) { return codis::rpc::json_ok(json(r.user)); }});
    codis::dashboard::add_session_routes(router, sessions);
  }

  codis::http::Reply login(const std::string& user, const std::string& password, const std::string& from = "10.0.0.1:5000",
                           Headers h = {}) {
    h.emplace_back("Host", "dash:18080");
    return router.dispatch("POST", "/api/auth/login", json{{"user", user}, {"password", password}}.dump(), from, h);
  }
};

std::string header(const codis::http::Reply& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

// The cookie value and CSRF token of a successful sign-in.
struct Signed {
  std::string cookie, csrf;
};
Signed signed_in(const codis::http::Reply& r) {
  REQUIRE(r.status == 200);
  const auto set = header(r, "Set-Cookie");
  REQUIRE(set.starts_with("codis_session="));
  return {set.substr(0, set.find(';')), json::parse(r.body)["csrf_token"].get<std::string>()};
}

Headers cookie_headers(const Signed& s, bool with_csrf = true) {
  Headers h{{"Cookie", "theme=dark; " + s.cookie}, {"Host", "dash:18080"}};
  if (with_csrf) h.emplace_back("X-CSRF-Token", s.csrf);
  return h;
}

}  // namespace

TEST_CASE("users file: good lines, comments, errors naming the line") {
  const std::string text = "# operators\n\n  bob : " + bob_hash() + "\nalice.ops-1:" + bob_hash() + "\r\n";
  auto users = codis::dashboard::parse_users(text, "users");
  REQUIRE(users.ok());
  CHECK(users->size() == 2);
  CHECK(users->at("bob") == bob_hash());

  auto bad = [](const std::string& t) {
    auto r = codis::dashboard::parse_users(t, "f");
    REQUIRE_FALSE(r.ok());
    return r.message();
  };
  CHECK(bad("# x\nbob\n") == "f line 2: expected \"name:<password hash>\" (codis-dashboard --hash-password NAME "
                             "makes such a line)");
  CHECK_THAT(bad("bo b:" + bob_hash()), Catch::Contains("line 1: invalid user name"));
  CHECK_THAT(bad("admin:" + bob_hash()), Catch::Contains("\"admin\" is reserved"));
  CHECK_THAT(bad("bob:secret"), Catch::Contains("line 1: the password hash of \"bob\" is not an Argon2id string"));
  CHECK_THAT(bad("bob:$argon2id$v=19$garbage"), Catch::Contains("not an Argon2id string"));
  CHECK_THAT(bad("bob:" + bob_hash() + "\nbob:" + bob_hash()), Catch::Contains("line 2: user \"bob\" appears twice"));
}

TEST_CASE("users file: refused when others may read it") {
  const auto dir = std::filesystem::temp_directory_path() / ("codis-users-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / "users").string();
  std::ofstream(path) << "bob:" << bob_hash() << "\n";
  ::chmod(path.c_str(), 0644);
  auto r = codis::dashboard::load_users_file(path);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.message(), Catch::Contains("open to other users (mode 644): chmod 600 it"));
  ::chmod(path.c_str(), 0600);
  auto ok = codis::dashboard::load_users_file(path);
  REQUIRE(ok.ok());
  CHECK(ok->count("bob") == 1);
  CHECK_FALSE(codis::dashboard::load_users_file((dir / "missing").string()).ok());
  std::filesystem::remove_all(dir);
}

TEST_CASE("Argon2id: hash and verify") {
  CHECK(bob_hash().starts_with("$argon2id$"));
  CHECK(codis::dashboard::verify_password(bob_hash(), "bob's password"));
  CHECK_FALSE(codis::dashboard::verify_password(bob_hash(), "bob's passwore"));
  CHECK_FALSE(codis::dashboard::verify_password(bob_hash(), ""));
  CHECK_FALSE(codis::dashboard::verify_password("not a hash", "bob's password"));
  // Salted: the same password hashes differently each time.
  CHECK(codis::dashboard::hash_password("bob's password") != bob_hash());
}

TEST_CASE("helpers: cookie values and peer addresses") {
  using codis::dashboard::cookie_value;
  CHECK(cookie_value("a=1; codis_session=xyz; b=2", "codis_session") == "xyz");
  CHECK(cookie_value("codis_session=\"q\"", "codis_session") == "q");
  CHECK(cookie_value("xcodis_session=1", "codis_session").empty());
  CHECK(cookie_value("", "codis_session").empty());
  using codis::dashboard::peer_address;
  CHECK(peer_address("127.0.0.1:5555") == "127.0.0.1");
  CHECK(peer_address("127.0.0.1:5555 [10.1.1.1]") == "127.0.0.1");
  CHECK(peer_address("[::1]:80") == "::1");
}

TEST_CASE("sign-in: admin with the secret, operators with their password") {
  Fixture f;
  auto r = f.login("admin", kSecret);
  auto s = signed_in(r);
  auto body = json::parse(r.body);
  CHECK(body["user"] == "admin");
  CHECK(body["compat_xauth"] == false);
  CHECK(body["idle_timeout"] == 3600);
  const auto set = header(r, "Set-Cookie");
  CHECK_THAT(set, Catch::Contains("; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict"));
  CHECK_THAT(set, !Catch::Contains("Secure"));
  CHECK(s.cookie.size() == std::string("codis_session=").size() + 43);  // 256 random bits, base64url
  CHECK(header(r, "Cache-Control") == "no-store");

  auto b = signed_in(f.login("bob", "bob's password"));
  auto who = f.router.dispatch("GET", "/topom", "", "10.0.0.1:5001", cookie_headers(b, false));
  CHECK(who.status == 200);
  CHECK(json::parse(who.body) == "bob");
  auto sess = f.router.dispatch("GET", "/api/auth/session", "", "10.0.0.1:5001", cookie_headers(b, false));
  CHECK(sess.status == 200);
  CHECK(json::parse(sess.body)["user"] == "bob");
  CHECK(json::parse(sess.body)["csrf_token"] == b.csrf);
  CHECK(f.sessions.session_count() == 2);

  // One generic message for a wrong password and an unknown user.
  auto wrong = f.login("bob", "nope");
  auto unknown = f.login("carol", "nope");
  auto wrong_admin = f.login("admin", "nope");
  for (const auto* x : {&wrong, &unknown, &wrong_admin}) {
    CHECK(x->status == 401);
    CHECK(json::parse(x->body)["Cause"] == "wrong user name or password");
    CHECK(header(*x, "Set-Cookie").empty());
  }
  CHECK_THAT(wrong.error, Catch::Contains("\"bob\" refused: wrong password"));
  CHECK_THAT(unknown.error, Catch::Contains("no such user"));
  CHECK(f.login("", "x").status == 400);
  CHECK(f.router.dispatch("POST", "/api/auth/login", "{\"user\": 1}", "10.0.0.1:1").status == 400);
  CHECK(f.router.dispatch("POST", "/api/auth/login", "not json", "10.0.0.1:1").status == 400);
}

TEST_CASE("sign-in: Secure cookie over TLS") {
  Fixture f;
  codis::http::Router r = f.router.http_router();
  auto reply = r.dispatch("POST", "/api/auth/login", json{{"user", "admin"}, {"password", kSecret}}.dump(),
                          "10.0.0.1:5000", {{"Host", "dash"}}, /*secure=*/true);
  REQUIRE(reply.status == 200);
  CHECK_THAT(header(reply, "Set-Cookie"), Catch::EndsWith("; HttpOnly; SameSite=Strict; Secure"));
}

TEST_CASE("sessions: CSRF token and Origin on calls that change something") {
  Fixture f;
  auto s = signed_in(f.login("bob", "bob's password"));
  const std::string path = "/api/topom/thing/anything/1";

  auto no_token = f.router.dispatch("PUT", path, "", "10.0.0.1:2", cookie_headers(s, false));
  CHECK(no_token.status == 401);
  CHECK_THAT(no_token.body, Catch::Contains("missing X-CSRF-Token header"));

  auto h = cookie_headers(s, false);
  h.emplace_back("X-CSRF-Token", "wrong");
  auto bad_token = f.router.dispatch("PUT", path, "", "10.0.0.1:2", h);
  CHECK(bad_token.status == 401);
  CHECK_THAT(bad_token.body, Catch::Contains("wrong X-CSRF-Token"));

  auto ok = f.router.dispatch("PUT", path, "", "10.0.0.1:2", cookie_headers(s));
  CHECK(ok.status == 200);
  CHECK(json::parse(ok.body) == "bob");

  auto same = cookie_headers(s);
  same.emplace_back("Origin", "http://dash:18080");
  CHECK(f.router.dispatch("PUT", path, "", "10.0.0.1:2", same).status == 200);

  auto foreign = cookie_headers(s);
  foreign.emplace_back("Origin", "http://evil.example");
  auto refused = f.router.dispatch("PUT", path, "", "10.0.0.1:2", foreign);
  CHECK(refused.status == 401);
  CHECK_THAT(refused.body, Catch::Contains("origin http://evil.example refused"));

  auto cross = cookie_headers(s);
  cross.emplace_back("Sec-Fetch-Site", "cross-site");
  CHECK(f.router.dispatch("PUT", path, "", "10.0.0.1:2", cross).status == 401);

  // Bearer callers need no CSRF token; reads need none either.
  CHECK(f.router.dispatch("PUT", path, "", "10.0.0.1:2", {{"Authorization", "Bearer " + kSecret}}).status == 200);
  CHECK(f.router.dispatch("GET", "/topom", "", "10.0.0.1:2", cookie_headers(s, false)).status == 200);

  // A sign-in from a foreign page is refused too.
  CHECK(f.login("bob", "bob's password", "10.0.0.1:3", {{"Origin", "http://evil.example"}}).status == 403);
}

TEST_CASE("sessions: absolute expiry, idle timeout, logout") {
  Fixture f([](AdminSessions::Options& o) {
    o.lifetime = 2h;
    o.idle_timeout = 30min;
  });
  auto s = signed_in(f.login("admin", kSecret));
  auto get = [&] { return f.router.dispatch("GET", "/topom", "", "10.0.0.1:2", cookie_headers(s, false)); };
  CHECK(get().status == 200);
  // Used every 20 minutes: the idle timeout never strikes, the lifetime does.
  for (int i = 0; i < 5; ++i) {
    f.t += 20min;
    CHECK(get().status == 200);
  }
  f.t += 20min;  // 2 h after sign-in
  auto expired = get();
  CHECK(expired.status == 401);
  CHECK_THAT(expired.body, Catch::Contains("the session expired after 7200s"));
  CHECK(get().status == 401);
  CHECK(f.sessions.session_count() == 0);

  auto idle = signed_in(f.login("admin", kSecret));
  f.t += 30min;
  auto r = f.router.dispatch("GET", "/topom", "", "10.0.0.1:2", cookie_headers(idle, false));
  CHECK(r.status == 401);
  CHECK_THAT(r.body, Catch::Contains("without use"));

  auto out = signed_in(f.login("bob", "bob's password"));
  auto no_csrf = f.router.dispatch("POST", "/api/auth/logout", "", "10.0.0.1:2", cookie_headers(out, false));
  CHECK(no_csrf.status == 401);  // logging out is a change too
  auto bye = f.router.dispatch("POST", "/api/auth/logout", "", "10.0.0.1:2", cookie_headers(out));
  CHECK(bye.status == 200);
  CHECK_THAT(header(bye, "Set-Cookie"), Catch::StartsWith("codis_session=; Path=/; Max-Age=0"));
  auto after = f.router.dispatch("GET", "/api/auth/session", "", "10.0.0.1:2", cookie_headers(out, false));
  CHECK(after.status == 401);
  CHECK(json::parse(after.body)["compat_xauth"] == false);
  CHECK(f.router.dispatch("GET", "/topom", "", "10.0.0.1:2", cookie_headers(out, false)).status == 401);
}

TEST_CASE("sessions: the oldest idle session goes when there are too many") {
  Fixture f([](AdminSessions::Options& o) { o.max_sessions = 2; });
  auto a = signed_in(f.login("admin", kSecret));
  f.t += 1s;
  auto b = signed_in(f.login("admin", kSecret));
  f.t += 1s;
  CHECK(f.router.dispatch("GET", "/topom", "", "10.0.0.1:2", cookie_headers(a, false)).status == 200);
  f.t += 1s;
  auto c = signed_in(f.login("admin", kSecret));
  CHECK(f.sessions.session_count() == 2);
  CHECK(f.router.dispatch("GET", "/topom", "", "10.0.0.1:2", cookie_headers(b, false)).status == 401);
  CHECK(f.router.dispatch("GET", "/topom", "", "10.0.0.1:2", cookie_headers(a, false)).status == 200);
  CHECK(f.router.dispatch("GET", "/topom", "", "10.0.0.1:2", cookie_headers(c, false)).status == 200);
}

TEST_CASE("throttling: failed sign-ins lock the address, then the user, for a growing time") {
  Fixture f([](AdminSessions::Options& o) {
    o.addr_free_failures = 3;
    o.user_free_failures = 5;
  });
  for (int i = 0; i < 3; ++i) CHECK(f.login("admin", "guess", "10.0.0.9:1").status == 401);
  auto locked = f.login("admin", "guess", "10.0.0.9:1");
  CHECK(locked.status == 401);  // the 4th failure sets the lock
  auto r = f.login("admin", kSecret, "10.0.0.9:2");
  CHECK(r.status == 429);  // even the right secret is not tried while locked
  CHECK(header(r, "Retry-After") == "1");
  CHECK_THAT(json::parse(r.body)["Cause"].get<std::string>(), Catch::Contains("too many failed sign-ins"));
  // Another address is not locked yet (the user has 4 failures of 5 free).
  CHECK(f.login("admin", "guess", "10.0.0.8:1").status == 401);
  // The 6th failure for "admin" locks the user everywhere.
  CHECK(f.login("admin", "guess", "10.0.0.7:1").status == 401);
  CHECK(f.login("admin", kSecret, "10.0.0.6:1").status == 429);
  CHECK(f.login("bob", "bob's password", "10.0.0.6:1").status == 200);  // other users are not
  f.t += 2s;
  // The address's lock doubles with each further failure.
  CHECK(f.login("admin", "guess", "10.0.0.9:1").status == 401);
  auto again = f.login("admin", kSecret, "10.0.0.9:1");
  CHECK(again.status == 429);
  CHECK(header(again, "Retry-After") == "2");  // the second lock of each: 2 s
  f.t += 5s;
  CHECK(f.login("admin", kSecret, "10.0.0.9:1").status == 200);  // a success clears both
  CHECK(f.login("admin", "guess", "10.0.0.9:1").status == 401);
  CHECK(f.login("admin", kSecret, "10.0.0.9:1").status == 200);
}

TEST_CASE("audit: who, from where, what, result; newest first; refused calls kept apart") {
  Fixture f([](AdminSessions::Options& o) {
    o.audit_capacity = 3;
    o.refused_capacity = 2;
  });
  auto s = signed_in(f.login("bob", "bob's password", "10.0.0.1:7"));
  CHECK(f.router.dispatch("PUT", "/api/topom/thing/xx/42", "", "10.0.0.1:8", cookie_headers(s)).status == 200);
  CHECK(f.login("bob", "bad", "10.0.0.2:7").status == 401);
  CHECK(f.router.dispatch("PUT", "/api/topom/thing/xx/43", "", "10.0.0.3:8").status == 401);

  auto audit = f.router.dispatch("GET", "/api/topom/audit", "", "10.0.0.1:9", {{"Authorization", "Bearer " + kSecret}});
  REQUIRE(audit.status == 200);
  auto log = json::parse(audit.body);
  REQUIRE(log.size() == 4);
  CHECK(log[0]["user"] == "");
  CHECK(log[0]["route"] == "/api/topom/thing/:xauth/43");  // without the xauth
  CHECK(log[0]["ok"] == false);
  CHECK_THAT(log[0]["result"].get<std::string>(), Catch::StartsWith("refused: "));
  CHECK(log[1]["user"] == "bob");
  CHECK(log[1]["remote"] == "10.0.0.2");
  CHECK(log[1]["result"] == "refused: wrong user name or password");
  CHECK(log[2]["user"] == "bob");
  CHECK(log[2]["remote"] == "10.0.0.1:8");
  CHECK(log[2]["method"] == "PUT");
  CHECK(log[2]["route"] == "/api/topom/thing/:xauth/42");
  CHECK(log[2]["ok"] == true);
  CHECK(log[3]["route"] == "/api/auth/login");
  CHECK(log[3]["result"] == "OK: signed in");
  CHECK(log[3]["time"].get<std::string>().size() == 24);

  // A flood of refused calls does not push out what signed-in users did.
  for (int i = 0; i < 10; ++i) f.router.dispatch("PUT", "/api/topom/thing/xx/1", "", "10.0.0.4:1");
  log = f.sessions.audit_json();
  int by_bob = 0;
  for (const auto& e : log) by_bob += e["user"] == "bob" && e["ok"] == true;
  CHECK(by_bob == 2);
  CHECK(log.size() == 4);

  // Reading the audit log needs authentication.
  CHECK(f.router.dispatch("GET", "/api/topom/audit", "", "10.0.0.5:1").status == 401);
}

TEST_CASE("users file: edits take effect; a changed password ends that user's sessions") {
  const auto dir = std::filesystem::temp_directory_path() / ("codis-users2-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / "users").string();
  auto write = [&](const std::string& text) {
    std::ofstream(path, std::ios::trunc) << text;
    ::chmod(path.c_str(), 0600);
  };
  write("bob:" + bob_hash() + "\n");
  Fixture f([&](AdminSessions::Options& o) {
    o.users = *codis::dashboard::load_users_file(path);
    o.users_file = path;
  });
  auto s = signed_in(f.login("bob", "bob's password"));
  auto get = [&] { return f.router.dispatch("GET", "/topom", "", "10.0.0.1:2", cookie_headers(s, false)); };
  CHECK(get().status == 200);
  const std::string carol = codis::dashboard::hash_password("carol's");
  write("bob:" + bob_hash() + "\ncarol:" + carol + "\n# a comment to change the size\n");
  f.t += 2s;
  CHECK(f.login("carol", "carol's").status == 200);
  CHECK(get().status == 200);  // bob unchanged
  write("bob:" + carol + "\n");
  f.t += 2s;
  CHECK(get().status == 401);  // bob's password changed: his session ended
  CHECK(f.login("bob", "carol's").status == 200);
  write("bob:broken\n");
  f.t += 2s;
  CHECK(f.login("bob", "carol's").status == 401);  // a broken file refuses operators
  CHECK(f.login("admin", kSecret).status == 200);   // not the admin
  std::filesystem::remove_all(dir);
}
