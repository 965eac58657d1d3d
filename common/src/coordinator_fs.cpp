// The filesystem coordinator: Codis's fsclient layout, plus what Codis's
// lacked (ephemeral nodes, watches, nodes with both data and children).
//
// Layout under the root directory:
//   data/<path>          a leaf node: a regular file holding the value (exactly
//                        Codis's fsclient, so a Codis tool pointed at the root
//                        reads it)
//   data/<path>/         a node with children: a directory; its own value, if
//                        any, is in data/<path>/.data (hidden from list())
//   temp/                temporary files, renamed into data/ when complete
//   owners/<escaped>     one file per ephemeral node ('%' -> %25, '/' -> %2F):
//                        "pid starttime"; the creating process holds an
//                        flock(LOCK_EX) on it for the node's life
//   data.lck             flock'ed around every operation (shared for reads,
//                        exclusive for writes), as Codis's fsclient does
//
// An ephemeral node is alive while its owner record is locked and its owner
// process (pid plus start time from /proc, so a recycled pid does not count)
// runs. A dead one reads as absent and is deleted by the next write. The lock
// goes away with the process however it ends; the pid check covers a child
// that inherited the lock through fork().
//
// Permissions: the store holds the cluster's topology, so only its owner may
// read or change it. Everything we create is 0600 (files) or 0700
// (directories), whatever the umask; at open, data/, temp/, owners/ and
// data.lck from an older store are tightened to those modes (data/ at 0700
// alone keeps other users out of every node). A root directory that another
// user owns (root excepted), or that other users may write to, is refused:
// whoever can rename data/ can replace the store. The dashboard and the
// proxies sharing a store therefore run as one user.
//
// Writes go to temp/, are fsync'ed and renamed over the target, and the
// directory is fsync'ed. Turning a leaf into a directory (creating a child
// under it) moves its value into .data while the exclusive lock is held.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <dirent.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <spdlog/spdlog.h>

#include "coordinator_internal.h"

namespace codis::detail {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kDirData = ".data";

std::string errno_text(int err) { return std::strerror(err); }

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads a whole file; nullopt with errno set on failure.
std::optional<std::string> read_whole(const fs::path& file) {
  Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

constexpr mode_t kFileMode = 0600;
constexpr mode_t kDirMode = 0700;

// open(O_CREAT) with exactly `mode` (the umask could take bits away, even the
// owner's). An existing file keeps its mode unless `fix` (ours to tighten).
int open_private(const fs::path& file, int flags, bool fix = true) {
  int fd = ::open(file.c_str(), flags | O_CREAT | O_CLOEXEC, kFileMode);
  struct stat st {};
  if (fd >= 0 && fix && ::fstat(fd, &st) == 0 && (st.st_mode & 07777) != kFileMode) ::fchmod(fd, kFileMode);
  return fd;
}

// mkdir with exactly kDirMode; 0 or -1 with errno (EEXIST if it exists).
int mkdir_private(const fs::path& dir) {
  if (::mkdir(dir.c_str(), kDirMode) != 0) return -1;
  if (::chmod(dir.c_str(), kDirMode) != 0) {
    int err = errno;
    ::rmdir(dir.c_str());
    errno = err;
    return -1;
  }
  return 0;
}

void fsync_dir(const fs::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd) ::fsync(fd.get());
}

enum class NodeKind { kAbsent, kLeaf, kDir };

class FsCoordinator final : public Coordinator {
 public:
  FsCoordinator(fs::path root, const CoordinatorOptions& options)
      : root_(std::move(root)),
        data_dir_(root_ / "data"),
        temp_dir_(root_ / "temp"),
        owners_dir_(root_ / "owners"),
        lock_file_(root_ / "data.lck"),
        lock_timeout_(options.timeout),
        poll_interval_(std::max(options.poll_interval, std::chrono::milliseconds(10))),
        watches_(std::make_shared<WatchRegistry>()) {}

  ~FsCoordinator() override {
    {
      std::lock_guard lock(poll_mu_);
      stop_ = true;
    }
    poll_cv_.notify_all();
    if (poller_.joinable()) poller_.join();
    release_own_ephemerals();
  }

  Status init() {
    // The root: created 0700 (with missing parents, as the user's umask
    // makes them), or an existing directory that only we (or root) control.
    std::error_code ec;
    if (!fs::exists(root_, ec)) {
      if (root_.has_parent_path()) fs::create_directories(root_.parent_path(), ec);
      if (mkdir_private(root_) != 0 && errno != EEXIST) {
        return error("open", "", "cannot create " + root_.string() + ": " + errno_text(errno));
      }
    }
    struct stat st {};
    if (::stat(root_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return error("open", "", root_.string() + " is not a directory");
    }
    const uid_t me = ::geteuid();
    if (st.st_uid != me && st.st_uid != 0 && me != 0) {
      return error("open", "", root_.string() + " belongs to another user (uid " + std::to_string(st.st_uid) +
                                   "): it could replace the store; use a directory of this user");
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
      return error("open", "", root_.string() + " may be written by other users (mode " + mode +
                                   "): they could replace the store; chmod go-w it");
    }
    for (const auto& dir : {data_dir_, temp_dir_, owners_dir_}) {
      if (mkdir_private(dir) == 0) continue;
      if (errno != EEXIST) return error("open", "", "cannot create " + dir.string() + ": " + errno_text(errno));
      if (auto s = tighten(dir, true); !s) return s;
    }
    const bool had_lock = ::access(lock_file_.c_str(), F_OK) == 0;
    Fd lock(open_private(lock_file_, O_RDWR, !had_lock));
    if (!lock) return error("open", "", "cannot open " + lock_file_.string() + ": " + errno_text(errno));
    return had_lock ? tighten(lock_file_, false) : Status::Ok();
  }

  // An entry of a store made by an older version (0755/0644): ours to
  // tighten; another user's (not root's) is refused.
  Status tighten(const fs::path& p, bool dir) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) return error("open", "", "cannot stat " + p.string() + ": " + errno_text(errno));
    if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
      return error("open", "", p.string() + " is not a " + (dir ? "directory" : "regular file"));
    }
    const uid_t me = ::geteuid();
    if (st.st_uid != me) {
      if (st.st_uid != 0 && me != 0) {
        return error("open", "", p.string() + " belongs to another user (uid " + std::to_string(st.st_uid) + ")");
      }
      return Status::Ok();  // root's, or we are root: leave the owner's mode alone
    }
    const mode_t want = dir ? kDirMode : kFileMode;
    if ((st.st_mode & 07777) == want) return Status::Ok();
    if (::chmod(p.c_str(), want) != 0) {
      return error("open", "", "cannot restrict " + p.string() + " to its owner: " + errno_text(errno));
    }
    spdlog::info("coordinator: {}: {} restricted to its owner (mode {:04o}, was {:04o})", describe(), p.string(),
                 static_cast<unsigned>(want), static_cast<unsigned>(st.st_mode & 07777));
    return Status::Ok();
  }

  Status create(const std::string& path, const std::string& data) override {
    if (auto s = check_path(path, false); !s) return s;
    auto lock = lock_store(true, "create", path);
    if (!lock) return lock.status();
    auto kind = probe_and_collect(path);
    if (kind != NodeKind::kAbsent) return error("create", path, "node already exists");
    if (auto s = ensure_parents("create", path); !s) return s;
    return write_atomic("create", path, node_file(path), data);
  }

  Status create_ephemeral(const std::string& path, const std::string& data) override {
    if (auto s = check_path(path, false); !s) return s;
    auto lock = lock_store(true, "create ephemeral", path);
    if (!lock) return lock.status();
    auto kind = probe_and_collect(path);
    if (kind != NodeKind::kAbsent) {
      std::lock_guard mine(mine_mu_);
      auto it = mine_.find(path);
      if (kind == NodeKind::kLeaf && it != mine_.end() && owned_by_me(path, it->second.get())) {
        return write_atomic("create ephemeral", path, node_file(path), data);
      }
      return error("create ephemeral", path, "node already exists");
    }
    if (auto s = ensure_parents("create ephemeral", path); !s) return s;

    // The owner record first: a crash before the data is written leaves a
    // record without a node, which is harmless.
    fs::path record = owner_file(path);
    ::unlink(record.c_str());
    Fd fd(open_private(record, O_RDWR | O_EXCL));
    if (!fd) {
      return error("create ephemeral", path,
                   "cannot create owner record " + record.string() + ": " + errno_text(errno));
    }
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::unlink(record.c_str());
      return error("create ephemeral", path, "cannot lock owner record: " + errno_text(err));
    }
    std::string owner =
        std::to_string(::getpid()) + " " + std::to_string(process_start_time(::getpid())) + "\n";
    if (!write_all(fd.get(), owner) || ::fsync(fd.get()) != 0) {
      int err = errno;
      ::unlink(record.c_str());
      return error("create ephemeral", path, "cannot write owner record: " + errno_text(err));
    }
    if (auto s = write_atomic("create ephemeral", path, node_file(path), data); !s) {
      ::unlink(record.c_str());
      return s;
    }
    std::lock_guard mine(mine_mu_);
    mine_[path] = std::move(fd);
    return Status::Ok();
  }

  Status update(const std::string& path, const std::string& data) override {
    if (auto s = check_path(path, false); !s) return s;
    auto lock = lock_store(true, "update", path);
    if (!lock) return lock.status();
    switch (probe_and_collect(path)) {
      case NodeKind::kDir:
        return write_atomic("update", path, node_file(path) / kDirData, data);
      case NodeKind::kLeaf:
        return write_atomic("update", path, node_file(path), data);
      case NodeKind::kAbsent:
        break;
    }
    if (auto s = ensure_parents("update", path); !s) return s;
    return write_atomic("update", path, node_file(path), data);
  }

  Status remove(const std::string& path) override {
    if (auto s = check_path(path, false); !s) return s;
    auto lock = lock_store(true, "remove", path);
    if (!lock) return lock.status();
    fs::path file = node_file(path);
    switch (probe_and_collect(path)) {
      case NodeKind::kAbsent:
        return Status::Ok();
      case NodeKind::kLeaf:
        return remove_leaf_locked("remove", path);
      case NodeKind::kDir:
        break;
    }
    auto children = list_locked(path, true);
    if (!children) return error("remove", path, children.message());
    if (!children->empty()) {
      return error("remove", path, "node has children (" + children->front() + ", ...)");
    }
    ::unlink((file / kDirData).c_str());
    if (::rmdir(file.c_str()) != 0 && errno != ENOENT) {
      return error("remove", path, errno_text(errno));
    }
    fsync_dir(file.parent_path());
    return Status::Ok();
  }

  Result<bool> remove_if_unchanged(const std::string& path, const std::string& expected) override {
    if (auto s = check_path(path, false); !s) return s;
    auto lock = lock_store(true, "remove if unchanged", path);
    if (!lock) return lock.status();
    switch (probe_and_collect(path)) {
      case NodeKind::kAbsent:
        return false;
      case NodeKind::kDir:
        return error("remove if unchanged", path, "node has children");
      case NodeKind::kLeaf:
        break;
    }
    auto data = read_whole(node_file(path));
    if (!data) {
      if (errno == ENOENT) return false;
      return error("remove if unchanged", path, "cannot read: " + errno_text(errno));
    }
    if (*data != expected) return false;
    if (auto s = remove_leaf_locked("remove if unchanged", path); !s) return s;
    return true;
  }

  Result<std::optional<std::string>> read(const std::string& path) override {
    if (auto s = check_path(path, false); !s) return s;
    auto lock = lock_store(false, "read", path);
    if (!lock) return lock.status();
    return read_locked(path);
  }

  Result<std::vector<std::string>> list(const std::string& dir) override {
    if (auto s = check_path(dir, true); !s) return s;
    auto lock = lock_store(false, "list", dir);
    if (!lock) return lock.status();
    auto r = list_locked(dir, false);
    if (!r) return error("list", dir, r.message());
    return r;
  }

  Result<std::unique_ptr<WatchHandle>> watch_children(const std::string& dir,
                                                      std::function<void()> fn) override {
    if (auto s = check_path(dir, true); !s) return s;
    return add_watch(WatchKind::kChildren, dir, std::move(fn));
  }

  Result<std::unique_ptr<WatchHandle>> watch_data(const std::string& path,
                                                  std::function<void()> fn) override {
    if (auto s = check_path(path, false); !s) return s;
    return add_watch(WatchKind::kData, path, std::move(fn));
  }

  std::string describe() const override { return "filesystem " + root_.string(); }

 private:
  // flock on data.lck, released by closing the fd. A fresh open per
  // operation: flock excludes per open file, so this also excludes threads
  // and coordinators of this process from each other.
  class StoreLock {
   public:
    explicit StoreLock(Fd fd) : fd_(std::move(fd)) {}

   private:
    Fd fd_;
  };

  Result<StoreLock> lock_store(bool exclusive, std::string_view op, const std::string& path) {
    Fd fd(open_private(lock_file_, O_RDWR, false));  // its mode was set at open
    if (!fd) {
      return error(op, path, "cannot open lock file " + lock_file_.string() + ": " +
                                 errno_text(errno));
    }
    auto deadline = std::chrono::steady_clock::now() + lock_timeout_;
    auto pause = 1ms;
    while (::flock(fd.get(), (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK && errno != EINTR) {
        return error(op, path, "cannot lock " + lock_file_.string() + ": " + errno_text(errno));
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        return error(op, path,
                     "lock file " + lock_file_.string() + " held by another process for over " +
                         std::to_string(lock_timeout_.count()) + " ms");
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(20));
    }
    return StoreLock(std::move(fd));
  }

  Status error(std::string_view op, const std::string& path, const std::string& cause) const {
    std::string m = "filesystem coordinator " + root_.string() + ": " + std::string(op);
    if (!path.empty()) m += " " + path;
    return Status::Error(m + ": " + cause);
  }

  fs::path node_file(const std::string& path) const {
    return path == "/" ? data_dir_ : data_dir_ / path.substr(1);
  }

  fs::path owner_file(const std::string& path) const {
    std::string name;
    for (char c : path) {
      if (c == '%') {
        name += "%25";
      } else if (c == '/') {
        name += "%2F";
      } else {
        name += c;
      }
    }
    return owners_dir_ / name;
  }

  // Whether the ephemeral record at `path` belongs to the open file `fd`.
  bool owned_by_me(const std::string& path, int fd) const {
    struct stat a {}, b {};
    return fd >= 0 && ::fstat(fd, &a) == 0 && ::stat(owner_file(path).c_str(), &b) == 0 &&
           a.st_ino == b.st_ino && a.st_dev == b.st_dev;
  }

  // For a leaf: is it a live node (persistent, or ephemeral with a live owner)?
  bool leaf_alive(const std::string& path) const {
    fs::path record = owner_file(path);
    Fd fd(::open(record.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return true;  // no record: a persistent node
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) return false;  // nobody holds it
    auto text = read_whole(record);
    if (!text) return true;
    std::istringstream in(*text);
    long pid = 0;
    unsigned long long start = 0;
    if (!(in >> pid >> start) || pid <= 0) return true;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return false;
    unsigned long long now = process_start_time(static_cast<pid_t>(pid));
    return now == 0 || start == 0 || now == start;  // 0: cannot tell, trust the lock
  }

  NodeKind probe(const std::string& path, bool* stale = nullptr) const {
    if (stale) *stale = false;
    struct stat st {};
    if (::lstat(node_file(path).c_str(), &st) != 0) return NodeKind::kAbsent;
    if (S_ISDIR(st.st_mode)) return NodeKind::kDir;
    if (path == "/" || leaf_alive(path)) return NodeKind::kLeaf;
    if (stale) *stale = true;
    return NodeKind::kAbsent;
  }

  // probe() under the exclusive lock, deleting a dead ephemeral node.
  NodeKind probe_and_collect(const std::string& path) {
    bool stale = false;
    auto kind = probe(path, &stale);
    if (stale) {
      spdlog::info("coordinator: {}: removing ephemeral node {} of a process that is gone",
                   describe(), path);
      ::unlink(node_file(path).c_str());
      ::unlink(owner_file(path).c_str());
    }
    return kind;
  }

  Status ensure_parents(std::string_view op, const std::string& path) {
    for (const auto& parent : ancestors(path)) {
      fs::path dir = node_file(parent);
      struct stat st {};
      if (::lstat(dir.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) continue;
        if (fs::exists(owner_file(parent))) {
          if (leaf_alive(parent)) {
            return error(op, path, "parent " + parent + " is an ephemeral node: it cannot have children");
          }
          probe_and_collect(parent);
        } else if (auto s = leaf_to_dir(op, path, parent); !s) {
          return s;
        }
      }
      if (mkdir_private(dir) != 0 && errno != EEXIST) {
        return error(op, path, "cannot create directory " + dir.string() + ": " + errno_text(errno));
      }
    }
    return Status::Ok();
  }

  // A leaf that gets a child becomes a directory; its value moves to .data.
  Status leaf_to_dir(std::string_view op, const std::string& path, const std::string& leaf) {
    fs::path file = node_file(leaf);
    fs::path held = temp_dir_ / ("node." + std::to_string(::getpid()) + "." +
                                 std::to_string(counter_.fetch_add(1)));
    if (::rename(file.c_str(), held.c_str()) != 0) {
      return error(op, path, "cannot move " + file.string() + " aside: " + errno_text(errno));
    }
    if (mkdir_private(file) != 0 || ::rename(held.c_str(), (file / kDirData).c_str()) != 0) {
      int err = errno;
      ::rmdir(file.c_str());
      ::rename(held.c_str(), file.c_str());
      return error(op, path, "cannot turn " + leaf + " into a directory: " + errno_text(err));
    }
    fsync_dir(file);
    fsync_dir(file.parent_path());
    return Status::Ok();
  }

  Status write_atomic(std::string_view op, const std::string& path, const fs::path& target,
                      std::string_view data) {
    fs::path tmp = temp_dir_ / (std::to_string(::getpid()) + "." +
                                std::to_string(counter_.fetch_add(1)) + ".tmp");
    Fd fd(open_private(tmp, O_WRONLY | O_EXCL));
    if (!fd) {
      return error(op, path, "cannot create " + tmp.string() + ": " + errno_text(errno));
    }
    if (!write_all(fd.get(), data) || ::fsync(fd.get()) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return error(op, path, "cannot write " + tmp.string() + ": " + errno_text(err));
    }
    fd.reset();
    if (::rename(tmp.c_str(), target.c_str()) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return error(op, path, "cannot rename into " + target.string() + ": " + errno_text(err));
    }
    fsync_dir(target.parent_path());
    return Status::Ok();
  }

  Result<std::optional<std::string>> read_locked(const std::string& path) const {
    fs::path file = node_file(path);
    switch (probe(path)) {
      case NodeKind::kAbsent:
        return std::optional<std::string>();
      case NodeKind::kDir:
        file /= kDirData;
        if (::access(file.c_str(), F_OK) != 0) return std::optional<std::string>(std::string());
        break;
      case NodeKind::kLeaf:
        break;
    }
    auto data = read_whole(file);
    if (!data) {
      if (errno == ENOENT) return std::optional<std::string>();
      return error("read", path, "cannot read " + file.string() + ": " + errno_text(errno));
    }
    return std::optional<std::string>(std::move(*data));
  }

  // Removes a leaf and its owner record (the exclusive lock held).
  Status remove_leaf_locked(std::string_view op, const std::string& path) {
    fs::path file = node_file(path);
    if (::unlink(file.c_str()) != 0 && errno != ENOENT) return error(op, path, errno_text(errno));
    ::unlink(owner_file(path).c_str());
    {
      std::lock_guard mine(mine_mu_);
      mine_.erase(path);
    }
    fsync_dir(file.parent_path());
    return Status::Ok();
  }

  // Child names of `dir`; dead ephemeral children are skipped (and deleted
  // when `collect`, which needs the exclusive lock).
  Result<std::vector<std::string>> list_locked(const std::string& dir, bool collect) {
    std::vector<std::string> names;
    fs::path d = node_file(dir);
    DIR* h = ::opendir(d.c_str());
    if (!h) {
      if (errno == ENOENT || errno == ENOTDIR) return names;
      return Result<std::vector<std::string>>::Error("cannot open " + d.string() + ": " +
                                                     errno_text(errno));
    }
    while (auto* ent = ::readdir(h)) {
      std::string name = ent->d_name;
      if (name.empty() || name.front() == '.') continue;
      std::string child = dir == "/" ? "/" + name : dir + "/" + name;
      bool stale = false;
      if (collect) {
        if (probe_and_collect(child) == NodeKind::kAbsent) continue;
      } else if (probe(child, &stale) == NodeKind::kAbsent) {
        continue;
      }
      names.push_back(std::move(name));
    }
    ::closedir(h);
    std::sort(names.begin(), names.end());
    return names;
  }

  // What a watch compares between polls; nullopt when the store cannot be
  // read (the watch then waits for the next poll).
  std::optional<std::string> fingerprint(const WatchEntry& e) {
    auto lock = lock_store(false, "watch", e.path);
    if (!lock) return std::nullopt;
    if (e.kind == WatchKind::kData) {
      auto r = read_locked(e.path);
      if (!r) return std::nullopt;
      return r->has_value() ? "+" + **r : std::string("-");
    }
    auto r = list_locked(e.path, false);
    if (!r) return std::nullopt;
    std::string fp;
    for (const auto& n : *r) fp += n + '/';
    return fp;
  }

  Result<std::unique_ptr<WatchHandle>> add_watch(WatchKind kind, const std::string& path,
                                                 std::function<void()> fn) {
    auto entry = watches_->make(kind, path, std::move(fn));
    entry->fingerprint = fingerprint(*entry).value_or(std::string("?"));
    auto handle = watches_->add(std::move(entry));
    std::lock_guard lock(poll_mu_);
    if (!poller_.joinable()) poller_ = std::thread([this] { poll_loop(); });
    return handle;
  }

  void poll_loop() {
    std::unique_lock lock(poll_mu_);
    while (!stop_) {
      poll_cv_.wait_for(lock, poll_interval_, [this] { return stop_; });
      if (stop_) break;
      lock.unlock();
      for (const auto& e : watches_->all()) {
        auto fp = fingerprint(*e);
        if (fp && *fp != e->fingerprint) {
          e->fingerprint = std::move(*fp);
          WatchRegistry::fire(*e);
        }
      }
      lock.lock();
    }
  }

  void release_own_ephemerals() {
    std::map<std::string, Fd> mine;
    {
      std::lock_guard lock(mine_mu_);
      mine.swap(mine_);
    }
    if (mine.empty()) return;
    auto lock = lock_store(true, "close", "");
    for (auto& [path, fd] : mine) {
      // Only if the record is still ours: someone may have removed our node
      // and created another one at the path.
      if (lock && owned_by_me(path, fd.get())) {
        ::unlink(node_file(path).c_str());
        ::unlink(owner_file(path).c_str());
      }
    }
  }

  const fs::path root_, data_dir_, temp_dir_, owners_dir_, lock_file_;
  const std::chrono::milliseconds lock_timeout_, poll_interval_;
  std::atomic<uint64_t> counter_{0};

  std::mutex mine_mu_;
  std::map<std::string, Fd> mine_;  // this coordinator's ephemeral nodes -> locked owner record

  std::shared_ptr<WatchRegistry> watches_;
  std::mutex poll_mu_;
  std::condition_variable poll_cv_;
  bool stop_ = false;
  std::thread poller_;
};

}  // namespace

Result<std::unique_ptr<Coordinator>> open_filesystem_coordinator(const std::string& root,
                                                                 const CoordinatorOptions& options) {
  if (root.empty()) {
    return Result<std::unique_ptr<Coordinator>>::Error(
        "filesystem coordinator: no root directory given");
  }
  std::error_code ec;
  fs::path abs = fs::absolute(root, ec);
  if (ec) {
    return Result<std::unique_ptr<Coordinator>>::Error("filesystem coordinator " + root + ": " +
                                                       ec.message());
  }
  fs::path normal = abs.lexically_normal();
  if (!normal.has_filename() && normal != normal.root_path()) normal = normal.parent_path();
  auto c = std::make_unique<FsCoordinator>(normal, options);
  if (auto s = c->init(); !s) return s;
  return std::unique_ptr<Coordinator>(std::move(c));
}

}  // namespace codis::detail
