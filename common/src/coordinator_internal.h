// Shared by the coordinator implementations (not installed): path checks,
// and the registry of watches whose handles the callers hold.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "codis/coordinator.h"

namespace codis::detail {

enum class WatchKind { kChildren, kData };

// One watch. `mu` is held while fn runs, so that destroying the handle waits
// for a running callback (recursive: the callback may drop its own handle).
struct WatchEntry {
  uint64_t id = 0;
  WatchKind kind = WatchKind::kData;
  std::string path;
  std::function<void()> fn;
  std::recursive_mutex mu;
  bool active = true;  // guarded by mu

  // Implementation state, touched by the implementation's own thread (and by
  // the registering thread before the entry is published).
  std::string fingerprint;          // filesystem: what the last poll saw
  std::atomic<bool> armed{false};   // zookeeper: a server-side watch is set
};

class WatchRegistry : public std::enable_shared_from_this<WatchRegistry> {
 public:
  std::shared_ptr<WatchEntry> make(WatchKind kind, const std::string& path,
                                   std::function<void()> fn);
  // Publishes the entry and returns the handle that owns it.
  std::unique_ptr<WatchHandle> add(std::shared_ptr<WatchEntry> entry);
  std::vector<std::shared_ptr<WatchEntry>> all() const;
  std::shared_ptr<WatchEntry> find(uint64_t id) const;
  void remove(uint64_t id);
  // Runs the callback unless the handle is gone. Exceptions from it are
  // logged and swallowed: they must not kill the coordinator's thread.
  static void fire(WatchEntry& entry);

 private:
  mutable std::mutex mu_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::shared_ptr<WatchEntry>> entries_;
};

// Checks for a node path; allow_root lets "/" through (list, watch_children).
Status check_path(std::string_view path, bool allow_root);

// "/a/b/c" -> {"/a", "/a/b"}.
std::vector<std::string> ancestors(const std::string& path);

Result<std::unique_ptr<Coordinator>> open_filesystem_coordinator(const std::string& root,
                                                                 const CoordinatorOptions& options);
Result<std::unique_ptr<Coordinator>> connect_zookeeper_coordinator(
    const std::string& addr, const CoordinatorOptions& options);
Result<std::unique_ptr<Coordinator>> connect_etcd_coordinator(const std::string& addr,
                                                              const CoordinatorOptions& options);

}  // namespace codis::detail
