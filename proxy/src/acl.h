// The proxy's user model: Redis 7.0 ACL users, parsed from a file in Redis's ACL-file syntax
// (`users_file` in proxy.toml), and the per-request permission decision. No I/O here: the
// session layer (session_acl.cpp) reads the file, authenticates connections, asks check()
// before it dispatches a request and formats ACL WHOAMI/LIST/USERS/CAT replies with describe().
//
// What follows Redis 7.0.15 exactly (the integration suite compares with a real redis-server
// loaded with the same file): the rules (on, off, >pass, <pass, #hash, !hash, nopass, resetpass,
// ~pattern, %R~ %W~ %RW~, allkeys, resetkeys, &pattern, allchannels, resetchannels, +cmd, -cmd,
// +cmd|sub, +cmd|firstarg, +@cat, -@cat, allcommands, nocommands, reset, sanitize-payload,
// skip-sanitize-payload), their error texts, ACL LOAD's error report, the categories of every
// command (acl_commands.inc, generated from the server), the key permissions a command needs
// (per key spec; SET and BITFIELD refined per request as the server does), the glob matcher,
// the NOPERM texts, and ACL LIST's formatting. Differences: selectors "(...)" are refused;
// '#' starts a comment line in the file (Redis has no comments); ACL LIST lists single
// command rules in the proxy's table order (Redis: its hash table's order, which varies).
//
// A Users value is immutable once built; the session layer shares it with shared_ptr and swaps
// the whole set on a reload, so a reload never mutates what a running request looks at.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "command_table.h"

namespace codis::proxy::acl {

// Redis's ACL categories, bit i = kCategoryNames[i] (Redis's own order, which ACL LIST uses).
inline constexpr size_t kCategoryCount = 21;
extern const std::string_view kCategoryNames[kCategoryCount];
enum Category : uint32_t {
  kCatKeyspace = 1u << 0, kCatRead = 1u << 1, kCatWrite = 1u << 2, kCatSet = 1u << 3, kCatSortedSet = 1u << 4,
  kCatList = 1u << 5, kCatHash = 1u << 6, kCatString = 1u << 7, kCatBitmap = 1u << 8, kCatHyperLogLog = 1u << 9,
  kCatGeo = 1u << 10, kCatStream = 1u << 11, kCatPubSub = 1u << 12, kCatAdmin = 1u << 13, kCatFast = 1u << 14,
  kCatSlow = 1u << 15, kCatBlocking = 1u << 16, kCatDangerous = 1u << 17, kCatConnection = 1u << 18,
  kCatTransaction = 1u << 19, kCatScripting = 1u << 20,
};
// 0 for an unknown name (case-insensitive, without the '@').
uint32_t category_bit(std::string_view name);

// Key permissions (a pattern grants them, a key of a command needs them).
enum KeyPerm : uint8_t { kPermRead = 1, kPermWrite = 2, kPermAll = 3 };

// What Redis knows about a command for ACLs (one row per all_commands() entry, same index).
struct CommandAcl {
  std::string_view name;   // as in the command table ("CONFIG|GET")
  uint32_t categories;     // Category bits
  uint8_t first_key_perm;  // what the first key of a request needs
  uint8_t other_key_perm;  // what every other key needs
  bool variable;           // refined per request (SET ... GET, BITFIELD SET/INCRBY)
  bool no_auth;            // AUTH, HELLO: allowed to everyone
  bool redis;              // false: a Codis / proxy command that redis-server does not have
};
const CommandAcl& command_acl(const CommandInfo& cmd);
// True when acl_commands.inc lists exactly the command table's names in its order (a unit test
// checks it; the proxy refuses to start otherwise).
bool table_matches_commands();

// Redis's stringmatchlen: '*', '?', '[abc]', '[^a-z]', '\x' escapes; byte-wise.
bool glob_match(std::string_view pattern, std::string_view text, bool nocase = false);

struct KeyPattern {
  std::string pattern;
  uint8_t perms = kPermAll;
};

struct User {
  std::string name;
  bool enabled = false;
  bool nopass = false;
  bool sanitize_payload = false;       // accepted and shown; the proxy itself has no RESTORE sanitizing
  bool skip_sanitize_payload = false;
  std::vector<std::string> passwords;  // lowercase hex SHA-256, in the order they were added
  bool allkeys = false;
  std::vector<KeyPattern> keys;
  bool allchannels = false;
  std::vector<std::string> channels;
  bool future_commands = false;        // +@all / allcommands: Redis's "reserved bit"
  std::vector<uint64_t> allowed;       // bit per all_commands() index
  std::map<uint16_t, std::vector<std::string>> first_args;  // +select|0: allowed first arguments

  User();  // a new user as Redis creates it: off, no passwords, no keys, no channels, no commands
  explicit User(std::string n) : User() { name = std::move(n); }

  // Applies one rule. On error returns Redis's message (as ACLSetUserStringError words it, e.g.
  // "Syntax error") and `*unknown` tells whether it was "Unknown command or category name in ACL"
  // (Redis names the rule only then: other rules may be passwords). The user may be partly
  // changed on error; the file loader throws such a user away.
  std::optional<std::string> apply(std::string_view rule, bool* unknown = nullptr);

  bool command_allowed(const CommandInfo& cmd) const;
  // The password check of AUTH / HELLO: SHA-256 of `password`, compared in constant time with
  // every stored hash (all of them, whatever matches first). Disabled users never pass.
  bool password_ok(std::string_view password) const;

  // As ACL LIST shows it, without "user NAME ": "on nopass ~* &* +@all".
  std::string describe() const;
};

// "ERR Error in ACL SETUSER modifier '<rule>': <message>" (what ACL SETUSER replies).
std::string setuser_error(std::string_view rule, std::string_view message);

// An immutable set of users. `default` always exists.
class Users {
 public:
  // Parses a users file (Redis ACL-file syntax; blank lines and '#' comment lines skipped).
  // `filename` only names the file in errors. On any error returns nullptr and sets `error` to
  // the report ACL LOAD gives ("<file>:<line>: <message>. ... WARNING: ACL errors detected, no
  // change to the previously active ACL rules was performed"). Without a `default` line the
  // default user is `default_rules` (session_auth's user: "on nopass ~* &* +@all" or
  // "on >pass ~* &* +@all").
  static std::shared_ptr<const Users> parse(std::string_view text, std::string_view filename,
                                            std::string_view default_rules, std::string& error);
  // Only the default user, from rules (the set when there is no users_file).
  static std::shared_ptr<const Users> only_default(std::string_view default_rules);
  // The default rules for a session_auth value: "on nopass ~* &* +@all" when empty.
  static std::string default_rules_for_password(std::string_view session_auth);

  std::shared_ptr<const User> find(std::string_view name) const;
  const User& default_user() const { return *default_; }
  // Sorted by name (as ACL USERS and ACL LIST show them).
  const std::map<std::string, std::shared_ptr<const User>, std::less<>>& all() const { return users_; }

 private:
  std::map<std::string, std::shared_ptr<const User>, std::less<>> users_;
  std::shared_ptr<const User> default_;
};

// The permission decision for one request. `args` is the whole request (args[0] the name),
// `cmd` what resolve_command gave for it, `keys` the key indices command_keys extracted (empty
// when extraction failed: Redis then checks no key and the command reports its own error).
enum class Denied : uint8_t { kNone, kCommand, kKey, kChannel };
Denied check(const User& user, const CommandInfo& cmd, std::span<const std::string_view> args,
             std::span<const int> keys);

// The reply for a denial, as Redis 7.0 words it (without the leading '-'):
// "NOPERM this user has no permissions to run the 'get' command", "... to access one of the
// keys used as arguments", "... to access one of the channels used as arguments".
std::string noperm_error(Denied denied, const CommandInfo& cmd);

// ACL CAT [category]: the category names, or the lower-case names of the category's commands.
std::vector<std::string> category_commands(uint32_t category_bit);

}  // namespace codis::proxy::acl
