#include "topom_api.h"

#include <charconv>

#include "codis/logging.h"
#include "codis/models.h"
#include "topom.h"

namespace codis::dashboard {

using nlohmann::json;

namespace {

using Call = http::Request;
using HttpReply = http::Reply;
using rpc::json_error;
using rpc::json_ok;
using rpc::json_reply;

// Codis's parseInteger: strconv.Atoi, "missing x" / "invalid x".
Result<int> integer_param(const Call& c, std::string_view name) {
  const auto text = c.param(name);
  if (text.empty()) return Result<int>::Error("missing " + std::string(name));
  int v = 0;
  std::string_view digits = text;
  if (digits.starts_with('+')) digits.remove_prefix(1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    return Result<int>::Error("invalid " + std::string(name) + " \"" + std::string(text) + "\" (expected an integer)");
  }
  return v;
}

// The body of slots/assign: a JSON array of SlotMapping. Bad JSON or a field
// of the wrong type is refused before anything is looked at.
Result<std::vector<models::SlotMapping>> slot_mappings(const Call& c) {
  if (c.body.find_first_not_of(" \t\r\n") == std::string::npos) return std::vector<models::SlotMapping>{};
  auto v = json::parse(c.body, nullptr, false);
  if (v.is_discarded()) {
    return Result<std::vector<models::SlotMapping>>::Error(
        "invalid json body: cannot parse the slot list (expected e.g. [{\"id\": 0, \"group_id\": 1}])");
  }
  if (v.is_null()) return std::vector<models::SlotMapping>{};
  if (!v.is_array()) {
    return Result<std::vector<models::SlotMapping>>::Error(std::string("invalid json body: expected an array of ") +
                                                           "{\"id\", \"group_id\"} objects, got " + v.type_name());
  }
  auto parsed = models::parse_json<std::vector<models::SlotMapping>>(c.body);
  if (!parsed) return Result<std::vector<models::SlotMapping>>::Error("invalid json body: " + parsed.message());
  return parsed;
}

}  // namespace

rpc::Router make_topom_router(Topom& t, std::function<void()> on_shutdown, rpc::Security security) {
  using rpc::Access;
  rpc::Router r;
  r.security = std::move(security);
  r.xauth = [&t] { return t.xauth(); };
  r.closed = [&t] { return t.closed(); };
  r.closed_error = "use of closed topom";
  r.log_name = "api";
  auto& routes = r.routes;
  auto get = [&](std::string p, Access a, std::function<HttpReply(const Call&)> h) {
    routes.push_back(rpc::Route{"GET", std::move(p), a, std::move(h)});
  };
  auto put = [&](std::string p, std::function<HttpReply(const Call&)> h) {
    routes.push_back(rpc::Route{"PUT", std::move(p), Access::kAdmin, std::move(h)});
  };
  // Codis served its reads (and group/info, sentinels/info) to anyone; they
  // hold proxy tokens and the topology, so only admin_compat_xauth keeps that.
  constexpr Access kCodisOpen = Access::kCodisOpen;
  constexpr Access kAdmin = Access::kAdmin;
  auto gid_op = [](auto fn) {
    return [fn](const Call& c) {
      auto gid = integer_param(c, "gid");
      if (!gid) return json_error(gid.message());
      return json_reply(fn(*gid, c));
    };
  };

  // GET / is the web UI (web_assets.h, added by main); Codis redirected it to /topom.
  get("/topom", kCodisOpen, [&t](const Call&) { return json_ok(t.overview()); });
  get("/topom/model", kCodisOpen, [&t](const Call&) { return json_ok(t.model()); });
  get("/topom/stats", kCodisOpen, [&t](const Call&) { return json_ok(t.stats()); });
  get("/topom/slots", kCodisOpen, [&t](const Call&) { return json_ok(t.slots()); });
  get("/metrics", Access::kMetrics, [&t](const Call&) { return http::text(200, t.metrics(), rpc::kMetricsType); });
  get("/health", Access::kOpen, [](const Call&) { return http::text(200, "OK\n"); });

  get("/api/topom/model", kCodisOpen, [&t](const Call&) { return json_ok(t.model()); });
  get("/api/topom/xping/:xauth", kAdmin, [](const Call&) { return json_ok(); });
  get("/api/topom/stats/:xauth", kAdmin, [&t](const Call&) { return json_ok(t.stats()); });
  get("/api/topom/slots/:xauth", kAdmin, [&t](const Call&) { return json_ok(t.slots()); });
  put("/api/topom/reload/:xauth", [&t](const Call&) { return json_reply(t.reload()); });
  put("/api/topom/shutdown/:xauth", [&t, on_shutdown](const Call&) {
    t.close();
    if (on_shutdown) on_shutdown();
    return json_ok();
  });
  put("/api/topom/loglevel/:xauth/:value", [](const Call& c) {
    if (c.param("value").empty()) return json_error("missing loglevel");
    if (auto st = log::set_level(c.param("value")); !st.ok()) return json_error("invalid loglevel: " + st.message());
    return json_ok();
  });

  put("/api/topom/proxy/create/:xauth/:addr",
      [&t](const Call& c) { return json_reply(t.create_proxy(std::string(c.param("addr")))); });
  put("/api/topom/proxy/online/:xauth/:addr",
      [&t](const Call& c) { return json_reply(t.online_proxy(std::string(c.param("addr")))); });
  put("/api/topom/proxy/reinit/:xauth/:token",
      [&t](const Call& c) { return json_reply(t.reinit_proxy(std::string(c.param("token")))); });
  put("/api/topom/proxy/remove/:xauth/:token/:force", [&t](const Call& c) {
    auto force = integer_param(c, "force");
    if (!force) return json_error(force.message());
    return json_reply(t.remove_proxy(std::string(c.param("token")), *force != 0));
  });

  put("/api/topom/group/create/:xauth/:gid", gid_op([&t](int gid, const Call&) { return t.create_group(gid); }));
  put("/api/topom/group/remove/:xauth/:gid", gid_op([&t](int gid, const Call&) { return t.remove_group(gid); }));
  put("/api/topom/group/resync/:xauth/:gid", gid_op([&t](int gid, const Call&) { return t.resync_group(gid); }));
  put("/api/topom/group/resync-all/:xauth", [&t](const Call&) { return json_reply(t.resync_group_all()); });
  auto add = gid_op([&t](int gid, const Call& c) {
    return t.group_add_server(gid, std::string(c.param("datacenter")), std::string(c.param("addr")));
  });
  put("/api/topom/group/add/:xauth/:gid/:addr", add);
  put("/api/topom/group/add/:xauth/:gid/:addr/:datacenter", add);
  put("/api/topom/group/del/:xauth/:gid/:addr",
      gid_op([&t](int gid, const Call& c) { return t.group_del_server(gid, std::string(c.param("addr"))); }));
  put("/api/topom/group/promote/:xauth/:gid/:addr",
      gid_op([&t](int gid, const Call& c) { return t.group_promote_server(gid, std::string(c.param("addr"))); }));

  auto value_op = [](auto fn) {
    return [fn](const Call& c) {
      auto value = integer_param(c, "value");
      if (!value) return json_error(value.message());
      return json_reply(fn(*value != 0, c));
    };
  };
  put("/api/topom/group/replica-groups/:xauth/:gid/:addr/:value", [&t](const Call& c) {
    auto gid = integer_param(c, "gid");
    if (!gid) return json_error(gid.message());
    if (c.param("addr").empty()) return json_error("missing addr");
    auto value = integer_param(c, "value");
    if (!value) return json_error(value.message());
    return json_reply(t.group_enable_replica(*gid, std::string(c.param("addr")), *value != 0));
  });
  put("/api/topom/group/replica-groups-all/:xauth/:value",
      value_op([&t](bool value, const Call&) { return t.group_enable_replica_all(value); }));
  put("/api/topom/group/action/create/:xauth/:addr",
      [&t](const Call& c) { return json_reply(t.sync_create_action(std::string(c.param("addr")))); });
  put("/api/topom/group/action/remove/:xauth/:addr",
      [&t](const Call& c) { return json_reply(t.sync_remove_action(std::string(c.param("addr")))); });
  // Codis serves group/info and sentinels/info without xauth; the /:xauth/
  // forms are ours, for callers that always send it.
  auto info = [](auto fn) {
    return [fn](const Call& c) {
      if (c.param("addr").empty()) return json_error("missing addr");
      auto v = fn(std::string(c.param("addr")));
      if (!v) return json_error(v.message());
      return json_ok(*v);
    };
  };
  auto server_info = info([&t](const std::string& addr) { return t.server_info(addr); });
  get("/api/topom/group/info/:addr", kCodisOpen, server_info);
  get("/api/topom/group/info/:xauth/:addr", kAdmin, server_info);

  put("/api/topom/sentinels/add/:xauth/:addr",
      [&t](const Call& c) { return json_reply(t.add_sentinel(std::string(c.param("addr")))); });
  put("/api/topom/sentinels/del/:xauth/:addr/:force", [&t](const Call& c) {
    auto force = integer_param(c, "force");
    if (!force) return json_error(force.message());
    return json_reply(t.del_sentinel(std::string(c.param("addr")), *force != 0));
  });
  put("/api/topom/sentinels/resync-all/:xauth", [&t](const Call&) { return json_reply(t.resync_sentinels()); });
  auto sentinel_info = info([&t](const std::string& addr) { return t.sentinel_info(addr); });
  get("/api/topom/sentinels/info/:addr", kCodisOpen, sentinel_info);
  get("/api/topom/sentinels/info/:addr/monitored", kCodisOpen,
      info([&t](const std::string& addr) { return t.sentinel_monitored(addr); }));
  get("/api/topom/sentinels/info/:xauth/:addr", kAdmin, sentinel_info);

  put("/api/topom/slots/assign/:xauth", [&t](const Call& c) {
    auto slots = slot_mappings(c);
    if (!slots) return json_error(slots.message());
    return json_reply(t.slots_assign(std::move(*slots)));
  });
  put("/api/topom/slots/assign/:xauth/offline", [&t](const Call& c) {
    auto slots = slot_mappings(c);
    if (!slots) return json_error(slots.message());
    return json_reply(t.slots_assign_offline(std::move(*slots)));
  });
  // Slot actions (migration), Codis 3.2's paths.
  auto ints = [](const Call& c, std::initializer_list<std::string_view> names) -> Result<std::vector<int>> {
    std::vector<int> out;
    for (auto n : names) {
      auto v = integer_param(c, n);
      if (!v) return Result<std::vector<int>>::Error(v.message());
      out.push_back(*v);
    }
    return out;
  };
  put("/api/topom/slots/action/create/:xauth/:sid/:gid", [&t, ints](const Call& c) {
    auto v = ints(c, {"sid", "gid"});
    if (!v) return json_error(v.message());
    return json_reply(t.slot_create_action((*v)[0], (*v)[1]));
  });
  put("/api/topom/slots/action/create-some/:xauth/:src/:dst/:num", [&t, ints](const Call& c) {
    auto v = ints(c, {"src", "dst", "num"});
    if (!v) return json_error(v.message());
    return json_reply(t.slot_create_action_some((*v)[0], (*v)[1], (*v)[2]));
  });
  put("/api/topom/slots/action/create-range/:xauth/:beg/:end/:gid", [&t, ints](const Call& c) {
    auto v = ints(c, {"beg", "end", "gid"});
    if (!v) return json_error(v.message());
    return json_reply(t.slot_create_action_range((*v)[0], (*v)[1], (*v)[2]));
  });
  put("/api/topom/slots/action/remove/:xauth/:sid", [&t, ints](const Call& c) {
    auto v = ints(c, {"sid"});
    if (!v) return json_error(v.message());
    return json_reply(t.slot_remove_action((*v)[0]));
  });
  put("/api/topom/slots/action/interval/:xauth/:value", [&t, ints](const Call& c) {
    auto v = ints(c, {"value"});
    if (!v) return json_error(v.message());
    return json_reply(t.set_slot_action_interval((*v)[0]));
  });
  put("/api/topom/slots/action/disabled/:xauth/:value", [&t, ints](const Call& c) {
    auto v = ints(c, {"value"});
    if (!v) return json_error(v.message());
    return json_reply(t.set_slot_action_disabled((*v)[0] != 0));
  });
  put("/api/topom/slots/rebalance/:xauth/:confirm", [&t](const Call& c) {
    auto confirm = integer_param(c, "confirm");
    if (!confirm) return json_error(confirm.message());
    auto plan = t.slots_rebalance(*confirm != 0);
    if (!plan) return json_error(plan.message());
    return json_ok(*plan);
  });
  return r;
}

}  // namespace codis::dashboard
