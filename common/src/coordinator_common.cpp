// connect_coordinator(), path checks and the watch registry shared by the
// ZooKeeper, etcd and filesystem coordinators.
#include <exception>

#include <spdlog/spdlog.h>

#include "coordinator_internal.h"

namespace codis {
namespace detail {
namespace {

class RegisteredWatch final : public WatchHandle {
 public:
  RegisteredWatch(std::weak_ptr<WatchRegistry> registry, std::shared_ptr<WatchEntry> entry)
      : registry_(std::move(registry)), entry_(std::move(entry)) {}
  ~RegisteredWatch() override {
    {
      std::lock_guard lock(entry_->mu);  // waits for a running callback (not our own)
      entry_->active = false;
    }
    if (auto registry = registry_.lock()) registry->remove(entry_->id);
  }

 private:
  std::weak_ptr<WatchRegistry> registry_;
  std::shared_ptr<WatchEntry> entry_;
};

}  // namespace

std::shared_ptr<WatchEntry> WatchRegistry::make(WatchKind kind, const std::string& path,
                                                std::function<void()> fn) {
  auto e = std::make_shared<WatchEntry>();
  {
    std::lock_guard lock(mu_);
    e->id = next_id_++;
  }
  e->kind = kind;
  e->path = path;
  e->fn = std::move(fn);
  return e;
}

std::unique_ptr<WatchHandle> WatchRegistry::add(std::shared_ptr<WatchEntry> entry) {
  {
    std::lock_guard lock(mu_);
    entries_[entry->id] = entry;
  }
  return std::make_unique<RegisteredWatch>(weak_from_this(), std::move(entry));
}

std::vector<std::shared_ptr<WatchEntry>> WatchRegistry::all() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<WatchEntry>> out;
  out.reserve(entries_.size());
  for (const auto& [id, e] : entries_) out.push_back(e);
  return out;
}

std::shared_ptr<WatchEntry> WatchRegistry::find(uint64_t id) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : it->second;
}

void WatchRegistry::remove(uint64_t id) {
  std::lock_guard lock(mu_);
  entries_.erase(id);
}

void WatchRegistry::fire(WatchEntry& entry) {
  std::lock_guard lock(entry.mu);
  if (!entry.active || !entry.fn) return;
  try {
    entry.fn();
  } catch (const std::exception& e) {
    spdlog::error("coordinator: watch callback for {} threw: {}", entry.path, e.what());
  } catch (...) {
    spdlog::error("coordinator: watch callback for {} threw", entry.path);
  }
}

Status check_path(std::string_view path, bool allow_root) {
  auto bad = [&](std::string_view why) {
    return Status::Error("invalid coordinator path \"" + std::string(path) + "\": " +
                         std::string(why));
  };
  if (path.empty() || path.front() != '/') return bad("must start with '/'");
  if (path == "/") return allow_root ? Status::Ok() : bad("the root cannot be written");
  if (path.back() == '/') return bad("must not end with '/'");
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part.empty()) return bad("empty component (\"//\")");
    if (part == "." || part == "..") return bad("\".\" and \"..\" are not allowed");
    if (part.front() == '.') return bad("components starting with '.' are reserved");
    for (unsigned char c : part) {
      if (c < 0x20 || c == 0x7f) return bad("control characters are not allowed");
    }
    start = end + 1;
  }
  return Status::Ok();
}

std::vector<std::string> ancestors(const std::string& path) {
  std::vector<std::string> out;
  for (size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    out.push_back(path.substr(0, pos));
  }
  return out;
}

}  // namespace detail

Status check_coordinator_path(std::string_view path) { return detail::check_path(path, false); }

Result<std::unique_ptr<Coordinator>> connect_coordinator_with(const std::string& name,
                                                              const std::string& addr,
                                                              const CoordinatorOptions& options) {
  if (name == "zookeeper" || name == "zk") {
    return detail::connect_zookeeper_coordinator(addr, options);
  }
  if (name == "filesystem" || name == "fs") {
    return detail::open_filesystem_coordinator(addr, options);
  }
  if (name == "etcd") {
    return detail::connect_etcd_coordinator(addr, options);
  }
  return Result<std::unique_ptr<Coordinator>>::Error("unknown coordinator \"" + name +
                                                     "\": expected zookeeper, etcd or filesystem");
}

Result<std::unique_ptr<Coordinator>> connect_coordinator(const std::string& name,
                                                         const std::string& addr,
                                                         std::string_view auth,
                                                         std::chrono::milliseconds timeout) {
  CoordinatorOptions options;
  options.auth = std::string(auth);
  options.timeout = timeout;
  return connect_coordinator_with(name, addr, options);
}

}  // namespace codis
