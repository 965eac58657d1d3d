// Session: cluster-wide administration through the proxy (issue 13, item 3). With a users_file,
// CONFIG SET, CONFIG GET and CONFIG RESETSTAT from a user whose rules allow them (they are
// @admin) go to every server the proxy knows of every group, and the client gets one reply as a
// single Redis would give it. Without a users_file they stay as before (CONFIG GET answered by
// the proxy, CONFIG SET refused): the default user of a Codis set-up is +@all, and must not
// become able to reconfigure every backend. FLUSHALL/FLUSHDB are in cluster_commands.cpp
// (also decided by the user's rights when there is a users_file).
//
// Identity: the client connections log in as the restricted backend user, which may not run CONFIG
// or FLUSHALL; so these go over the worker's admin connections (Worker::admin_backend, logged in
// with product_auth), which nothing else uses.
//
// Every server: the routing table names only the masters (and the replicas serving reads), so the
// command first asks each master for its replicas (ROLE) and then goes to all of them.
#include <algorithm>

#include "codis/resp.h"
#include "command_table.h"
#include "session.h"
#include "text_util.h"
#include "worker.h"

namespace codis::proxy {

namespace {

std::string admin_all_ok(SplitState& s) {
  for (const auto& r : s.values)
    if (!r.empty() && r[0] == '-') return r;
  for (const auto& r : s.values)
    if (r != "+OK\r\n") return "-ERR unexpected reply from a server\r\n";
  return "+OK\r\n";
}

// The servers' own secrets (requirepass is product_auth, the admin identity): a proxy user's
// +@admin reconfigures the servers, it does not hand out or replace their passwords.
bool secret_parameter(std::string_view name) {
  const std::string n = lower(name);
  return n == "requirepass" || n == "masterauth" || n == "masteruser" || n == "tls-key-file-pass" ||
         n == "tls-client-key-file-pass";
}

// CONFIG GET: the first server's answer (the masters come first), without the secrets a pattern such
// as `*` matches; an error if any server failed.
std::string admin_first(SplitState& s) {
  for (const auto& r : s.values)
    if (!r.empty() && r[0] == '-') return r;
  if (s.values.empty()) return "-ERR no group serves any slot\r\n";
  resp::Value v;
  size_t used = 0;
  if (resp::parse_value(s.values.front(), v, used) != resp::ParseStatus::kOk || v.type != resp::Value::Type::kArray ||
      v.elements.size() % 2 != 0)
    return "-ERR unexpected reply from a server\r\n";
  std::vector<const resp::Value*> kept;
  for (size_t i = 0; i < v.elements.size(); i += 2) {
    if (secret_parameter(v.elements[i].str)) continue;
    kept.push_back(&v.elements[i]);
    kept.push_back(&v.elements[i + 1]);
  }
  std::string out;
  resp::append_array_header(out, kept.size());
  for (const resp::Value* e : kept) resp::append_value(out, *e);
  return out;
}

}  // namespace

namespace {

// "host:port" of the replicas in a master's ROLE reply: ["master", offset, [[host, port, offset], ...]].
void add_replicas(const std::string& role_reply, std::vector<std::string>& out) {
  resp::Value v;
  size_t used = 0;
  if (resp::parse_value(role_reply, v, used) != resp::ParseStatus::kOk || v.type != resp::Value::Type::kArray || v.elements.size() < 3 ||
      v.elements[0].str != "master" || v.elements[2].type != resp::Value::Type::kArray)
    return;
  for (const auto& r : v.elements[2].elements) {
    if (r.type != resp::Value::Type::kArray || r.elements.size() < 2) continue;
    std::string addr = r.elements[0].str + ":" + r.elements[1].str;
    if (std::find(out.begin(), out.end(), addr) == out.end()) out.push_back(std::move(addr));
  }
}

}  // namespace

void Session::fan_out_everywhere(const RequestPtr& req, std::string encoded,
                                 std::function<std::string(SplitState&)> finish) {
  // Every master, then every replica the routing table names (replica reads), without repeats.
  std::vector<std::string> servers;
  const auto add = [&servers](const std::string& a) {
    if (!a.empty() && std::find(servers.begin(), servers.end(), a) == servers.end()) servers.push_back(a);
  };
  for (const auto& g : worker_.groups()) add(g.second);
  const size_t masters = servers.size();
  const RoutingTable& table = worker_.table();
  for (uint32_t slot = 0; slot < static_cast<uint32_t>(kSlotCount); ++slot) {
    for (const auto& tier : table.route(slot).replica_groups)
      for (const auto& a : tier) add(a);
  }
  // Step 1: ROLE on every master, as a request of the proxy's own; its answer starts step 2 (unless the
  // client has gone). A master that does not answer fails step 2 with a clear error.
  RequestPtr probe(new_request());
  probe->internal = true;
  probe->db = req->db;
  std::vector<std::string> ask(servers.begin(), servers.begin() + static_cast<std::ptrdiff_t>(masters));
  auto next = [req, servers = std::move(servers), encoded = std::move(encoded),
               finish = std::move(finish)](SplitState& s) mutable {
    for (const auto& r : s.values) add_replicas(r, servers);
    if (req->session) req->session->fan_out(req, encoded, servers, std::move(finish), true);
    return std::string();
  };
  static constexpr std::string_view kRole = "*1\r\n$4\r\nROLE\r\n";
  fan_out(probe, kRole, ask, std::move(next), true);
}

bool Session::cluster_admin(const RequestPtr& req, const CommandInfo& cmd, std::span<const std::string_view> args,
                            std::string_view raw, bool is_inline) {
  if (worker_.config().users_file.empty()) return false;
  const std::string_view name = cmd.name;
  if (name != "CONFIG|SET" && name != "CONFIG|GET" && name != "CONFIG|RESETSTAT") return false;
  if (name == "CONFIG|SET") {
    for (size_t i = 2; i < args.size(); i += 2) {
      if (secret_parameter(args[i])) {
        error_now(req, "ERR CONFIG SET " + lower(args[i]) +
                           " is refused through the proxy: it is a password of the servers, set on each server "
                           "(product_auth)");
        return true;
      }
    }
  }
  std::string encoded;
  if (is_inline) {
    resp::append_command(encoded, args);
    raw = encoded;
  }
  fan_out_everywhere(req, std::string(raw), name == "CONFIG|GET" ? admin_first : admin_all_ok);
  return true;
}

}  // namespace codis::proxy
