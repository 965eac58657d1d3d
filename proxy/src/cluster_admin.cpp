// Session: cluster-wide administration through the proxy (issue 13, item 3). With a users_file,
// CONFIG SET, CONFIG GET and CONFIG RESETSTAT from a user whose rules allow them (they are
// @admin) go to every server the proxy knows of every group, and the client gets one reply as a
// single Redis would give it. Without a users_file they stay as before (CONFIG GET answered by
// the proxy, CONFIG SET refused): the default user of a Codis set-up is +@all, and must not
// become able to reconfigure every backend. FLUSHALL/FLUSHDB are in cluster_commands.cpp
// (also decided by the user's rights when there is a users_file).
//
// Identity: these go over the worker's backend connections, authenticated with product_auth
// (the servers' default user). If the backend connections are ever made to log in as a
// restricted Redis user, this path must switch to connections authenticated as the admin
// identity; admin_servers() and the fan_out below are the only places to change.
#include <algorithm>

#include "codis/resp.h"
#include "command_table.h"
#include "session.h"
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

// CONFIG GET: the first server's answer (the masters come first); an error if any server failed.
std::string admin_first(SplitState& s) {
  for (const auto& r : s.values)
    if (!r.empty() && r[0] == '-') return r;
  return s.values.empty() ? "-ERR no group serves any slot\r\n" : s.values.front();
}

}  // namespace

std::vector<std::string> Session::admin_servers() const {
  // Every master, then every replica the routing table names (replica reads), without repeats.
  std::vector<std::string> out;
  const auto add = [&out](const std::string& a) {
    if (!a.empty() && std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  };
  for (const auto& g : worker_.groups()) add(g.second);
  const RoutingTable& table = worker_.table();
  for (uint32_t slot = 0; slot < static_cast<uint32_t>(kSlotCount); ++slot) {
    for (const auto& tier : table.route(slot).replica_groups)
      for (const auto& a : tier) add(a);
  }
  return out;
}

bool Session::cluster_admin(const RequestPtr& req, const CommandInfo& cmd, std::span<const std::string_view> args,
                            std::string_view raw, bool is_inline) {
  if (worker_.config().users_file.empty()) return false;
  const std::string_view name = cmd.name;
  if (name != "CONFIG|SET" && name != "CONFIG|GET" && name != "CONFIG|RESETSTAT") return false;
  std::string encoded;
  if (is_inline) {
    resp::append_command(encoded, args);
    raw = encoded;
  }
  fan_out(req, raw, admin_servers(), name == "CONFIG|GET" ? admin_first : admin_all_ok);
  return true;
}

}  // namespace codis::proxy
