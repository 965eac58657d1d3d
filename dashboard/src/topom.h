// Topom: the dashboard's topology owner (Codis's pkg/topom). It holds the
// dashboard lock (/codis3/{product}/topom, an ephemeral node: a second
// dashboard waits as standby until it disappears), keeps groups, slots and
// proxies in memory as loaded from the coordinator, and performs every
// operation of the HTTP API: each change is written to the coordinator first,
// then the routing table is pushed (fillslots) to every registered proxy; a
// proxy that fails the push is named in the error returned to the caller.
//
// Called by the API routes (topom_api.cpp) from the RpcServer's handler
// threads and by main(). Operations are serialized (one at a time, as in
// Codis); readers (stats, slots, model) never wait for an operation that is
// blocked on a slow peer. A stats poller refreshes proxy and server stats
// every second.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "codis/coordinator.h"
#include "codis/dashboard_config.h"
#include "codis/models.h"
#include "codis/sentinel.h"
#include "codis/status.h"

namespace codis::dashboard {

class RedisClient;

class Topom {
 public:
  Topom(DashboardConfig config, std::unique_ptr<Coordinator> coordinator);
  ~Topom();  // close()s
  Topom(const Topom&) = delete;
  Topom& operator=(const Topom&) = delete;

  // Takes the dashboard lock, waiting as standby while another dashboard holds
  // it, or at once when the holder provably was an earlier run of this
  // dashboard that is gone (dead_self_holder()). admin_addr is what goes into
  // the lock node (the bound address).
  // Returns an error if `should_stop` turns true while waiting, or on a
  // coordinator error other than "the node exists".
  Status acquire_lock(const std::string& admin_addr, const std::function<bool()>& should_stop);
  // Loads groups, slots and proxies from the coordinator. Called once the lock is held.
  Status load();
  // Starts the 1-second stats poller and the lock watch. on_lost_lock runs (once)
  // if another dashboard's token appears in the lock node: we must stop.
  void start(std::function<void()> on_lost_lock);
  // Stops the poller and removes the lock node (if it is still ours).
  void close();
  bool closed() const { return closed_.load(); }

  const DashboardConfig& config() const { return config_; }
  std::string xauth() const { return xauth_; }

  // Readers (never block on an operation in progress).
  // JSON in Go's field order, as Codis prints it.
  nlohmann::ordered_json model() const;
  nlohmann::ordered_json overview() const;
  nlohmann::ordered_json stats() const;
  nlohmann::ordered_json slots() const;  // the routing table as pushed (array of models.Slot)
  std::string metrics() const;

  // Operations, Codis's semantics and error texts where Codis had them.
  Status reload();
  Status create_proxy(const std::string& addr);
  Status online_proxy(const std::string& addr);
  Status reinit_proxy(const std::string& token);
  Status remove_proxy(const std::string& token, bool force);
  Status create_group(int gid);
  Status remove_group(int gid);
  Status resync_group(int gid);
  Status resync_group_all();
  Status group_add_server(int gid, const std::string& datacenter, const std::string& addr);
  Status group_del_server(int gid, const std::string& addr);
  Status group_promote_server(int gid, const std::string& addr);
  Status slots_assign(std::vector<models::SlotMapping> slots);
  Status slots_assign_offline(std::vector<models::SlotMapping> slots);
  Result<nlohmann::json> slots_rebalance(bool confirm);  // the plan {"sid": gid}

  // Slot migration (Codis's slots/action/*; topom_slots.cpp). create* queue
  // pending actions (index = max + 1); the executor drives each through
  // preparing -> prepared -> migrating -> finished and then clears it
  // (group_id = target). Every transition is stored in the coordinator, then
  // pushed to every proxy; a failed push rolls the state back.
  Status slot_create_action(int sid, int gid);
  Status slot_create_action_some(int src, int dst, int num);
  Status slot_create_action_range(int beg, int end, int gid);
  Status slot_remove_action(int sid);  // only while pending
  Status set_slot_action_interval(int us);  // pause between migration steps, 0..1e6 µs
  Status set_slot_action_disabled(bool value);
  // Per-slot progress of the actions in flight: [{id, group_id, target_id,
  // index, state, keys_left}], keys_left = keys of the slot still on the
  // source (-1 = unknown yet).
  nlohmann::ordered_json slot_actions() const;
  // Overall progress of the actions in flight: {keys_left (sum of the known
  // per-slot counts), keys_left_complete (false while a slot's count is still
  // unknown), keys_moved (by this dashboard since it started), keys_per_sec
  // (moved keys over the last ~10 s), eta_seconds (keys_left / keys_per_sec,
  // null without a recent rate; rough: it ignores the per-slot transitions)}.
  // Meant for stats()'s "slot_actions" section as "estimate".
  nlohmann::ordered_json slot_actions_estimate() const;

  // Replica reads (Codis's EnableReplicaGroups[All]): marks servers as
  // replica_group, stores the group, then pushes the group's slots so proxies
  // send read-only commands to those replicas.
  Status group_enable_replica(int gid, const std::string& addr, bool value);
  Status group_enable_replica_all(bool value);
  // Codis's server sync actions: create queues a REPLICAOF (per the group's
  // server list) for one server; the poller runs queued actions one at a time
  // in index order (pending -> syncing -> synced | synced_failed).
  Status sync_create_action(const std::string& addr);
  Status sync_remove_action(const std::string& addr);
  // A server's INFO as a map, plus maxmemory and master_addr (Codis's InfoFull).
  Result<nlohmann::json> server_info(const std::string& addr) const;

  // Sentinels (/codis3/{product}/sentinel). add checks the sentinel answers
  // (SENTINEL FLUSHCONFIG); resync registers every group's master as
  // {product}-{gid} with every sentinel and hands the list to the proxies.
  Status add_sentinel(const std::string& addr);
  Status del_sentinel(const std::string& addr, bool force);
  Status resync_sentinels();
  Result<nlohmann::json> sentinel_info(const std::string& addr) const;       // the sentinel's INFO
  Result<nlohmann::json> sentinel_monitored(const std::string& addr) const;  // our masters and their replicas
  // Sentinel failover following (Codis's rewatchSentinels / SwitchMasters):
  // a sentinel::Watcher subscribes to +switch-master on every sentinel of the
  // list; after each switch of one of our groups (and each time a
  // subscription starts, so a switch that happened while no dashboard
  // listened is picked up) it asks the sentinels for the masters, and every
  // group whose servers[0] differs gets the new master swapped to index 0,
  // is marked out_of_sync, stored, and its slots are pushed to every proxy.
  // Started by start() and re-started whenever the list changes (add, del,
  // resync-all, reload); stopped by close(). Callers may hold op_mu_.
  void rewatch_sentinels(const std::vector<std::string>& servers);

  // The proxies' restricted Redis user (codis/backend_identity.h): ACL SETUSER
  // on the server behind `c` (connected with product_auth), unless
  // backend_user is empty. Idempotent. Run when a server is added, resynced
  // or promoted; the stats poller runs it for every server whose run_id it
  // has not provisioned yet (the dashboard's start, a reload, a restarted
  // server: ACLs live in memory) and every kReprovisionEvery anyway (an ACL
  // changed by hand). Callers may hold op_mu_.
  Status provision_backend_user(RedisClient& c, const std::string& addr, const std::string& run_id);

 private:
  struct ProxyStats {
    nlohmann::json stats;  // the proxy's /api/proxy/stats, or null
    std::string error;
    int64_t unixtime = 0;
    bool timeout = false;
  };
  struct RedisStats {
    std::map<std::string, std::string> stats;
    std::string error;
    int64_t unixtime = 0;
    bool timeout = false;
  };

  // Coordinator first, then memory. Callers hold op_mu_.
  Status store_group(const models::Group& g);
  Status store_remove_group(int gid);
  Status store_slot(const models::SlotMapping& m);
  Status store_proxy(const models::Proxy& p);
  Status store_remove_proxy(const std::string& token);
  Status store_sentinel(const models::Sentinel& p);
  // Codis marks the sentinels out of sync when a group's servers change.
  Status mark_sentinels_out_of_sync();
  // Runs the queued sync action with the lowest index, if any (poller thread).
  void process_sync_action();
  // SENTINEL REMOVE of every {product}-* master the sentinel watches.
  Status sentinel_remove_groups(const std::string& addr) const;
  // The watcher's callback (its thread): takes op_mu_ unless the watcher is
  // replaced or the dashboard closes meanwhile, then switch_group_masters().
  void on_sentinel_masters(uint64_t generation, const std::map<int, std::string>& masters,
                           const std::string& reason);
  void switch_group_masters(const std::map<int, std::string>& masters, const std::string& reason);  // op_mu_ held

  // Pushes the given slots to every registered proxy, in parallel.
  Status resync_slots(const std::vector<models::SlotMapping>& slots);
  Status resync_slots_of_group(int gid);
  Status reinit(const models::Proxy& p);
  Status replicate_group(const models::Group& g);
  Result<models::Proxy> fetch_proxy_model(const std::string& addr);

  // Callers hold models_mu_ (or op_mu_, which excludes writers).
  models::Slot to_slot(const models::SlotMapping& m, const models::Proxy* p) const;
  std::string group_master(int gid) const;
  bool group_locked(int gid) const;
  bool group_in_use(int gid) const;
  std::vector<models::Proxy> proxy_list() const;
  std::string proxy_xauth(const models::Proxy& p) const;

  // ---- slot actions (topom_slots.cpp) ----
  Status create_actions_locked(const std::vector<std::pair<int, int>>& sid_gid);  // callers hold op_mu_
  void executor_loop();
  void process_slot_action(int sid);
  // One transition of slot `sid` from `from` to `to` state: store, push, roll back on failure.
  // Transitions requested while another is being pushed are pushed together
  // (group commit): one fillslots round carries every waiting slot, so the
  // parallel workers do not queue one push each on op_mu_.
  Status slot_transition(int sid, std::string_view from, std::string_view to);
  struct Transition {
    int sid;
    std::string from, to;
    bool done = false;  // guarded by transitions_mu_
    Status result = Status::Ok();
  };
  void run_transitions(const std::vector<std::shared_ptr<Transition>>& batch);  // callers hold op_mu_
  // store_slot() of many in one coordinator round trip; on error, each one by one.
  Status store_slots(const std::vector<models::SlotMapping>& ms);
  // Re-pushes the stored mapping of `sid` to every proxy (after a restart or a failure).
  Status slot_repush(int sid);
  // One round of migration on the source: every db with keys in the slot.
  // Returns keys left on the source after the round (0 = empty everywhere).
  Result<int64_t> migrate_slot_round(int sid, const std::string& source, const std::string& target);
  // Adds proxies that registered themselves in the coordinator since load().
  void refresh_proxies();
  void refresh_slot_keys();  // poller: SLOTSINFO of the sources of actions in flight
  std::mutex& source_mutex(const std::string& addr);
  bool known_server(const std::string& addr) const;
  // Until `replica` has the replication offset `master` has now (promote).
  Status wait_replica_caught_up(const std::string& master, const std::string& replica);
  bool known_sentinel(const std::string& addr) const;
  void set_action_status(const std::string& status);
  bool executor_stopping();

  // Poller: provisions `addr` if its run_id is new to us or the last time is old; logs failures once.
  void ensure_backend_user(RedisClient& c, const std::string& addr, const std::map<std::string, std::string>& info);
  // The hosts of every group server (and of `also`): where SLOTSMGRTTAGONE may go.
  std::vector<std::string> migration_hosts(const std::string& also = "") const;
  // provision_backend_user on every group server now (a new host joined); failures are logged.
  void provision_all_servers();
  // Forgets what was provisioned, so the poller does every server again (reload, failover).
  void forget_backend_users();

  void poll_loop();
  void poll_once();
  void on_lock_changed();
  std::string dead_self_holder(const std::string& held, std::string* why_not) const;

  DashboardConfig config_;
  std::unique_ptr<Coordinator> coord_;
  std::string xauth_;
  models::Topom model_;
  std::string lock_data_;  // what our lock node holds: model_ plus our process identity (acquire_lock)
  std::atomic<bool> closed_{false};
  std::atomic<bool> locked_{false};

  std::mutex op_mu_;              // one operation at a time
  mutable std::mutex models_mu_;  // guards the topology below
  std::map<int, models::Group> groups_;
  std::vector<models::SlotMapping> slots_;
  std::map<std::string, models::Proxy> proxies_;  // by token
  models::Sentinel sentinel_;

  mutable std::mutex stats_mu_;
  std::map<std::string, ProxyStats> proxy_stats_;  // by token
  std::map<std::string, RedisStats> redis_stats_;  // by server address
  std::atomic<uint64_t> api_errors_{0};

  std::mutex poll_mu_;
  std::condition_variable poll_cv_;
  bool poll_stop_ = false;
  std::thread poller_;

  // slot actions
  std::atomic<int> action_interval_us_{0};
  std::atomic<bool> action_disabled_{false};
  std::atomic<int> action_executors_{0};  // slots with a migrate command running
  mutable std::mutex action_mu_;
  std::string action_status_;                 // Codis's progress.status
  std::map<int, int64_t> slot_keys_;          // sid -> keys left on the source
  int64_t keys_moved_ = 0;                    // keys moved by migrate commands since start
  std::deque<std::pair<std::chrono::steady_clock::time_point, int64_t>> moved_samples_;  // (when, keys_moved_)
  std::map<int, std::thread> workers_;        // slot -> its worker (executor thread only)
  std::set<int> running_;                     // slots whose worker has not returned yet
  std::map<std::string, std::unique_ptr<std::mutex>> source_mu_;  // one async batch per source at a time
  std::mutex transitions_mu_;
  std::condition_variable transitions_cv_;
  bool transitions_leader_ = false;                       // a thread is running a batch
  std::vector<std::shared_ptr<Transition>> transitions_;  // waiting for the next batch
  std::mutex exec_mu_;
  std::condition_variable exec_cv_;
  bool exec_stop_ = false;
  bool exec_wake_ = false;
  std::thread executor_;
  void wake_executor();
  bool sleep_unless_stopped(std::chrono::milliseconds d);

  // Servers the proxies' user was provisioned on: addr -> (run_id, when); and addr -> last failure logged.
  struct Provisioned {
    std::string run_id;
    std::chrono::steady_clock::time_point at;
  };
  mutable std::mutex acl_mu_;
  std::map<std::string, Provisioned> acl_done_;
  std::map<std::string, std::string> acl_failed_;

  // sentinel following
  std::mutex ha_mu_;  // guards ha_watcher_; taken after op_mu_
  std::unique_ptr<sentinel::Watcher> ha_watcher_;
  std::atomic<uint64_t> ha_generation_{0};  // bumped by every rewatch: an old watcher's callback gives up
  std::map<int, std::string> ha_masters_;   // the sentinels' last answer (under stats_mu_)

  std::function<void()> on_lost_lock_;
  std::atomic<bool> lost_lock_{false};
  std::unique_ptr<WatchHandle> lock_watch_;
  std::mutex lock_wait_mu_;
  std::condition_variable lock_wait_cv_;
  bool lock_changed_ = false;
};

}  // namespace codis::dashboard
