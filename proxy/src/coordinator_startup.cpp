// A proxy started with --zookeeper or --filesystem: it registers itself in
// the coordinator, loads groups and slots from it and serves at once, without
// waiting for a dashboard (docs/design.md §4, §7.4 F). Then it asks the active
// dashboard, if there is one, to take it over (proxy/create), which is how a
// Codis proxy comes online.
#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <thread>
#include <nlohmann/json.hpp>

#include "codis/coordinator_models.h"
#include "codis/routing.h"
#include "codis/sha256.h"
#include "proxy.h"

namespace codis::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// PUT with an empty body; the dashboard's reply status and body (or an error).
Result<std::pair<int, std::string>> http_put(const std::string& addr, const std::string& target,
                                             const std::string& bearer, std::chrono::milliseconds timeout) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos) return Result<std::pair<int, std::string>>::Error("bad address " + addr);
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  http::request<http::string_body> req{http::verb::put, target, 11};
  req.set(http::field::host, addr);
  req.set(http::field::authorization, "Bearer " + bearer);
  req.prepare_payload();
  http::response<http::string_body> res;
  beast::flat_buffer buffer;
  boost::system::error_code result = asio::error::timed_out;
  stream.expires_after(timeout);
  resolver.async_resolve(addr.substr(0, colon), addr.substr(colon + 1), [&](auto ec, auto endpoints) {
    if (ec) return void(result = ec);
    stream.async_connect(endpoints, [&](auto ec2, auto) {
      if (ec2) return void(result = ec2);
      http::async_write(stream, req, [&](auto ec3, size_t) {
        if (ec3) return void(result = ec3);
        http::async_read(stream, buffer, res, [&](auto ec4, size_t) { result = ec4; });
      });
    });
  });
  io.run_for(timeout + std::chrono::milliseconds(100));
  if (result) return Result<std::pair<int, std::string>>::Error(result.message());
  return std::pair<int, std::string>{static_cast<int>(res.result_int()), res.body()};
}

}  // namespace

Status Proxy::attach_coordinator(std::unique_ptr<Coordinator> coordinator) {
  coordinator_ = std::move(coordinator);
  Coordinator& c = *coordinator_;
  const std::string& product = ctx_.config.product_name;

  // 1. Register first: the dashboard pushes every routing change to the proxies
  //    it finds registered, so from here on no change can pass us by. An older
  //    registration with our admin address is a previous run of this proxy
  //    (we hold that port now): remove it, or the dashboard would keep
  //    pushing to it and wait for a proxy that is gone.
  if (auto olds = models::read_dir<models::Proxy>(c, models::path::proxy_dir(product)); olds) {
    for (const auto& old : *olds) {
      if (old.admin_addr == ctx_.config.admin_addr && old.token != ctx_.token) {
        spdlog::info("removing the registration of a previous run of this proxy (token {})", old.token);
        if (auto st = c.remove(models::path::proxy(product, old.token)); !st.ok())
          spdlog::warn("could not remove proxy-{}: {}", old.token, st.message());
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
  // of its own (jodis_addr, with jodis_auth's digest ACL), as Codis does.
  Coordinator* jodis_store = &c;
  std::string jodis_path = models::path::jodis(product, ctx_.token);
  if (ctx_.config.jodis_name == "zookeeper") {
    auto j = connect_coordinator("zookeeper", ctx_.config.jodis_addr, ctx_.config.jodis_auth,
                                 ctx_.config.jodis_timeout);
    jodis_store = nullptr;
    if (!j) {
      spdlog::warn("jodis registration failed: {}", j.message());
    } else {
      jodis_ = std::move(j.value());
      jodis_store = jodis_.get();
      if (ctx_.config.jodis_compatible) jodis_path = models::path::jodis_compat(product, ctx_.token);
    }
  } else if (!ctx_.config.jodis_name.empty()) {
    spdlog::warn("jodis_name = \"{}\" is not supported (only \"zookeeper\"): registering in {}",
                 ctx_.config.jodis_name, c.describe());
  }
  if (jodis_store) {
    if (auto st = jodis_store->create_ephemeral(jodis_path, jodis.dump(4)); !st.ok())
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
  handoff_ = std::thread([dashboard, target, secret = ctx_.config.admin_auth] {
    auto res = http_put(dashboard, target, secret, std::chrono::seconds(10));
    if (!res)
      spdlog::warn("dashboard {} did not answer proxy/create: {}", dashboard, res.message());
    else if (res->first != 200 && res->second.find("already exists") != std::string::npos)
      spdlog::info("dashboard {} already found this proxy's registration in the coordinator", dashboard);
    else if (res->first != 200)
      spdlog::warn("dashboard {} refused proxy/create ({}): {}", dashboard, res->first, res->second);
    else
      spdlog::info("dashboard {} took over this proxy", dashboard);
  });
  return Status::Ok();
}

}  // namespace codis::proxy
