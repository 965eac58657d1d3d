// Proxy: the codis-proxy process. It owns the worker threads, the client
// acceptor, the admin HTTP server and the authoritative copy of the routing
// table, and implements the admin API. The acceptor and the admin server run
// on the control thread (the caller of run()); workers never wait on it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <string>
#include <vector>

#include "admin_api.h"
#include "codis/config.h"
#include "codis/coordinator.h"
#include "codis/models.h"
#include "codis/sentinel.h"
#include "routing_table.h"
#include "stats.h"
#include "worker.h"

namespace codis::http {
class Server;
}

namespace codis::proxy {

class Proxy final : public AdminApi {
 public:
  Proxy(ProxyConfig config, int threads);
  ~Proxy() override;

  // Binds the RESP and admin ports and starts the workers; errors say which address failed.
  Status open();
  // Applies a routing table (as a fillslots push would). With `only_if_version`,
  // only if the table is still that version (a newer push always wins over a read).
  Status load_slots(const std::vector<models::Slot>& slots, std::optional<uint64_t> only_if_version = {});
  uint64_t table_version() const;
  // --zookeeper / --filesystem: register, load the routing, find the dashboard.
  Status attach_coordinator(std::unique_ptr<Coordinator> coordinator);
  // Runs the control thread until shutdown (API, SIGINT or SIGTERM).
  void run();
  void request_shutdown(const std::string& why);
  uint16_t proxy_port() const { return proxy_port_; }
  uint16_t proxy_tls_port() const { return proxy_tls_port_; }
  // Rereads the TLS certificate, key and CA files (SIGHUP, or when their
  // modification times change). New connections use the new contexts, open
  // ones keep theirs; on any error the old contexts stay and the error is logged.
  Status reload_tls();
  uint16_t admin_port() const;

  // AdminApi
  std::string xauth() const override { return xauth_; }
  nlohmann::json overview() const override;
  nlohmann::json model() const override;
  nlohmann::json stats(bool with_cmds) const override;
  nlohmann::json slots() const override;
  Status start() override;  // the dashboard's online call
  Status fill_slots(const nlohmann::json& slots) override;
  void reset_stats() override;
  Status set_log_level(std::string_view level) override;
  Status shutdown() override;
  Status set_sentinels(const nlohmann::json& sentinel) override;
  Status rewatch_sentinels() override;
  Status reload_users() override;
  std::string metrics() const override;
  bool closed() const override { return closing_; }
  std::string unhealthy() const override;
  std::string stalled_worker() const;  // "" or which worker thread's loop has not turned for seconds

 private:
  StatsSnapshot collect() const;
  // Hands `next` (already in table_) to every worker; returns once all use it.
  void publish(const std::shared_ptr<const RoutingTable>& next);
  // Sentinel following (Codis's Proxy.rewatchSentinels / SwitchMasters): a
  // Watcher subscribes to +switch-master on every sentinel and, on a switch of
  // one of our groups, asks the sentinels for the masters; every slot of a
  // group whose master changed is re-routed to the new one at once, by the
  // usual table push to the workers (no locks on the data path). A later
  // fillslots push from the dashboard replaces those slots as usual.
  void rewatch(const std::vector<std::string>& servers);  // stops the old watcher first; empty: none
  void on_sentinel_masters(const std::map<int, std::string>& masters, const std::string& reason);
  void accept_next(boost::asio::ip::tcp::acceptor& acceptor, bool tls);
  void arm_signals();
  Status load_tls();  // builds the contexts from the config's files
  std::string tls_files_stamp() const;
  void arm_stats_tick();

  ProxyContext ctx_;
  int threads_;
  boost::asio::io_context control_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ip::tcp::acceptor tls_acceptor_;  // proxy_tls_addr
  boost::asio::signal_set signals_;
  boost::asio::steady_timer stats_timer_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<http::Server> admin_;  // the admin API (proxy_api.h) on the control thread
  std::unique_ptr<Coordinator> coordinator_;  // keeps our ephemeral registration alive
  std::unique_ptr<Coordinator> jodis_;        // jodis_name's ZooKeeper (jodis_addr, jodis_auth), if set
  std::thread handoff_;                       // asks the dashboard to take us over (bounded by a timeout)
  models::Proxy model_;
  std::string xauth_;
  uint16_t proxy_port_ = 0;
  uint16_t proxy_tls_port_ = 0;
  std::string tls_stamp_;  // the TLS files' sizes and modification times at the last (attempted) load
  size_t next_worker_ = 0;
  // Refused connections (accept_next, control thread): one log line a second at most, with a count.
  int64_t refused_logged_ms_ = 0;
  int64_t watchdog_ms_ = 0;  // systemd's WatchdogSec / 2, 0: not asked for
  int64_t watchdog_sent_ms_ = 0;
  uint64_t refused_unlogged_ = 0;

  std::mutex watch_mu_;                          // guards watcher_ (rewatch, shutdown)
  std::unique_ptr<sentinel::Watcher> watcher_;  // on threads of its own
  std::mutex apply_mu_;     // serialises table changes (load_slots, sentinel switches) end to end
  mutable std::mutex mu_;  // control plane only: table_, baseline_, sentinel_, online_
  std::shared_ptr<const RoutingTable> table_;
  WorkerStats baseline_;
  models::Sentinel sentinel_;
  std::map<int, std::string> ha_masters_;  // the sentinels' last answer (gid -> master)
  bool ha_switched_ = false;               // a sentinel switch re-routed slots since start
  bool online_ = false;
  bool closing_ = false;
  uint64_t qps_ = 0;
  uint64_t last_ops_ = 0;
  double cpu_ = 0;
  int64_t last_cpu_us_ = 0;
};

}  // namespace codis::proxy
