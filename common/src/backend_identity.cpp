#include "codis/backend_identity.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>

#include "codis/sha256.h"

namespace codis::backend_identity {

namespace {
constexpr std::string_view kLabel = "codis-ng backend user password v1";

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
}  // namespace

std::string password(std::string_view configured, std::string_view product_auth) {
  if (!configured.empty()) return std::string(configured);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // An empty key is valid HMAC input; a null pointer is not, for some OpenSSL versions.
  static const unsigned char kEmpty = 0;
  const void* key = product_auth.empty() ? static_cast<const void*>(&kEmpty) : product_auth.data();
  HMAC(EVP_sha256(), key, static_cast<int>(product_auth.size()), reinterpret_cast<const unsigned char*>(kLabel.data()),
       kLabel.size(), mac, &len);
  return to_hex(mac, len);
}

bool valid_user(std::string_view user) {
  if (user.empty() || user.size() > 64 || lower(user) == "default") return false;
  return std::all_of(user.begin(), user.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

bool proxy_module_command(std::string_view name) {
  return name == "slotsmgrt-exec-wrapper" || name == "slotsmgrttagone";
}

std::vector<std::string> acl_setuser_args(std::string_view pw, const std::vector<std::string>& module_commands,
                                          const std::vector<std::string>& migration_hosts) {
  std::vector<std::string> a = {
      // From scratch, so a re-run fixes whatever was changed by hand. `sanitize-payload`: RESTORE (forwarded by
      // the proxy) deep-checks the payload, so a crafted DUMP cannot corrupt the server's memory.
      "reset", "on", "sanitize-payload", "#" + sha256_hex(pw), "~*", "&*",
      "+@all", "-@admin", "-@dangerous",
      // @dangerous commands the proxy forwards (KEYS, SORT, RESTORE) or sends itself (INFO keyspace). SORT's
      // BY/GET patterns are refused by the proxy; inside a script they read keys of the same server only.
      "+keys", "+sort", "+sort_ro", "+restore", "+info",
      // Named too, so the denial does not rest on category membership alone (categories change between
      // Redis versions): data loss (FLUSHALL, FLUSHDB, SWAPDB), copying keys out (MIGRATE), server control
      // (CONFIG, DEBUG, SHUTDOWN, REPLICAOF, SLAVEOF, FAILOVER, MODULE, ACL, SAVE, BGSAVE, BGREWRITEAOF),
      // spying on or cutting other clients (MONITOR, CLIENT), replication internals (SYNC, PSYNC, REPLCONF),
      // and FUNCTION RESTORE (replaces every library; the proxy refuses it).
      "-flushall", "-flushdb", "-swapdb", "-migrate", "-restore-asking", "-config", "-debug", "-shutdown",
      "-replicaof", "-slaveof", "-failover", "-module", "-acl", "-save", "-bgsave", "-bgrewriteaof", "-monitor",
      "-client", "-sync", "-psync", "-replconf", "-function|restore", "-cluster", "-latency", "-slowlog",
  };
  // The codis_slots module's commands move, delete and restore keys, and one (SLOTSRESTORE-ASYNC-AUTH)
  // authenticates its caller as the default user: all denied but what the proxy's migration path sends.
  bool tagone = false;
  for (const auto& c : module_commands) {
    std::string n = lower(c);
    if (!proxy_module_command(n)) a.push_back("-" + n);
    tagone = tagone || n == "slotsmgrttagone";
  }
  // SLOTSMGRTTAGONE host port timeout key: the sync method's per-key move, which the proxy sends toward the
  // slot's new group. Its first argument is the target host, so Redis's first-argument rule (deprecated in
  // 7.0, still honoured; Redis logs a deprecation line per SETUSER) limits it to the cluster's hosts.
  if (tagone) {
    a.push_back("-slotsmgrttagone");
    for (const auto& h : migration_hosts) {
      if (!h.empty() && h.find_first_of(" |") == std::string::npos) a.push_back("+slotsmgrttagone|" + h);
    }
  }
  return a;
}

}  // namespace codis::backend_identity
