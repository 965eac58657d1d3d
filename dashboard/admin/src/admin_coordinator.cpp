// codis-admin's commands on the coordinator itself (Codis 3.2's forms), for
// when no dashboard answers: --remove-lock, --dashboard-list, --config-dump,
// with --zookeeper, --etcd or --filesystem (admin_command.h).
#include <algorithm>
#include <chrono>
#include <ostream>

#include <nlohmann/json.hpp>

#include "admin_command.h"
#include "codis/coordinator.h"
#include "codis/logging.h"
#include "codis/models.h"

namespace codis::admin {

namespace {

using Json = nlohmann::ordered_json;

// The nodes of a directory, parsed, in name order (a node that is not JSON is an error naming it).
Result<Json> read_nodes(Coordinator& c, const std::string& dir) {
  auto names = c.list(dir);
  if (!names) return names.status();
  Json out = Json::array();
  for (const auto& name : *names) {
    const std::string path = dir + "/" + name;
    auto text = c.read(path);
    if (!text) return text.status();
    if (!*text) continue;  // removed meanwhile
    Json node = Json::parse(**text, nullptr, false);
    if (node.is_discarded()) return Result<Json>::Error(path + " does not hold JSON");
    out.push_back(std::move(node));
  }
  return out;
}

}  // namespace

Status run_coordinator_command(const AdminCommand& cmd, std::ostream& out, std::ostream& err) {
  // The coordinator's own log lines go to stderr, and only with -v: stdout is the JSON.
  if (auto st = log::init("", cmd.verbose ? "info" : "off"); !st.ok()) return st;
  CoordinatorOptions options;
  options.auth = cmd.coordinator_auth;
  options.timeout = std::chrono::milliseconds(cmd.timeout_ms);
  auto connected = connect_coordinator_with(cmd.coordinator, cmd.coordinator_addr, options);
  if (!connected) return connected.status();
  Coordinator& c = **connected;

  if (cmd.action == "remove-lock") {
    // The lock of a dashboard that died: on ZooKeeper and etcd it goes by
    // itself when the session or lease expires; this removes it at once.
    const std::string path = models::path::topom(cmd.product);
    auto held = c.read(path);
    if (!held) return held.status();
    if (!*held) {
      if (cmd.verbose) err << "codis-admin: " << path << " is absent: nothing to remove\n";
      return Status::Ok();
    }
    if (auto st = c.remove(path); !st.ok()) return st;
    if (cmd.verbose) err << "codis-admin: removed " << path << ": " << **held << "\n";
    return Status::Ok();
  }

  if (cmd.action == "dashboard-list") {
    auto products = c.list(std::string(models::path::kCodisDir));
    if (!products) return products.status();
    Json list = Json::array();
    for (const auto& product : *products) {
      auto lock = c.read(models::path::topom(product));
      if (!lock) return lock.status();
      if (!*lock) continue;
      Json topom = Json::parse(**lock, nullptr, false);
      list.push_back({{"name", product},
                      {"dashboard", topom.is_object() ? topom.value("admin_addr", "") : std::string()}});
    }
    out << list.dump(4) << "\n";
    return Status::Ok();
  }

  // config-dump: Codis's ConfigV3, {slots, group, proxy, sentinel}.
  Json dump = Json::object();
  for (const auto& [key, dir] : {std::pair{"slots", models::path::slot_dir(cmd.product)},
                                 std::pair{"group", models::path::group_dir(cmd.product)},
                                 std::pair{"proxy", models::path::proxy_dir(cmd.product)}}) {
    auto nodes = read_nodes(c, dir);
    if (!nodes) return nodes.status();
    if (!nodes->empty()) dump[key] = std::move(*nodes);
  }
  auto sentinel = c.read(models::path::sentinel(cmd.product));
  if (!sentinel) return sentinel.status();
  if (*sentinel) {
    Json s = Json::parse(**sentinel, nullptr, false);
    if (s.is_discarded()) return Status::Error(models::path::sentinel(cmd.product) + " does not hold JSON");
    dump["sentinel"] = std::move(s);
  }
  out << dump.dump(4) << "\n";
  return Status::Ok();
}

}  // namespace codis::admin
