// Coordinator: the store that holds the cluster's topology, with Codis 3.2's
// layout (/codis3/{product}/..., /jodis/{product}/proxy-{token}; see
// models::path and docs/design.md §4). The dashboard writes the topology and
// holds its lock as an ephemeral node; proxies read slots and groups and
// register their jodis node. Both watch for changes.
//
// Three implementations behind this interface (connect_coordinator):
//  - "zookeeper": ZooKeeper through the C client (libzookeeper_mt). Sessions
//    that expire are replaced by new ones; this client's ephemeral nodes are
//    re-created (retried until they are) and its watches re-armed; watchers
//    are told.
//  - "etcd": etcd's v3 API through its HTTP/JSON gateway (coordinator_etcd.cpp).
//    Ephemeral nodes are keys bound to a lease we keep alive; a lost lease is
//    replaced and this client's ephemeral nodes re-created; watches follow
//    etcd's watch stream.
//  - "filesystem": a directory on one machine, Codis's fsclient layout
//    (<root>/data/<path>), atomic writes by rename, ephemeral nodes tied to
//    the creating process, watches by polling.
//
// Values are stored byte for byte (Codis's JSON text), so Codis's own tools
// read what we write. Paths are absolute ZooKeeper-style paths: "/" then
// components separated by single '/', no trailing '/', no "." or "..", no
// component starting with '.' (reserved by the filesystem store), no control
// characters.
//
// Thread-safety: every method may be called from any thread, concurrently.
// Watch callbacks run on the coordinator's own thread (one per coordinator,
// never the ZooKeeper client's threads), one at a time; a callback may call
// any method of the coordinator, including destroying its own WatchHandle.
// Errors are Status values whose message names the store, the operation, the
// path and the cause; nothing here throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codis/status.h"

namespace codis {

// Keeps a watch alive. Destroying it stops the watch: once the destructor
// returns, the callback is not running and will not be called again (when
// destroyed from inside its own callback, no later call follows).
class WatchHandle {
 public:
  virtual ~WatchHandle() = default;
};

class Coordinator {
 public:
  virtual ~Coordinator() = default;  // ends the session: this client's ephemeral nodes go away

  // Persistent node; missing parents are created (with empty data). Error if
  // the node exists.
  virtual Status create(const std::string& path, const std::string& data) = 0;
  // Node removed when this coordinator is destroyed, its process dies or (on
  // ZooKeeper) its session ends; re-created by us after a ZooKeeper session
  // loss, retried with backoff until it succeeds, unless another client took
  // the path meanwhile (see health()). Error if another client's node exists
  // (a node of this client's own current or earlier session is replaced).
  // Ephemeral nodes cannot have children.
  virtual Status create_ephemeral(const std::string& path, const std::string& data) = 0;
  // Creates the node (persistent, parents created) or replaces its data, in
  // one atomic step: readers see the old or the new value, never a mix. An
  // ephemeral node stays ephemeral.
  virtual Status update(const std::string& path, const std::string& data) = 0;
  // update() of several nodes; ZooKeeper writes them in one round trip (a
  // multi-op) when they all exist. On error some may have been written.
  virtual Status update_many(const std::vector<std::pair<std::string, std::string>>& nodes) {
    for (const auto& [path, data] : nodes) {
      if (auto st = update(path, data); !st.ok()) return st;
    }
    return Status::Ok();
  }
  // Ok if absent. Error if the node has children.
  virtual Status remove(const std::string& path) = 0;
  // Removes the node only if its data is still `expected` (a leaf, also an
  // ephemeral node of another client or session), in one atomic step: true if
  // it was removed; false if it is absent or holds other data (nothing done).
  // The dashboard removes a lock left by a dead run of itself with it
  // (docs/design.md §4). This default refuses: a store that cannot do it
  // atomically must not pretend to.
  virtual Result<bool> remove_if_unchanged(const std::string& path, const std::string& expected) {
    (void)expected;
    return Status::Error(describe() + ": remove if unchanged " + path + ": not supported by this store");
  }
  // The node's data; nullopt if absent; "" for a directory-like node.
  virtual Result<std::optional<std::string>> read(const std::string& path) = 0;
  // Child names (not paths), sorted; empty if `dir` is absent or a leaf.
  virtual Result<std::vector<std::string>> list(const std::string& dir) = 0;

  // Calls fn when the children of `dir` change (added/removed), or when
  // `path` is created, changed or removed; also after a reconnect or a new
  // session, when changes may have been missed. Calls may be spurious or
  // coalesced: fn should re-read what it cares about. The watch stays armed
  // until the handle is destroyed; `dir`/`path` need not exist yet. fn may run
  // before watch_* returns. Never fails for a valid path: when the store is
  // unreachable the watch is armed once it is back.
  virtual Result<std::unique_ptr<WatchHandle>> watch_children(const std::string& dir,
                                                              std::function<void()> fn) = 0;
  virtual Result<std::unique_ptr<WatchHandle>> watch_data(const std::string& path,
                                                           std::function<void()> fn) = 0;

  // "zookeeper 127.0.0.1:2181" / "filesystem /var/lib/codis".
  virtual std::string describe() const = 0;

  // What operators alert on (the daemons' /metrics; docs/design.md §4): how
  // often a session was lost (ZooKeeper's expired: its ephemeral nodes went
  // away), and how many of this client's ephemeral nodes are not back yet.
  struct Health {
    uint64_t session_losses = 0;
    uint64_t ephemerals_recreated = 0;  // re-created after a session loss
    uint64_t ephemerals_pending = 0;    // waiting to be re-created (retried with backoff)
  };
  virtual Health health() const { return {}; }
};

struct CoordinatorOptions {
  // ZooKeeper digest credentials "user:password" (Codis's coordinator_auth);
  // nodes are then created with the digest ACL of that user only (under
  // /jodis also world-readable, for jodis clients), and open nodes left by a
  // cluster created without auth get it when first used (coordinator_zk.cpp).
  // etcd: the user and password of etcd's own authentication (a token from
  // /v3/auth/authenticate; etcd's roles decide what the user may touch).
  // Ignored by the filesystem store, which is private to its owner (0600/0700).
  std::string auth;
  // ZooKeeper: how long connect waits for a session, and the session timeout
  // asked of the server (which clamps it to [2, 20] x its tickTime).
  // etcd: how long connect waits for an endpoint to answer, and the TTL of
  // the lease of this client's ephemeral nodes (at least 2 s).
  // Filesystem: how long an operation waits for the store's lock file.
  std::chrono::milliseconds timeout{std::chrono::seconds(20)};
  // Filesystem watches poll this often; etcd reopens a broken watch stream
  // after this pause.
  std::chrono::milliseconds poll_interval{200};
  // etcd: TLS to its endpoints when tls_ca_file is set (verified against that
  // CA); with tls_cert_file and tls_key_file we present that client certificate.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
};

// name: "zookeeper" (addr: "host:port[,host:port...]"), "etcd" (addr:
// "host:port[,host:port...]", or http(s):// URLs) or "filesystem" (addr: the
// root directory, created if missing). ZooKeeper fails if no session is
// established within `timeout`, etcd if no endpoint answers within it, with a
// message saying so.
Result<std::unique_ptr<Coordinator>> connect_coordinator(
    const std::string& name, const std::string& addr, std::string_view auth = {},
    std::chrono::milliseconds timeout = std::chrono::seconds(20));
Result<std::unique_ptr<Coordinator>> connect_coordinator_with(const std::string& name,
                                                              const std::string& addr,
                                                              const CoordinatorOptions& options);

// Prometheus text of the stores' health(), one sample per (role, store):
// codis_coordinator_session_losses_total, codis_coordinator_ephemerals_recreated_total,
// codis_coordinator_ephemerals_pending, labelled role="coordinator"/"jodis". Null stores are skipped.
std::string coordinator_metrics(const std::vector<std::pair<std::string, const Coordinator*>>& stores);

// Identity of a process that survives pid reuse: its start time in clock
// ticks since boot (/proc/<pid>/stat), 0 if there is no such process; and
// this boot's id (/proc/sys/kernel/random/boot_id), "" if unknown.
unsigned long long process_start_time(int pid);
std::string boot_id();

// Ok if `path` is a valid node path (see the top of this file); otherwise says
// why. "/" is valid only for list/watch_children.
Status check_coordinator_path(std::string_view path);

}  // namespace codis
