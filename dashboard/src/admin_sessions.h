// The web UI's sign-in for codis-dashboard (docs/operations.md, "Security"):
// operator accounts, session cookies with CSRF tokens, brute-force
// throttling, and the audit log of mutating admin calls.
//
// main() builds one AdminSessions from the config, hands its hooks to the
// rpc::Router (Security::session, Security::audit) and adds its routes:
//   POST /api/auth/login    {user, password} -> session cookie + {user, csrf_token, expires, ...}
//   POST /api/auth/logout   ends the caller's session, clears the cookie
//   GET  /api/auth/session  {user, csrf_token, expires, ...} or 401
//   GET  /api/topom/audit   the audit log, newest first (admin only)
// Accounts: "admin" signs in with the admin secret (admin_auth); operators
// come from admin_users_file, "name:<Argon2id string>" lines made by
// `codis-dashboard --hash-password NAME` (libsodium's crypto_pwhash_str).
// Sessions live in memory only: a restart signs everyone out.
//
// Thread-safe: the dashboard's handlers run on a pool.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "codis/codis_api.h"
#include "codis/http_server.h"
#include "codis/status.h"

namespace codis::dashboard {

inline constexpr std::string_view kSessionCookie = "codis_session";
inline constexpr std::string_view kCsrfHeader = "X-CSRF-Token";

// ---- operator accounts

// name -> libsodium password hash string ("$argon2id$v=19$m=...").
using OperatorUsers = std::map<std::string, std::string, std::less<>>;

// Parses a users file's text: "name:hash" lines, blank lines and "#"
// comments. Names are 1-64 of [A-Za-z0-9._-]; "admin" is reserved (it signs
// in with the admin secret). Errors name the line (`where`: the file's path).
Result<OperatorUsers> parse_users(std::string_view text, std::string_view where);
// Reads and parses the file; refuses one that is not a regular file or is
// open to group or others (it holds password hashes).
Result<OperatorUsers> load_users_file(const std::string& path);
// A new Argon2id hash string of `password` (libsodium's moderate-cost
// parameters: ~0.1-0.5 s and 64 MiB per verification). Throws only when
// libsodium cannot be initialised or allocate.
std::string hash_password(std::string_view password);
// True when `password` matches `hash` (any parameters libsodium accepts).
bool verify_password(std::string_view hash, std::string_view password);
// A valid user name for the users file.
bool valid_user_name(std::string_view name);

// ---- sessions, throttling, audit

class AdminSessions {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::string admin_secret;               // "admin" signs in with it
    OperatorUsers users;                    // operators (may be empty)
    std::string users_file;                 // re-read when it changes (empty: `users` stays)
    std::chrono::milliseconds lifetime = std::chrono::hours(12);     // from sign-in, absolute
    std::chrono::milliseconds idle_timeout = std::chrono::hours(1);  // without any request
    bool compat_xauth = false;              // shown to the UI (a warning)
    std::size_t max_sessions = 1000;        // the least recently used goes first
    std::size_t audit_capacity = 1000;      // entries of authenticated callers
    std::size_t refused_capacity = 200;     // refused calls and failed sign-ins, kept apart
    // Throttling of failed sign-ins: after `free` failures a key (the peer
    // address, the user name) is locked for 1 s, doubling per further
    // failure up to the cap; a success clears it, an hour without failure too.
    int addr_free_failures = 5;
    std::chrono::seconds addr_max_lock = std::chrono::minutes(15);
    int user_free_failures = 10;
    std::chrono::seconds user_max_lock = std::chrono::minutes(1);
    int max_concurrent_verifications = 2;  // Argon2 is slow on purpose: keep the handler pool free
    std::function<Clock::time_point()> now = [] { return Clock::now(); };  // tests move time
  };

  explicit AdminSessions(Options options);
  AdminSessions(const AdminSessions&) = delete;
  AdminSessions& operator=(const AdminSessions&) = delete;

  // A session as the UI sees it.
  struct Info {
    std::string user;
    std::string csrf_token;
    int64_t expires_unix = 0;  // absolute end, seconds since the epoch
  };
  struct LoginResult {
    unsigned status = 200;  // 200, 400 (bad request), 401 (wrong credentials), 429 (throttled)
    std::string cause;      // for the caller: one generic message for wrong credentials
    std::string log;        // for the log: what really happened (never the password)
    std::chrono::seconds retry_after{0};  // with 429
    std::string session_id;               // with 200: the cookie's value
    Info info;
  };
  // Checks credentials (slowly, on the calling thread, at most
  // max_concurrent_verifications at once) and starts a session. `peer` is
  // the caller's address (throttling key, without the port).
  LoginResult login(std::string_view user, std::string_view password, std::string_view peer);

  // The Security::session hook: a request's cookie, CSRF token (when
  // mutating) and Origin (when mutating and present).
  rpc::SessionCheck check(const http::Request& req, bool mutating);
  // The session of a request's cookie (no CSRF check), for GET /api/auth/session.
  std::optional<Info> info(const http::Request& req);
  // Ends the session of the request's cookie; false when there was none.
  bool logout(const http::Request& req);
  std::size_t session_count() const;

  // The Security::audit hook, plus the sign-in entries; newest first.
  void audit(const rpc::AuditEvent& event);
  nlohmann::json audit_json() const;

  // The Set-Cookie value for a new session / for signing out.
  std::string cookie(const std::string& session_id, bool secure) const;
  static std::string clearing_cookie(bool secure);

  bool compat_xauth() const { return options_.compat_xauth; }
  std::chrono::milliseconds idle_timeout() const { return options_.idle_timeout; }

 private:
  struct Session {
    std::string user;
    std::string csrf_token;
    Clock::time_point created, last_used, expires;
    int64_t expires_unix = 0;
  };
  struct Failures {
    int count = 0;
    Clock::time_point last{}, locked_until{};
  };
  struct Entry {
    uint64_t seq = 0;  // order of recording (several per millisecond)
    int64_t unix_ms = 0;
    rpc::AuditEvent event;
  };

  // The session a cookie names (by the SHA-256 of its id), if alive;
  // ends an expired one. Caller holds mu_.
  Session* find_locked(const http::Request& req, std::string* why);
  void refresh_users_locked();
  void note_failure_locked(std::map<std::string, Failures, std::less<>>& table, const std::string& key, int free,
                           std::chrono::seconds cap, std::string_view what);
  void record_locked(rpc::AuditEvent event);

  Options options_;
  mutable std::mutex mu_;
  std::map<std::string, Session> sessions_;  // key: SHA-256 of the session id (hex)
  std::map<std::string, Failures, std::less<>> addr_failures_, user_failures_;
  int verifying_ = 0;
  // Users file change detection.
  struct FileStamp {
    int64_t mtime_ns = 0, size = -1, inode = 0;
    bool operator==(const FileStamp&) const = default;
  } users_stamp_;
  Clock::time_point users_checked_{};
  bool users_broken_ = false;
  std::deque<Entry> audit_, refused_;
  uint64_t audit_seq_ = 0;
};

// The caller's address without the port (and without what a forwarding
// header added): the throttling key. "127.0.0.1:5555 [10.0.0.1]" -> "127.0.0.1".
std::string peer_address(std::string_view remote);

// The value of cookie `name` in a Cookie header; "" when absent.
std::string_view cookie_value(std::string_view cookie_header, std::string_view name);

// Adds the four routes above to `router` (before http_router() is built).
void add_session_routes(rpc::Router& router, AdminSessions& sessions);

}  // namespace codis::dashboard
