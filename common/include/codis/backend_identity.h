// The restricted Redis identity proxies use toward the servers (issue 13,
// docs/operations.md "Security"). A client that reaches a server through a
// proxy can run EVAL/FCALL, and a script may call any command its connection's
// user may run: the proxy's own command table cannot stop
// `EVAL "return redis.call('FLUSHALL')" 0`. So the proxies authenticate as an
// ACL user that Redis itself keeps from admin, dangerous and internal
// commands (ACLs apply inside scripts and functions too), while the dashboard
// and slot migration keep the admin identity (the default user, product_auth).
//
// The dashboard provisions the user on every server (acl_setuser_args); the
// proxy authenticates with it. Both derive the same password from
// product_auth unless one is configured, so operators need nothing new.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace codis::backend_identity {

inline constexpr std::string_view kDefaultUser = "codis-proxy";

// The password of the backend user: `configured` when set, else
// HMAC-SHA256(key = product_auth, message = a fixed label) as 64 hex chars.
// The label keeps it unrelated to any other use of product_auth; knowing it
// gives nothing product_auth does not already give.
std::string password(std::string_view configured, std::string_view product_auth);

// A user name ACL SETUSER takes as one plain word: 1..64 of [A-Za-z0-9._-],
// and not "default" (that is the admin identity).
bool valid_user(std::string_view user);

// Module commands (the codis_slots module's SLOTS*) the proxy sends itself
// while a slot migrates (DESIGN section 3/7): they stay allowed.
bool proxy_module_command(std::string_view lowercase_name);

// Arguments of `ACL SETUSER <user> ...` that define the restricted user from
// scratch (idempotent: `reset` first). `module_commands` are the server's
// SLOTS* commands (COMMAND LIST FILTERBY PATTERN slots*): all but the two
// proxy_module_command()s are denied by name, since Redis 7.0 puts module
// commands in no admin category. `migration_hosts`: the hosts of the
// cluster's servers (each address up to its last ':', as the proxy sends
// it); SLOTSMGRTTAGONE (which moves a key to host:port) is allowed only
// toward them, so a script cannot move keys out of the cluster.
std::vector<std::string> acl_setuser_args(std::string_view password, const std::vector<std::string>& module_commands,
                                          const std::vector<std::string>& migration_hosts);

}  // namespace codis::backend_identity
