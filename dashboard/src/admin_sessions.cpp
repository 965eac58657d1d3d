#include "admin_sessions.h"

#include <sodium.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "codis/admin_auth.h"
#include "codis/host_port.h"

namespace codis::dashboard {

using nlohmann::json;

namespace {

// Argon2id at libsodium's "moderate" time cost with its interactive memory
// cost: a few hundred ms per guess, 64 MiB, and several verifications can
// run at once without exhausting a small machine.
constexpr unsigned long long kOpsLimit = crypto_pwhash_OPSLIMIT_MODERATE;
constexpr std::size_t kMemLimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;

constexpr std::size_t kMaxUserName = 64;
constexpr std::size_t kMaxPassword = 4096;
constexpr std::size_t kMaxFailureKeys = 10000;
constexpr auto kForgetFailuresAfter = std::chrono::hours(1);
constexpr std::string_view kWrongCredentials = "wrong user name or password";

void init_sodium() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) throw std::runtime_error("libsodium: sodium_init failed");
  });
}

std::string hex_sha256(std::string_view s) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(sizeof digest * 2);
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s);
}

// A user name as typed by a stranger, safe for a log line and the audit log.
std::string shown_name(std::string_view name) {
  std::string out;
  for (unsigned char c : name.substr(0, kMaxUserName)) {
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (name.size() > kMaxUserName) out += "...";
  return out;
}

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string iso_time(int64_t unix_ms) {
  const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(unix_ms % 1000));
  return buf;
}

std::string seconds_text(std::chrono::milliseconds d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + "s";
}

}  // namespace

// ---------------------------------------------------------------- accounts

bool valid_user_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxUserName) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

Result<OperatorUsers> parse_users(std::string_view text, std::string_view where) {
  init_sodium();
  OperatorUsers users;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const std::string line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    const std::string at = std::string(where) + " line " + std::to_string(line_no) + ": ";
    const auto colon = line.find(':');
    if (colon == std::string::npos) {
      return Result<OperatorUsers>::Error(at + "expected \"name:<password hash>\" (codis-dashboard --hash-password NAME "
                                               "makes such a line)");
    }
    const std::string name = trim(std::string_view(line).substr(0, colon));
    const std::string hash = trim(std::string_view(line).substr(colon + 1));
    if (!valid_user_name(name)) {
      return Result<OperatorUsers>::Error(at + "invalid user name \"" + shown_name(name) +
                                          "\" (1 to 64 of A-Z a-z 0-9 . _ -)");
    }
    if (name == "admin") {
      return Result<OperatorUsers>::Error(
          at + "\"admin\" is reserved: it signs in with the admin secret (admin_auth); pick another name");
    }
    // -1: not a hash string libsodium understands (only the format is
    // looked at; 0 or 1 say whether its parameters are the current ones).
    if (hash.size() >= crypto_pwhash_STRBYTES || crypto_pwhash_str_needs_rehash(hash.c_str(), kOpsLimit, kMemLimit) < 0) {
      return Result<OperatorUsers>::Error(at + "the password hash of \"" + name +
                                          "\" is not an Argon2id string (\"$argon2id$v=19$m=...\"); make one with "
                                          "codis-dashboard --hash-password " + name);
    }
    if (!users.emplace(name, hash).second) {
      return Result<OperatorUsers>::Error(at + "user \"" + name + "\" appears twice");
    }
  }
  return users;
}

Result<OperatorUsers> load_users_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Result<OperatorUsers>::Error("admin_users_file " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return Result<OperatorUsers>::Error("admin_users_file " + path + " is not a regular file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(st.st_mode & 0777));
    return Result<OperatorUsers>::Error("admin_users_file " + path + " is open to other users (mode " + mode +
                                        "): chmod 600 it");
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) return Result<OperatorUsers>::Error("admin_users_file " + path + ": cannot read it");
  return parse_users(text.str(), "admin_users_file " + path);
}

std::string hash_password(std::string_view password) {
  init_sodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), kOpsLimit, kMemLimit) != 0) {
    throw std::runtime_error("libsodium: crypto_pwhash_str failed (out of memory?)");
  }
  return out;
}

bool verify_password(std::string_view hash, std::string_view password) {
  init_sodium();
  if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES) return false;
  const std::string h(hash);
  return crypto_pwhash_str_verify(h.c_str(), password.data(), password.size()) == 0;
}

// ---------------------------------------------------------------- helpers

std::string peer_address(std::string_view remote) {
  remote = remote.substr(0, remote.find(' '));  // drop " [forwarded-for]": a client can write anything there
  auto hp = HostPort::parse(remote);  // "1.2.3.4:5555", "[::1]:5555"
  return hp ? hp->host : std::string(remote);
}

std::string_view cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view k = pair.substr(0, eq);
    while (!k.empty() && k.back() == ' ') k.remove_suffix(1);
    if (k != name) continue;
    std::string_view v = pair.substr(eq + 1);
    while (!v.empty() && (v.back() == ' ')) v.remove_suffix(1);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return v;
  }
  return {};
}

namespace {

// A cookie-authenticated call that changes something must come from the
// UI's own pages: no Origin (same-origin requests may omit it), or the
// origin of the Host it was sent to.
std::string origin_problem(const http::Request& req) {
  if (req.header("Sec-Fetch-Site") == "cross-site") return "cross-site request refused";
  const auto origin = req.header("Origin");
  if (origin.empty()) return {};
  const auto host = req.header("Host");
  if (!host.empty()) {
    // Over plain HTTP the dashboard may sit behind a TLS-terminating proxy:
    // the browser then says https.
    if (origin == "https://" + std::string(host)) return {};
    if (!req.secure && origin == "http://" + std::string(host)) return {};
  }
  return "request from origin " + shown_name(origin) + " refused (not this dashboard's origin)";
}

}  // namespace

// ---------------------------------------------------------------- sessions

AdminSessions::AdminSessions(Options options) : options_(std::move(options)) {
  init_sodium();
  if (!options_.users_file.empty()) {
    // What we were given was loaded from this file just now.
    struct stat st {};
    if (::stat(options_.users_file.c_str(), &st) == 0) {
      users_stamp_ = {static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
                      static_cast<int64_t>(st.st_size), static_cast<int64_t>(st.st_ino)};
    }
    users_checked_ = options_.now();
  }
}

void AdminSessions::refresh_users_locked() {
  if (options_.users_file.empty()) return;
  const auto now = options_.now();
  if (now - users_checked_ < std::chrono::seconds(1)) return;
  users_checked_ = now;
  struct stat st {};
  FileStamp stamp;
  if (::stat(options_.users_file.c_str(), &st) == 0) {
    stamp = {static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
             static_cast<int64_t>(st.st_size), static_cast<int64_t>(st.st_ino)};
  }
  if (stamp == users_stamp_) return;
  users_stamp_ = stamp;
  auto loaded = load_users_file(options_.users_file);
  OperatorUsers next;
  if (!loaded) {
    // Refuse every operator until the file is fixed: keeping the old list
    // would keep a revoked account alive. The admin secret still works.
    spdlog::error("api: {}: operator sign-ins refused until it is fixed", loaded.message());
    users_broken_ = true;
  } else {
    next = std::move(*loaded);
    users_broken_ = false;
    spdlog::info("api: admin_users_file {} re-read: {} operator(s)", options_.users_file, next.size());
  }
  // A removed user or a changed password ends that user's sessions.
  std::size_t ended = 0;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    const auto& user = it->second.user;
    if (user == "admin") {
      ++it;
      continue;
    }
    const auto before = options_.users.find(user);
    const auto after = next.find(user);
    if (after == next.end() || before == options_.users.end() || before->second != after->second) {
      it = sessions_.erase(it);
      ++ended;
    } else {
      ++it;
    }
  }
  if (ended) spdlog::info("api: ended {} session(s) of removed or changed operator accounts", ended);
  options_.users = std::move(next);
}

void AdminSessions::note_failure_locked(std::map<std::string, Failures, std::less<>>& table, const std::string& key,
                                        int free, std::chrono::seconds cap, std::string_view what) {
  const auto now = options_.now();
  auto it = table.find(key);
  if (it == table.end()) {
    if (table.size() >= kMaxFailureKeys) {  // forget the stalest key
      auto oldest = std::min_element(table.begin(), table.end(),
                                     [](const auto& a, const auto& b) { return a.second.last < b.second.last; });
      table.erase(oldest);
    }
    it = table.emplace(key, Failures{}).first;
  }
  Failures& f = it->second;
  ++f.count;
  f.last = now;
  if (f.count > free) {
    const int doublings = std::min(f.count - free - 1, 20);
    const auto lock = std::min<std::chrono::seconds>(std::chrono::seconds(int64_t(1) << doublings), cap);
    f.locked_until = now + lock;
    // One line per lock, and a key is not tried while locked: bounded.
    spdlog::warn("api: sign-in: {} \"{}\" locked for {}s after {} failed attempts", what, shown_name(key),
                 lock.count(), f.count);
  }
}

AdminSessions::LoginResult AdminSessions::login(std::string_view user, std::string_view password,
                                                std::string_view peer) {
  LoginResult r;
  const std::string name = shown_name(user);
  if (user.empty() || password.empty()) {
    r.status = 400;
    r.cause = "user and password are required";
    r.log = "sign-in without a user name or password";
    return r;
  }
  enum class Kind { kAdmin, kOperator, kUnknown } kind = Kind::kUnknown;
  std::string hash;
  const std::string peer_key(peer);
  const std::string user_key(user.substr(0, kMaxUserName + 1));
  {
    std::lock_guard lk(mu_);
    const auto now = options_.now();
    refresh_users_locked();
    for (auto* table : {&addr_failures_, &user_failures_}) {
      std::erase_if(*table, [&](const auto& kv) {
        return kv.second.locked_until <= now && now - kv.second.last > kForgetFailuresAfter;
      });
    }
    auto locked_until = Clock::time_point{};
    if (auto it = addr_failures_.find(peer_key); it != addr_failures_.end()) locked_until = it->second.locked_until;
    if (auto it = user_failures_.find(user_key); it != user_failures_.end()) {
      locked_until = std::max(locked_until, it->second.locked_until);
    }
    if (locked_until > now) {
      r.status = 429;
      r.retry_after = std::chrono::ceil<std::chrono::seconds>(locked_until - now);
      r.cause = "too many failed sign-ins: try again in " + std::to_string(r.retry_after.count()) + " s";
      r.log = "sign-in as \"" + name + "\" not tried: locked after failed attempts";
      record_locked({name, std::string(peer), "POST", "/api/auth/login", false, "refused: throttled"});
      return r;
    }
    if (verifying_ >= options_.max_concurrent_verifications) {
      r.status = 429;
      r.retry_after = std::chrono::seconds(1);
      r.cause = "too many sign-ins at once: try again in a second";
      r.log = "sign-in as \"" + name + "\" not tried: " + std::to_string(verifying_) + " verifications running";
      return r;
    }
    if (user == "admin") {
      kind = Kind::kAdmin;
    } else if (auto it = options_.users.find(user); it != options_.users.end() && !users_broken_) {
      kind = Kind::kOperator;
      hash = it->second;
    }
    ++verifying_;
  }

  bool ok = false;
  try {
    if (kind == Kind::kAdmin) {
      ok = password.size() <= kMaxPassword && !options_.admin_secret.empty() &&
           auth::same_secret(password, options_.admin_secret);
    } else if (password.size() <= kMaxPassword) {
      if (kind == Kind::kUnknown) {
        // An unknown name costs as much as a wrong password, so timing does
        // not tell which names exist.
        static std::once_flag once;
        static std::string dummy;
        std::call_once(once, [] { dummy = hash_password("codis-dashboard: no such user"); });
        verify_password(dummy, password);
      } else {
        ok = verify_password(hash, password);
      }
    }
  } catch (...) {
    std::lock_guard lk(mu_);
    --verifying_;
    throw;
  }

  std::lock_guard lk(mu_);
  --verifying_;
  const auto now = options_.now();
  if (!ok) {
    note_failure_locked(addr_failures_, peer_key, options_.addr_free_failures, options_.addr_max_lock, "address");
    note_failure_locked(user_failures_, user_key, options_.user_free_failures, options_.user_max_lock, "user");
    r.status = 401;
    r.cause = std::string(kWrongCredentials);
    r.log = "sign-in as \"" + name + "\" refused: " +
            (kind == Kind::kUnknown ? std::string(users_broken_ ? "operator accounts unavailable (admin_users_file "
                                                                  "is broken)"
                                                                : "no such user")
                                    : std::string("wrong password"));
    record_locked({name, std::string(peer), "POST", "/api/auth/login", false, "refused: " + std::string(kWrongCredentials)});
    return r;
  }
  addr_failures_.erase(peer_key);
  user_failures_.erase(user_key);

  // Make room: expired sessions first, then the least recently used.
  std::erase_if(sessions_, [&](const auto& kv) {
    return now >= kv.second.expires || now - kv.second.last_used >= options_.idle_timeout;
  });
  while (sessions_.size() >= options_.max_sessions && !sessions_.empty()) {
    auto lru = std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
      return a.second.last_used < b.second.last_used;
    });
    spdlog::info("api: session of \"{}\" ended: {} sessions open already", lru->second.user, sessions_.size());
    sessions_.erase(lru);
  }
  Session s;
  s.user = std::string(user);
  s.csrf_token = auth::generate_secret();
  s.created = s.last_used = now;
  s.expires = now + options_.lifetime;
  s.expires_unix = unix_ms_now() / 1000 + std::chrono::duration_cast<std::chrono::seconds>(options_.lifetime).count();
  r.session_id = auth::generate_secret();
  r.info = Info{s.user, s.csrf_token, s.expires_unix};
  sessions_.emplace(hex_sha256(r.session_id), std::move(s));
  r.log = "\"" + name + "\" signed in";
  spdlog::info("api: \"{}\" signed in from {}; the session lasts {} at most, {} idle", name, peer,
               seconds_text(options_.lifetime), seconds_text(options_.idle_timeout));
  record_locked({name, std::string(peer), "POST", "/api/auth/login", true, "OK: signed in"});
  return r;
}

AdminSessions::Session* AdminSessions::find_locked(const http::Request& req, std::string* why) {
  const auto id = cookie_value(req.header("Cookie"), kSessionCookie);
  if (id.empty()) {
    *why = "not signed in";
    return nullptr;
  }
  auto it = sessions_.find(hex_sha256(id));
  if (it == sessions_.end()) {
    *why = "not signed in (the session ended or the dashboard restarted): sign in again";
    return nullptr;
  }
  const auto now = options_.now();
  if (now >= it->second.expires) {
    *why = "the session expired after " + seconds_text(options_.lifetime) + ": sign in again";
    sessions_.erase(it);
    return nullptr;
  }
  if (now - it->second.last_used >= options_.idle_timeout) {
    *why = "the session ended after " + seconds_text(options_.idle_timeout) + " without use: sign in again";
    sessions_.erase(it);
    return nullptr;
  }
  return &it->second;
}

rpc::SessionCheck AdminSessions::check(const http::Request& req, bool mutating) {
  rpc::SessionCheck c;
  if (cookie_value(req.header("Cookie"), kSessionCookie).empty()) return c;
  c.present = true;
  std::lock_guard lk(mu_);
  refresh_users_locked();
  Session* s = find_locked(req, &c.error);
  if (!s) return c;
  if (mutating) {
    const auto token = req.header(kCsrfHeader);
    if (token.empty()) {
      c.error = "missing " + std::string(kCsrfHeader) + " header: a call that changes something with a session "
                "cookie must carry the session's CSRF token";
      return c;
    }
    if (!auth::same_secret(token, s->csrf_token)) {
      c.error = "wrong " + std::string(kCsrfHeader) + ": reload the page or sign in again";
      return c;
    }
    if (auto problem = origin_problem(req); !problem.empty()) {
      c.error = problem;
      return c;
    }
  }
  s->last_used = options_.now();
  c.user = s->user;
  return c;
}

std::optional<AdminSessions::Info> AdminSessions::info(const http::Request& req) {
  std::lock_guard lk(mu_);
  refresh_users_locked();
  std::string why;
  Session* s = find_locked(req, &why);
  if (!s) return std::nullopt;
  s->last_used = options_.now();
  return Info{s->user, s->csrf_token, s->expires_unix};
}

bool AdminSessions::logout(const http::Request& req) {
  const auto id = cookie_value(req.header("Cookie"), kSessionCookie);
  if (id.empty()) return false;
  std::lock_guard lk(mu_);
  return sessions_.erase(hex_sha256(id)) > 0;
}

std::size_t AdminSessions::session_count() const {
  std::lock_guard lk(mu_);
  return sessions_.size();
}

std::string AdminSessions::cookie(const std::string& session_id, bool secure) const {
  const auto max_age = std::chrono::duration_cast<std::chrono::seconds>(options_.lifetime).count();
  return std::string(kSessionCookie) + "=" + session_id + "; Path=/; Max-Age=" + std::to_string(max_age) +
         "; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "");
}

std::string AdminSessions::clearing_cookie(bool secure) {
  return std::string(kSessionCookie) + "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "");
}

// ---------------------------------------------------------------- audit

void AdminSessions::record_locked(rpc::AuditEvent event) {
  // Refused calls and failed sign-ins are kept apart, so that a flood of
  // them cannot push what signed-in callers did out of the log.
  const bool refused = event.user.empty() || (!event.ok && event.route == "/api/auth/login");
  auto& ring = refused ? refused_ : audit_;
  const std::size_t cap = refused ? options_.refused_capacity : options_.audit_capacity;
  ring.push_back(Entry{++audit_seq_, unix_ms_now(), std::move(event)});
  while (ring.size() > cap) ring.pop_front();
}

void AdminSessions::audit(const rpc::AuditEvent& event) {
  // The router's line for every call is in the log already; sign-ins are
  // recorded by login() with the name tried, which the router does not know.
  if (event.route == "/api/auth/login") return;
  std::lock_guard lk(mu_);
  record_locked(event);
}

json AdminSessions::audit_json() const {
  std::vector<const Entry*> all;
  std::lock_guard lk(mu_);
  for (const auto& e : audit_) all.push_back(&e);
  for (const auto& e : refused_) all.push_back(&e);
  std::sort(all.begin(), all.end(), [](const Entry* a, const Entry* b) { return a->seq > b->seq; });
  json out = json::array();
  for (const Entry* e : all) {
    out.push_back({{"time", iso_time(e->unix_ms)},
                   {"unix_ms", e->unix_ms},
                   {"user", e->event.user},
                   {"remote", e->event.remote},
                   {"method", e->event.method},
                   {"route", e->event.route},
                   {"ok", e->event.ok},
                   {"result", e->event.result}});
  }
  return out;
}

// ---------------------------------------------------------------- routes

namespace {

http::Reply with_status(http::Reply r, unsigned status) {
  r.status = status;
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

json session_json(const AdminSessions& s, const AdminSessions::Info& info) {
  return {{"user", info.user},
          {"csrf_token", info.csrf_token},
          {"expires", info.expires_unix},
          {"idle_timeout", std::chrono::duration_cast<std::chrono::seconds>(s.idle_timeout()).count()},
          {"compat_xauth", s.compat_xauth()}};
}

}  // namespace

void add_session_routes(rpc::Router& router, AdminSessions& sessions) {
  using rpc::Access;
  auto& routes = router.routes;
  routes.push_back(rpc::Route{"POST", "/api/auth/login", Access::kOpen, [&sessions](const http::Request& req) {
    // Login CSRF: a foreign page must not sign the browser in either.
    if (auto problem = origin_problem(req); !problem.empty()) {
      return with_status(rpc::json_error(problem), 403);
    }
    auto body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("user") || !body.contains("password") ||
        !body["user"].is_string() || !body["password"].is_string()) {
      return with_status(rpc::json_error("expected a JSON body {\"user\": \"...\", \"password\": \"...\"}"), 400);
    }
    const auto user = body["user"].get<std::string>();
    auto password = body["password"].get<std::string>();
    auto r = sessions.login(user, password, peer_address(req.remote));
    sodium_memzero(password.data(), password.size());
    if (r.status != 200) {
      auto reply = with_status(rpc::json_error(r.cause), r.status);
      reply.error = r.log;  // the router's log line says what happened; the caller learns no more than the cause
      if (r.status == 429) reply.headers.emplace_back("Retry-After", std::to_string(r.retry_after.count()));
      return reply;
    }
    sessions.logout(req);  // a cookie from before names a session nobody needs any more
    auto reply = with_status(rpc::json_ok(session_json(sessions, r.info)), 200);
    reply.headers.emplace_back("Set-Cookie", sessions.cookie(r.session_id, req.secure));
    return reply;
  }});
  routes.push_back(rpc::Route{"POST", "/api/auth/logout", Access::kAdmin, [&sessions](const http::Request& req) {
    sessions.logout(req);
    auto reply = with_status(rpc::json_ok(), 200);
    reply.headers.emplace_back("Set-Cookie", AdminSessions::clearing_cookie(req.secure));
    return reply;
  }});
  routes.push_back(rpc::Route{"GET", "/api/auth/session", Access::kOpen, [&sessions](const http::Request& req) {
    auto info = sessions.info(req);
    if (!info) {
      // The sign-in page shows the compat warning too.
      json body = {{"Cause", "not signed in"}, {"Stack", nullptr}, {"compat_xauth", sessions.compat_xauth()}};
      auto reply = with_status(rpc::json_ok(body), 401);
      reply.error = "not signed in";
      return reply;
    }
    return with_status(rpc::json_ok(session_json(sessions, *info)), 200);
  }});
  routes.push_back(rpc::Route{"GET", "/api/topom/audit", Access::kAdmin, [&sessions](const http::Request&) {
    return with_status(rpc::json_ok(sessions.audit_json()), 200);
  }});
}

}  // namespace codis::dashboard
