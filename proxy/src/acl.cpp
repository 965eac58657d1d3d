#include "acl.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "codis/sha256.h"

namespace codis::proxy::acl {

const std::string_view kCategoryNames[kCategoryCount] = {
    "keyspace", "read",  "write", "set",      "sortedset", "list",      "hash",       "string",
    "bitmap",   "hyperloglog", "geo", "stream", "pubsub",  "admin",     "fast",       "slow",
    "blocking", "dangerous", "connection", "transaction", "scripting",
};

namespace {

// Names of the generated rows (acl_commands.inc).
constexpr uint32_t C_KEYSPACE = kCatKeyspace, C_READ = kCatRead, C_WRITE = kCatWrite, C_SET = kCatSet,
                   C_SORTEDSET = kCatSortedSet, C_LIST = kCatList, C_HASH = kCatHash, C_STRING = kCatString,
                   C_BITMAP = kCatBitmap, C_HYPERLOGLOG = kCatHyperLogLog, C_GEO = kCatGeo, C_STREAM = kCatStream,
                   C_PUBSUB = kCatPubSub, C_ADMIN = kCatAdmin, C_FAST = kCatFast, C_SLOW = kCatSlow,
                   C_BLOCKING = kCatBlocking, C_DANGEROUS = kCatDangerous, C_CONNECTION = kCatConnection,
                   C_TRANSACTION = kCatTransaction, C_SCRIPTING = kCatScripting;
constexpr uint32_t K1_NONE = 0, K1_R = 1u << 0, K1_W = 1u << 1, K1_RW = K1_R | K1_W;
constexpr uint32_t KN_NONE = 0, KN_R = 1u << 2, KN_W = 1u << 3, KN_RW = KN_R | KN_W;
constexpr uint32_t VARIABLE = 1u << 4, NOAUTH = 1u << 5, HASKEYS = 1u << 6;

struct Row {
  std::string_view name;
  uint32_t categories;
  uint32_t flags;
};

constexpr Row kRows[] = {
#include "acl_commands.inc"
};

constexpr CommandAcl make_acl(const Row& r) {
  // Codis's and the proxy's own commands (SLOTS*, SLOTSMAPPING) have categories here but are
  // not counted when ACL LIST approximates a user by categories: redis-server has none of them.
  const bool redis = !r.name.starts_with("SLOTS");
  return CommandAcl{r.name,
                    r.categories,
                    static_cast<uint8_t>(r.flags & 3u),
                    static_cast<uint8_t>((r.flags >> 2) & 3u),
                    (r.flags & VARIABLE) != 0,
                    (r.flags & NOAUTH) != 0,
                    redis};
}

consteval std::array<CommandAcl, std::size(kRows)> make_acls() {
  std::array<CommandAcl, std::size(kRows)> a{};
  for (size_t i = 0; i < std::size(kRows); ++i) a[i] = make_acl(kRows[i]);
  return a;
}
constexpr std::array<CommandAcl, std::size(kRows)> kAcls = make_acls();

// Rows whose key specs are all flagged not_key or that have none: Redis checks no key for them
// even where the proxy routes by an argument (PUBLISH routes by its channel).
consteval std::array<bool, std::size(kRows)> make_has_keys() {
  std::array<bool, std::size(kRows)> a{};
  for (size_t i = 0; i < std::size(kRows); ++i) a[i] = (kRows[i].flags & HASKEYS) != 0;
  return a;
}
constexpr std::array<bool, std::size(kRows)> kHasKeys = make_has_keys();

constexpr size_t kWords = (std::size(kRows) + 63) / 64;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string lower_name(std::string_view name) {
  std::string s(name);
  for (char& c : s) c = lower(c);
  return s;
}

bool has_space(std::string_view s) {
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == '\0') return true;
  }
  return false;
}

bool get_bit(const std::vector<uint64_t>& bits, size_t i) { return (bits[i / 64] >> (i % 64)) & 1u; }
void set_bit(std::vector<uint64_t>& bits, size_t i, bool v) {
  if (v) {
    bits[i / 64] |= uint64_t{1} << (i % 64);
  } else {
    bits[i / 64] &= ~(uint64_t{1} << (i % 64));
  }
}

// Redis's ACLChangeSelectorPerm: a container's rule applies to every subcommand too.
void change_perm(std::vector<uint64_t>& bits, std::map<uint16_t, std::vector<std::string>>* first_args,
                 const CommandInfo& cmd, bool allow) {
  set_bit(bits, cmd.index, allow);
  if (first_args != nullptr) first_args->erase(cmd.index);
  for (size_t s = cmd.first_sub; s < size_t{cmd.first_sub} + cmd.num_subs; ++s) set_bit(bits, s, allow);
}

void change_category(std::vector<uint64_t>& bits, std::map<uint16_t, std::vector<std::string>>* first_args,
                     uint32_t category, bool allow) {
  for (const CommandInfo& c : all_commands()) {
    if (kAcls[c.index].categories & category) change_perm(bits, first_args, c, allow);
  }
}

// Passwords are kept only as this hash, as Redis keeps them (OpenSSL's SHA-256).
std::string hash_hex(std::string_view password) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(password.data(), password.size(), digest, &n, EVP_sha256(), nullptr) != 1 || n != 32) {
    // Never reached with a working libcrypto; a hash that matches nothing refuses the password.
    return std::string(64, 'x');
  }
  return to_hex(digest, n);
}

bool valid_hash(std::string_view h) {
  if (h.size() != 64) return false;
  return std::all_of(h.begin(), h.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

constexpr std::string_view kErrSyntax = "Syntax error";
constexpr std::string_view kErrUnknown = "Unknown command or category name in ACL";
constexpr std::string_view kErrNoSuchPassword = "The password you are trying to remove from the user does not exist";
constexpr std::string_view kErrBadHash =
    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters";
constexpr std::string_view kErrKeyAfterAll =
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try "
    "'resetkeys' to start with an empty list of patterns";
constexpr std::string_view kErrChannelAfterAll =
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. "
    "Try 'resetchannels' to start with an empty list of channels";
constexpr std::string_view kErrSelectors = "Selectors are not supported by the proxy";

bool match_impl(const char* p, size_t plen, const char* s, size_t slen, bool nocase, bool& skip_longer,
                int nesting) {
  // Redis bounds the recursion of '*' the same way (a pattern of many stars is refused).
  if (nesting > 1000) return false;
  const auto fold = [nocase](unsigned char c) { return nocase ? static_cast<unsigned char>(lower(static_cast<char>(c))) : c; };
  while (plen > 0 && slen > 0) {
    switch (p[0]) {
      case '*':
        while (plen > 1 && p[1] == '*') {
          ++p;
          --plen;
        }
        if (plen == 1) return true;
        while (slen > 0) {
          if (match_impl(p + 1, plen - 1, s, slen, nocase, skip_longer, nesting + 1)) return true;
          if (skip_longer) return false;
          ++s;
          --slen;
        }
        // The rest of the pattern matched no suffix: no longer prefix can match either.
        skip_longer = true;
        return false;
      case '?':
        ++s;
        --slen;
        break;
      case '[': {
        ++p;
        --plen;
        const bool negate = plen > 0 && p[0] == '^';
        if (negate) {
          ++p;
          --plen;
        }
        bool match = false;
        while (true) {
          if (plen == 0) {
            // An unterminated class: step back so the increment below ends the pattern.
            --p;
            ++plen;
            break;
          }
          if (p[0] == '\\' && plen >= 2) {
            ++p;
            --plen;
            if (p[0] == s[0]) match = true;
          } else if (p[0] == ']') {
            break;
          } else if (plen >= 3 && p[1] == '-') {
            unsigned char start = fold(static_cast<unsigned char>(p[0]));
            unsigned char end = fold(static_cast<unsigned char>(p[2]));
            const unsigned char c = fold(static_cast<unsigned char>(s[0]));
            if (start > end) std::swap(start, end);
            p += 2;
            plen -= 2;
            if (c >= start && c <= end) match = true;
          } else if (fold(static_cast<unsigned char>(p[0])) == fold(static_cast<unsigned char>(s[0]))) {
            match = true;
          }
          ++p;
          --plen;
        }
        if (negate) match = !match;
        if (!match) return false;
        ++s;
        --slen;
        break;
      }
      case '\\':
        if (plen >= 2) {
          ++p;
          --plen;
        }
        [[fallthrough]];
      default:
        if (fold(static_cast<unsigned char>(p[0])) != fold(static_cast<unsigned char>(s[0]))) return false;
        ++s;
        --slen;
        break;
    }
    ++p;
    --plen;
    if (slen == 0) {
      while (plen > 0 && p[0] == '*') {
        ++p;
        --plen;
      }
      break;
    }
  }
  return plen == 0 && slen == 0;
}

// sdssplitargs as Redis splits an ACL file line: words separated by blanks; "..." with \n \r
// \t \b \a \\ \" and \xHH escapes, '...' with \' only; a closing quote must end the word.
std::optional<std::vector<std::string>> split_args(std::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  const auto is_blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; };
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  while (true) {
    while (i < line.size() && is_blank(line[i])) ++i;
    if (i >= line.size()) return out;
    std::string word;
    bool in_dq = false, in_sq = false;
    while (true) {
      if (in_dq) {
        if (i >= line.size()) return std::nullopt;
        if (line[i] == '\\' && i + 3 < line.size() + 0 && line[i + 1] == 'x' && hex(line[i + 2]) >= 0 &&
            hex(line[i + 3]) >= 0) {
          word.push_back(static_cast<char>(hex(line[i + 2]) * 16 + hex(line[i + 3])));
          i += 4;
          continue;
        }
        if (line[i] == '\\' && i + 1 < line.size()) {
          const char c = line[i + 1];
          word.push_back(c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c == 'b' ? '\b' : c == 'a' ? '\a' : c);
          i += 2;
          continue;
        }
        if (line[i] == '"') {
          if (i + 1 < line.size() && !is_blank(line[i + 1])) return std::nullopt;
          ++i;
          break;
        }
        word.push_back(line[i++]);
      } else if (in_sq) {
        if (i >= line.size()) return std::nullopt;
        if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '\'') {
          word.push_back('\'');
          i += 2;
          continue;
        }
        if (line[i] == '\'') {
          if (i + 1 < line.size() && !is_blank(line[i + 1])) return std::nullopt;
          ++i;
          break;
        }
        word.push_back(line[i++]);
      } else {
        if (i >= line.size() || is_blank(line[i])) break;
        if (line[i] == '"' && word.empty()) {
          in_dq = true;
          ++i;
          continue;
        }
        if (line[i] == '\'' && word.empty()) {
          in_sq = true;
          ++i;
          continue;
        }
        word.push_back(line[i++]);
      }
    }
    out.push_back(std::move(word));
  }
}

uint8_t needed_perm(const CommandAcl& acl, std::span<const std::string_view> args, size_t nth_key) {
  if (acl.variable) {
    if (acl.name == "SET") {
      // SET k v ... GET reads the old value: RW; otherwise it only overwrites.
      for (size_t i = 3; i < args.size(); ++i) {
        if (iequals(args[i], "GET")) return kPermAll;
      }
      return kPermWrite;
    }
    if (acl.name == "BITFIELD") {
      // Read-only unless a SET or INCRBY (or something unparsable) appears, as Redis decides.
      for (size_t i = 2; i < args.size(); ++i) {
        const size_t rem = args.size() - i - 1;
        if (iequals(args[i], "GET") && rem >= 2) {
          i += 2;
        } else if (iequals(args[i], "OVERFLOW") && rem >= 1) {
          i += 1;
        } else {
          return kPermAll;
        }
      }
      return kPermRead;
    }
  }
  return nth_key == 0 ? acl.first_key_perm : acl.other_key_perm;
}

}  // namespace

uint32_t category_bit(std::string_view name) {
  for (size_t i = 0; i < kCategoryCount; ++i) {
    if (iequals(name, kCategoryNames[i])) return 1u << i;
  }
  return 0;
}

const CommandAcl& command_acl(const CommandInfo& cmd) { return kAcls[cmd.index]; }

bool table_matches_commands() {
  const auto cmds = all_commands();
  if (cmds.size() != kAcls.size()) return false;
  for (size_t i = 0; i < cmds.size(); ++i) {
    if (cmds[i].name != kAcls[i].name) return false;
  }
  return true;
}

bool glob_match(std::string_view pattern, std::string_view text, bool nocase) {
  bool skip_longer = false;
  return match_impl(pattern.data(), pattern.size(), text.data(), text.size(), nocase, skip_longer, 0);
}

User::User() : allowed(kWords, 0) {}

std::optional<std::string> User::apply(std::string_view op, bool* unknown) {
  if (unknown != nullptr) *unknown = false;
  const auto fail = [](std::string_view m) { return std::optional<std::string>(std::string(m)); };
  const auto fail_unknown = [&]() {
    if (unknown != nullptr) *unknown = true;
    return fail(kErrUnknown);
  };
  if (iequals(op, "on")) {
    enabled = true;
  } else if (iequals(op, "off")) {
    enabled = false;
  } else if (iequals(op, "skip-sanitize-payload")) {
    skip_sanitize_payload = true;
    sanitize_payload = false;
  } else if (iequals(op, "sanitize-payload")) {
    sanitize_payload = true;
    skip_sanitize_payload = false;
  } else if (iequals(op, "nopass")) {
    nopass = true;
    passwords.clear();
  } else if (iequals(op, "resetpass")) {
    nopass = false;
    passwords.clear();
  } else if (!op.empty() && (op[0] == '>' || op[0] == '#')) {
    std::string h;
    if (op[0] == '>') {
      h = hash_hex(op.substr(1));
    } else {
      if (!valid_hash(op.substr(1))) return fail(kErrBadHash);
      h = std::string(op.substr(1));
    }
    if (std::find(passwords.begin(), passwords.end(), h) == passwords.end()) passwords.push_back(std::move(h));
    nopass = false;
  } else if (!op.empty() && (op[0] == '<' || op[0] == '!')) {
    std::string h;
    if (op[0] == '<') {
      h = hash_hex(op.substr(1));
    } else {
      if (!valid_hash(op.substr(1))) return fail(kErrBadHash);
      h = std::string(op.substr(1));
    }
    auto it = std::find(passwords.begin(), passwords.end(), h);
    if (it == passwords.end()) return fail(kErrNoSuchPassword);
    passwords.erase(it);
  } else if (iequals(op, "reset")) {
    for (std::string_view r : {"resetpass", "resetkeys", "resetchannels", "off", "sanitize-payload", "-@all"}) {
      apply(r);
    }
  } else if (!op.empty() && op[0] == '(') {
    return fail(kErrSelectors);
  } else if (iequals(op, "clearselectors")) {
    // No selectors exist here, so there is nothing to clear.
  } else if (iequals(op, "allkeys") || op == "~*") {
    allkeys = true;
    keys.clear();
  } else if (iequals(op, "resetkeys")) {
    allkeys = false;
    keys.clear();
  } else if (iequals(op, "allchannels") || op == "&*") {
    allchannels = true;
    channels.clear();
  } else if (iequals(op, "resetchannels")) {
    allchannels = false;
    channels.clear();
  } else if (iequals(op, "allcommands") || iequals(op, "+@all")) {
    std::fill(allowed.begin(), allowed.end(), ~uint64_t{0});
    future_commands = true;
    first_args.clear();
  } else if (iequals(op, "nocommands") || iequals(op, "-@all")) {
    std::fill(allowed.begin(), allowed.end(), 0);
    future_commands = false;
    first_args.clear();
  } else if (!op.empty() && (op[0] == '~' || op[0] == '%')) {
    if (allkeys) return fail(kErrKeyAfterAll);
    uint8_t perms = 0;
    size_t offset = 1;
    if (op[0] == '~') {
      perms = kPermAll;
    } else {
      for (; offset < op.size(); ++offset) {
        const char c = op[offset];
        if ((c == 'R' || c == 'r') && !(perms & kPermRead)) {
          perms |= kPermRead;
        } else if ((c == 'W' || c == 'w') && !(perms & kPermWrite)) {
          perms |= kPermWrite;
        } else if (c == '~' && perms != 0) {
          ++offset;
          break;
        } else {
          return fail(kErrSyntax);
        }
      }
      if (perms == 0) return fail(kErrSyntax);
    }
    const std::string_view pattern = offset <= op.size() ? op.substr(offset) : std::string_view{};
    if (has_space(pattern)) return fail(kErrSyntax);
    auto it = std::find_if(keys.begin(), keys.end(), [&](const KeyPattern& k) { return k.pattern == pattern; });
    if (it == keys.end()) {
      keys.push_back(KeyPattern{std::string(pattern), perms});
    } else {
      it->perms |= perms;
    }
  } else if (!op.empty() && op[0] == '&') {
    if (allchannels) return fail(kErrChannelAfterAll);
    const std::string_view pattern = op.substr(1);
    if (has_space(pattern)) return fail(kErrSyntax);
    if (std::find(channels.begin(), channels.end(), pattern) == channels.end()) channels.emplace_back(pattern);
  } else if (op.size() >= 2 && (op[0] == '+' || op[0] == '-') && op[1] == '@') {
    const uint32_t bit = category_bit(op.substr(2));
    if (bit == 0) return fail_unknown();
    change_category(allowed, &first_args, bit, op[0] == '+');
  } else if (!op.empty() && (op[0] == '+' || op[0] == '-')) {
    const bool allow = op[0] == '+';
    const std::string_view name = op.substr(1);
    const size_t bar = name.find('|');
    if (bar == std::string_view::npos) {
      const CommandInfo* cmd = find_command(name);
      if (cmd == nullptr) return fail_unknown();
      change_perm(allowed, &first_args, *cmd, allow);
    } else {
      const CommandInfo* parent = find_command(name.substr(0, bar));
      if (parent == nullptr) return fail_unknown();
      const std::string_view rest = name.substr(bar + 1);
      if (parent->is_container()) {
        if (rest.find('|') != std::string_view::npos) return fail_unknown();
        const CommandInfo* sub = find_subcommand(*parent, rest);
        if (sub == nullptr) return fail_unknown();
        change_perm(allowed, &first_args, *sub, allow);
      } else {
        // "+select|0": the command only with that first argument (Redis 7.0 first-args).
        if (!allow) return fail_unknown();
        if (rest.empty() || rest.find('|') != std::string_view::npos) return fail(kErrSyntax);
        if (!get_bit(allowed, parent->index)) {
          auto& list = first_args[parent->index];
          if (std::none_of(list.begin(), list.end(), [&](const std::string& a) { return iequals(a, rest); })) {
            list.emplace_back(rest);
          }
        }
      }
    }
  } else {
    return fail(kErrSyntax);
  }
  return std::nullopt;
}

bool User::command_allowed(const CommandInfo& cmd) const { return get_bit(allowed, cmd.index); }

bool User::password_ok(std::string_view password) const {
  if (!enabled) return false;
  if (nopass) return true;
  const std::string h = hash_hex(password);
  bool ok = false;
  for (const std::string& p : passwords) {
    // Every stored hash is compared, in constant time, whatever matched before.
    ok |= CRYPTO_memcmp(p.data(), h.data(), h.size()) == 0;
  }
  return ok;
}

std::string User::describe() const {
  std::string out;
  const auto add = [&out](std::string_view s) {
    if (!out.empty()) out += ' ';
    out += s;
  };
  add(enabled ? "on" : "off");
  if (nopass) add("nopass");
  if (skip_sanitize_payload) add("skip-sanitize-payload");
  if (sanitize_payload) add("sanitize-payload");
  for (const std::string& p : passwords) add("#" + p);
  if (allkeys) {
    add("~*");
  } else {
    for (const KeyPattern& k : keys) {
      add((k.perms == kPermAll ? "~" : k.perms == kPermRead ? "%R~" : "%W~") + k.pattern);
    }
  }
  if (allchannels) {
    add("&*");
  } else {
    add("resetchannels");
    for (const std::string& c : channels) add("&" + c);
  }

  // Command rules, as Redis's ACLDescribeSelectorCommandRules: start from +@all or -@all, add the
  // categories that fit best (greedily, in Redis's category order), then single commands.
  const auto cmds = all_commands();
  const bool additive = !future_commands;
  add(additive ? "-@all" : "+@all");
  std::vector<uint64_t> fake(kWords, additive ? 0 : ~uint64_t{0});
  std::vector<uint64_t> temp = allowed;
  std::array<bool, kCategoryCount> applied{};
  while (true) {
    int best = -1;
    size_t min_diff = SIZE_MAX, max_same = 0;
    for (size_t j = 0; j < kCategoryCount; ++j) {
      if (applied[j]) continue;
      size_t on = 0, off = 0;
      for (const CommandInfo& c : cmds) {
        if (!kAcls[c.index].redis || !(kAcls[c.index].categories & (1u << j))) continue;
        (get_bit(temp, c.index) ? on : off)++;
      }
      const size_t diff = additive ? off : on;
      const size_t same = additive ? on : off;
      if (same > diff && (diff < min_diff || (diff == min_diff && same > max_same))) {
        best = static_cast<int>(j);
        min_diff = diff;
        max_same = same;
      }
    }
    if (best < 0) break;
    change_category(fake, nullptr, 1u << best, additive);
    change_category(temp, nullptr, 1u << best, !additive);
    add(std::string(additive ? "+@" : "-@") + std::string(kCategoryNames[best]));
    applied[static_cast<size_t>(best)] = true;
  }
  for (const CommandInfo& c : cmds) {
    const bool user_bit = get_bit(allowed, c.index);
    if (user_bit != get_bit(fake, c.index)) {
      add((user_bit ? "+" : "-") + lower_name(c.name));
      change_perm(fake, nullptr, c, user_bit);
    }
    if (!user_bit) {
      auto it = first_args.find(c.index);
      if (it != first_args.end()) {
        for (const std::string& a : it->second) add("+" + lower_name(c.name) + "|" + a);
      }
    }
  }
  return out;
}

std::string setuser_error(std::string_view rule, std::string_view message) {
  std::string out = "ERR Error in ACL SETUSER modifier '";
  out += rule;
  out += "': ";
  out += message;
  return out;
}

std::string Users::default_rules_for_password(std::string_view session_auth) {
  if (session_auth.empty()) return "on nopass ~* &* +@all";
  // The password goes in as a hash: the rules string may end up in a log line.
  return "on #" + hash_hex(session_auth) + " ~* &* +@all";
}

namespace {

std::shared_ptr<User> user_from_rules(std::string name, std::string_view rules) {
  auto u = std::make_shared<User>(std::move(name));
  auto args = split_args(rules);
  if (args) {
    for (const std::string& r : *args) u->apply(r);
  }
  return u;
}

}  // namespace

std::shared_ptr<const Users> Users::only_default(std::string_view default_rules) {
  auto users = std::make_shared<Users>();
  users->default_ = user_from_rules("default", default_rules);
  users->users_.emplace("default", users->default_);
  return users;
}

std::shared_ptr<const Users> Users::parse(std::string_view text, std::string_view filename,
                                          std::string_view default_rules, std::string& error) {
  auto users = std::make_shared<Users>();
  std::string errors;
  const std::string file(filename);
  size_t line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!line.empty() && blank(line.front())) line.remove_prefix(1);
    while (!line.empty() && blank(line.back())) line.remove_suffix(1);
    if (line.empty() || line[0] == '#') {
      if (end == text.size()) break;
      continue;
    }
    const std::string where = file + ":" + std::to_string(line_no);
    auto args = split_args(line);
    if (!args) {
      errors += where + ": unbalanced quotes in acl line. ";
    } else if (args->size() < 2 || (*args)[0] != "user") {
      errors += where + " should start with user keyword followed by the username. ";
    } else if (has_space((*args)[1])) {
      errors += where + ": username '" + (*args)[1] + "' contains invalid characters. ";
    } else if (users->users_.count((*args)[1]) != 0) {
      errors += "WARNING: Duplicate user '" + (*args)[1] + "' found on line " + std::to_string(line_no) + ". ";
    } else {
      auto u = std::make_shared<User>((*args)[1]);
      bool reported = false;
      for (size_t j = 2; j < args->size(); ++j) {
        bool unknown = false;
        if (auto e = u->apply((*args)[j], &unknown)) {
          if (unknown) {
            // Only an unknown command or category is named: other rules may be passwords.
            errors += where + ": Error in applying operation '" + (*args)[j] + "': " + *e + ". ";
          } else if (!reported) {
            errors += where + ": " + *e + ". ";
            reported = true;
          }
        }
      }
      users->users_.emplace(u->name, std::move(u));
    }
    if (end == text.size()) break;
  }
  if (!errors.empty()) {
    error = errors + "WARNING: ACL errors detected, no change to the previously active ACL rules was performed";
    return nullptr;
  }
  auto it = users->users_.find("default");
  if (it == users->users_.end()) {
    users->default_ = user_from_rules("default", default_rules);
    users->users_.emplace("default", users->default_);
  } else {
    users->default_ = it->second;
  }
  return users;
}

std::shared_ptr<const User> Users::find(std::string_view name) const {
  auto it = users_.find(name);
  return it == users_.end() ? nullptr : it->second;
}

Denied check(const User& user, const CommandInfo& cmd, std::span<const std::string_view> args,
             std::span<const int> keys) {
  const CommandAcl& acl = kAcls[cmd.index];
  if (!acl.no_auth && !get_bit(user.allowed, cmd.index)) {
    // A first-argument rule ("+select|0") allows just that first argument.
    auto it = user.first_args.find(cmd.index);
    const size_t pos = cmd.is_subcommand() ? 2 : 1;
    if (it == user.first_args.end() || args.size() <= pos ||
        std::none_of(it->second.begin(), it->second.end(),
                     [&](const std::string& a) { return iequals(a, args[pos]); })) {
      return Denied::kCommand;
    }
  }
  if (!user.allkeys && kHasKeys[cmd.index]) {
    for (size_t n = 0; n < keys.size(); ++n) {
      const std::string_view key = args[static_cast<size_t>(keys[n])];
      const uint8_t need = needed_perm(acl, args, n);
      const bool ok = std::any_of(user.keys.begin(), user.keys.end(), [&](const KeyPattern& p) {
        return (p.perms & need) == need && glob_match(p.pattern, key);
      });
      if (!ok) return Denied::kKey;
    }
  }
  if (!user.allchannels) {
    const std::string_view name = cmd.name;
    const auto channel_ok = [&](std::string_view channel, bool literal) {
      return std::any_of(user.channels.begin(), user.channels.end(), [&](const std::string& p) {
        return literal ? p == channel : glob_match(p, channel);
      });
    };
    if ((name == "PUBLISH" || name == "SPUBLISH") && args.size() >= 2) {
      if (!channel_ok(args[1], false)) return Denied::kChannel;
    } else if (name == "SUBSCRIBE" || name == "SSUBSCRIBE" || name == "PSUBSCRIBE") {
      // A pattern subscription is allowed only for a pattern the user has, literally.
      const bool literal = name == "PSUBSCRIBE";
      for (size_t i = 1; i < args.size(); ++i) {
        if (!channel_ok(args[i], literal)) return Denied::kChannel;
      }
    }
  }
  return Denied::kNone;
}

std::string noperm_error(Denied denied, const CommandInfo& cmd) {
  switch (denied) {
    case Denied::kCommand:
      return "NOPERM this user has no permissions to run the '" + lower_name(cmd.name) + "' command";
    case Denied::kKey:
      return "NOPERM this user has no permissions to access one of the keys used as arguments";
    case Denied::kChannel:
      return "NOPERM this user has no permissions to access one of the channels used as arguments";
    case Denied::kNone:
      break;
  }
  return {};
}

std::vector<std::string> category_commands(uint32_t bit) {
  std::vector<std::string> out;
  for (const CommandInfo& c : all_commands()) {
    if (kAcls[c.index].redis && (kAcls[c.index].categories & bit)) out.push_back(lower_name(c.name));
  }
  return out;
}

}  // namespace codis::proxy::acl
