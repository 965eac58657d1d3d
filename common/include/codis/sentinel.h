// Following Redis Sentinel failovers (docs/design.md §8.2), shared by the
// dashboard and the proxy.
//
// The dashboard registers each group's master with every sentinel as
// "{product}-{gid}". A Watcher subscribes to "+switch-master" on every
// sentinel of the list; when one of them announces a switch for one of the
// product's groups (and each time a subscription starts, so a switch missed
// while nobody listened is picked up), it asks every sentinel for the
// product's masters and hands the answer to its owner:
//   - the dashboard swaps the group's servers[0], stores the group and pushes
//     the group's slots to every proxy;
//   - the proxy re-routes every slot of that group to the new master at once.
//
// Everything here blocks, on threads of its own, and every wait (connect,
// read, back-off) also wakes on cancel(): stopping a Watcher takes
// milliseconds even with a sentinel that does not answer. Nothing here takes
// a lock its owner holds.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace codis::sentinel {

// "{product}-{gid}" as registered with the sentinels.
std::string group_name(std::string_view product, int gid);
// The gid of "{product}-{gid}"; -1 for a name of another product or no group.
int group_of(std::string_view product, std::string_view name);

// "+switch-master" payload: "<name> <old-ip> <old-port> <new-ip> <new-port>".
struct SwitchEvent {
  std::string name;
  std::string from;  // "ip:port"
  std::string to;
};
std::optional<SwitchEvent> parse_switch_master(std::string_view payload);

// What one sentinel says about one master (SENTINEL MASTERS).
struct MasterView {
  std::string addr;           // "ip:port"
  uint64_t config_epoch = 0;  // bumped by every failover of that master
};

// One address per group out of several sentinels' answers: the address of
// the highest config-epoch (a sentinel adopts a newer epoch only from a
// failover a majority authorised), and among equal epochs the address most
// sentinels gave (the first one on a tie).
std::map<int, std::string> choose_masters(const std::vector<std::map<int, MasterView>>& answers);

// Interrupts blocking calls: every poll() here also watches fd().
class Canceller {
 public:
  Canceller();
  ~Canceller();
  Canceller(const Canceller&) = delete;
  Canceller& operator=(const Canceller&) = delete;
  void cancel();
  bool cancelled() const;
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

struct Masters {
  std::map<int, std::string> masters;  // gid -> "ip:port", role checked
  int answered = 0;                    // sentinels that answered SENTINEL MASTERS
  std::vector<std::string> errors;     // one line per sentinel that did not, or master that failed ROLE
};

// Asks every sentinel, in parallel, for the product's masters, picks one per
// group with choose_masters(), and keeps a group only if its address answers
// ROLE with "master" (AUTH `auth` first when not empty): a sentinel that
// missed a manual promotion, or a master that is down, is ignored. Each step
// is bounded by `timeout`; once a majority of the sentinels has answered,
// the others get at most ~200 ms more.
Masters query_masters(const std::string& product, const std::string& auth, const std::vector<std::string>& servers,
                      std::chrono::milliseconds timeout, const Canceller* cancel = nullptr);

class Watcher {
 public:
  struct Options {
    std::string product;
    std::string auth;                   // product_auth, for the ROLE check of masters
    std::vector<std::string> servers;   // sentinel addresses
    std::chrono::milliseconds timeout{5000};
    std::chrono::milliseconds ping_period{5000};  // liveness of the subscriptions
    std::string who = "sentinel";        // log prefix
  };
  // Runs on the watcher's own thread, one call at a time: `masters` as
  // query_masters() found them (only groups it could confirm), `reason` says
  // what triggered the query (for the log). Also called again ~2 s after
  // each switch event, to catch sentinels that were late.
  using Callback = std::function<void(const std::map<int, std::string>& masters, const std::string& reason)>;

  Watcher(Options options, Callback on_masters);
  ~Watcher();  // cancel() + join
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // Stops every thread soon; the callback is not called after it returns
  // unless it is running already. Safe from any thread but the callback's.
  void cancel();
  bool cancelled() const { return cancel_.cancelled(); }
  const std::vector<std::string>& servers() const { return options_.servers; }

  // Subscribed sentinels right now (for stats and tests).
  int subscribed() const;

 private:
  void subscribe_loop(size_t index);
  void resolve_loop();
  void trigger(const std::string& reason, bool event);
  bool sleep_for(std::chrono::milliseconds d);  // false if cancelled meanwhile

  Options options_;
  Callback on_masters_;
  Canceller cancel_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool triggered_ = false;
  bool event_ = false;
  std::string reason_;
  std::vector<bool> subscribed_;
  std::vector<std::thread> threads_;
};

}  // namespace codis::sentinel
