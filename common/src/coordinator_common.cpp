// connect_coordinator(), path checks and the watch registry shared by the
// ZooKeeper, etcd and filesystem coordinators.
#include <exception>
#include <fstream>
#include <sstream>

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

std::string coordinator_metrics(const std::vector<std::pair<std::string, const Coordinator*>>& stores) {
  struct Metric {
    const char* name;
    const char* type;
    const char* help;
    uint64_t Coordinator::Health::*field;
  };
  static const Metric kMetrics[] = {
      {"codis_coordinator_session_losses_total", "counter",
       "Coordinator sessions lost (ZooKeeper: expired; this process's ephemeral nodes went away with them).",
       &Coordinator::Health::session_losses},
      {"codis_coordinator_ephemerals_recreated_total", "counter",
       "Ephemeral nodes (registration, jodis node, dashboard lock) re-created after a session loss.",
       &Coordinator::Health::ephemerals_recreated},
      {"codis_coordinator_ephemerals_pending", "gauge",
       "Ephemeral nodes of this process not re-created yet after a session loss (retried until they are).",
       &Coordinator::Health::ephemerals_pending},
  };
  std::vector<std::pair<std::string, Coordinator::Health>> healths;
  for (const auto& [role, c] : stores) {
    if (c) healths.emplace_back(role, c->health());
  }
  std::string out;
  if (healths.empty()) return out;
  for (const auto& m : kMetrics) {
    out += std::string("# HELP ") + m.name + " " + m.help + "\n# TYPE " + m.name + " " + m.type + "\n";
    for (const auto& [role, h] : healths) {
      out += std::string(m.name) + "{role=\"" + role + "\"} " + std::to_string(h.*m.field) + "\n";
    }
  }
  return out;
}

unsigned long long process_start_time(int pid) {
  if (pid <= 0) return 0;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!in || !std::getline(in, line)) return 0;
  auto close = line.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos || close + 2 > line.size()) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  // Fields after the command name start at field 3 (state); 22 is starttime.
  for (int i = 3; i <= 22; ++i) {
    if (!(rest >> field)) return 0;
  }
  return std::strtoull(field.c_str(), nullptr, 10);
}

std::string boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  if (!in || !std::getline(in, id)) return "";
  return id;
}

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
