// A proxy started with --zookeeper or --filesystem: it registers itself in
// the coordinator, loads groups and slots from it and serves at once, without
// waiting for a dashboard (docs/design.md §4, §7.4 F). Then it asks the active
// dashboard, if there is one, to take it over (proxy/create), which is how a
// Codis proxy comes online.
#include <spdlog/spdlog.h>

#include <map>
#include <thread>
#include <nlohmann/json.hpp>

#include "codis/coordinator_models.h"
#include "codis/http_client.h"
#include "codis/routing.h"
#include "codis/sha256.h"
#include "proxy.h"

namespace codis::proxy {

Status Proxy::attach_coordinator(std::unique_ptr<Coordinator> coordinator) {
  // The proxy/create call below goes over HTTPS when we have the CA of the
  // dashboard's certificate: a bad CA file is a start-up error.
  std::shared_ptr<const http::ClientTls> dashboard_tls;
  if (!ctx_.config.admin_tls_ca_file.empty()) {
    auto tls = http::load_client_tls(ctx_.config.admin_tls_ca_file);
    if (!tls) return tls.status();
    dashboard_tls = std::move(*tls);
  }
  coordinator_ = std::move(coordinator);
  Coordinator& c = *coordinator_;
  const std::string& product = ctx_.config.product_name;

  // 1. Register first: the dashboard pushes every routing change to the proxies
  //    it finds registered, so from here on no change can pass us by. An older
  //    registration with our admin address is a previous run of this proxy
  //    (we hold that port now): remove it, or the dashboard would keep
  //    pushing to it and wait for a proxy that is gone. Its jodis node too
  //    (below): jodis clients would send to it until its session expires.
  std::vector<std::string> old_tokens;
  if (auto olds = models::read_dir<models::Proxy>(c, models::path::proxy_dir(product)); olds) {
    for (const auto& old : *olds) {
      if (old.admin_addr == ctx_.config.admin_addr && old.token != ctx_.token) {
        spdlog::info("removing the registration of a previous run of this proxy (token {})", old.token);
        if (auto st = c.remove(models::path::proxy(product, old.token)); !st.ok())
          spdlog::warn("could not remove proxy-{}: {}", old.token, st.message());
        old_tokens.push_back(old.token);
      }
    }
  }
  if (auto st = c.update(models::path::proxy(product, ctx_.token), models::encode(model_)); !st.ok())
    return Status::Error("registering in the coordinator: " + st.message());
  nlohmann::json jodis = {{"addr", ctx_.config.proxy_addr},
                          {"admin", ctx_.config.admin_addr},
                          {"start", model_.start_time},
                          {"token", ctx_.token},
                          {"state", "online"}};
  // The jodis node goes to the coordinator, or with jodis_name to a ZooKeeper
  // or etcd of its own (jodis_addr, with jodis_auth), as Codis does.
  Coordinator* jodis_store = &c;
  bool jodis_compat = false;
  auto jodis_path_of = [&](const std::string& token) {
    return jodis_compat ? models::path::jodis_compat(product, token) : models::path::jodis(product, token);
  };
  if (!ctx_.config.jodis_name.empty()) {
    CoordinatorOptions options;
    options.auth = ctx_.config.jodis_auth;
    options.timeout = ctx_.config.jodis_timeout;
    if (ctx_.config.jodis_name == "etcd") {
      options.tls_ca_file = ctx_.config.coordinator_tls_ca_file;
      options.tls_cert_file = ctx_.config.coordinator_tls_cert_file;
      options.tls_key_file = ctx_.config.coordinator_tls_key_file;
    }
    auto j = connect_coordinator_with(ctx_.config.jodis_name, ctx_.config.jodis_addr, options);
    jodis_store = nullptr;
    if (!j) {
      spdlog::warn("jodis registration failed: {}", j.message());
    } else {
      jodis_ = std::move(j.value());
      jodis_store = jodis_.get();
      jodis_compat = ctx_.config.jodis_compatible;
    }
  }
  if (jodis_store) {
    for (const auto& token : old_tokens) {
      if (auto st = jodis_store->remove(jodis_path_of(token)); !st.ok())
        spdlog::warn("could not remove the jodis node of token {}: {}", token, st.message());
    }
    if (auto st = jodis_store->create_ephemeral(jodis_path_of(ctx_.token), jodis.dump(4)); !st.ok())
      spdlog::warn("jodis registration failed: {}", st.message());
  }

  // 2. Load groups and slots, and route by them unless a push came first.
  const uint64_t version_before = table_version();
  auto group_list = models::read_dir<models::Group>(c, models::path::group_dir(product));
  if (!group_list) return Status::Error("reading groups: " + group_list.message());
  std::map<int, models::Group> groups;
  for (auto& g : *group_list) groups[g.id] = std::move(g);
  auto mappings = models::read_dir<models::SlotMapping>(c, models::path::slot_dir(product));
  if (!mappings) return Status::Error("reading slots: " + mappings.message());
  std::erase_if(*mappings, [](const auto& m) { return m.id < 0 || m.id >= models::kMaxSlotNum; });
  models::RoutingOptions options;
  options.loaded_by_proxy = true;
  auto slots = models::slot_routes(*mappings, groups, options);
  if (auto st = load_slots(slots, version_before); !st.ok()) {
    if (table_version() != version_before) {
      spdlog::info("a routing push arrived while loading from the coordinator: keeping the pushed table");
    } else {
      return st;
    }
  }
  (void)start();
  spdlog::info("routing loaded from {}: {} groups, {} slots assigned", c.describe(), groups.size(),
               std::count_if(slots.begin(), slots.end(), [](const auto& s) { return !s.backend_addr.empty(); }));

  // Follow the sentinels the dashboard registered the groups with, without
  // waiting for the dashboard to hand them over (it does when it takes us over).
  if (auto sentinel = models::read_node<models::Sentinel>(c, models::path::sentinel(product)); !sentinel) {
    spdlog::warn("ignoring the sentinels: {}", sentinel.message());
  } else if (sentinel->has_value() && !(*sentinel)->servers.empty()) {
    nlohmann::json body = **sentinel;
    if (auto st = set_sentinels(body); !st.ok()) spdlog::warn("sentinels: {}", st.message());
  }

  // 3. Hand ourselves to the active dashboard, if any; without one we serve anyway.
  auto topom = models::read_node<models::Topom>(c, models::path::topom(product));
  if (!topom || !topom->has_value()) {
    spdlog::info("no dashboard is running for {} ({}); serving from the coordinator's routing", product,
                 topom ? "no lock node" : topom.message());
    return Status::Ok();
  }
  // The dashboard calls back into our admin API, which serves only once the
  // control loop runs: ask from a thread of its own, after start-up.
  std::string dashboard = (*topom)->admin_addr;
  std::string target = "/api/topom/proxy/create/" + codis_xauth({product}) + "/" + ctx_.config.admin_addr;
  http::ClientOptions call;
  call.timeout = std::chrono::seconds(10);
  call.bearer = ctx_.config.admin_auth;
  call.tls = std::move(dashboard_tls);
  call.user_agent = "codis-proxy";
  handoff_ = std::thread([dashboard, target, call = std::move(call)] {
    auto res = http::request(dashboard, "PUT", target, "", call);
    if (!res)
      spdlog::warn("dashboard {} did not answer proxy/create: {}", dashboard, res.message());
    else if (res->status != 200 && res->body.find("already exists") != std::string::npos)
      spdlog::info("dashboard {} already found this proxy's registration in the coordinator", dashboard);
    else if (res->status != 200)
      spdlog::warn("dashboard {} refused proxy/create ({}): {}", dashboard, res->status, res->body);
    else
      spdlog::info("dashboard {} took over this proxy", dashboard);
  });
  return Status::Ok();
}

}  // namespace codis::proxy
