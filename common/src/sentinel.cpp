#include "codis/sentinel.h"
#include "codis/net.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "codis/resp.h"
#include "codis/status.h"

namespace codis::sentinel {

namespace {

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left, 1 << 30));
}

using net::Wait;
using net::wait_fd;

// A blocking RESP connection whose every wait also ends on a cancel fd.
class Conn {
 public:
  Conn(std::string addr, std::vector<int> cancel_fds) : addr_(std::move(addr)), cancel_(std::move(cancel_fds)) {}
  ~Conn() {
    if (fd_ >= 0) ::close(fd_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  Status open(Clock::time_point deadline) {
    auto fd = net::dial(addr_, deadline, cancel_);
    if (!fd) return fd.status();
    fd_ = *fd;
    return Status::Ok();
  }

  Status send(const std::vector<std::string>& args, Clock::time_point deadline) {
    std::vector<std::string_view> views(args.begin(), args.end());
    std::string out;
    resp::append_command(out, views);
    std::string_view data = out;
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        const Wait w = wait_fd(fd_, POLLOUT, deadline, cancel_);
        if (w == Wait::kReady) continue;
        return Status::Error(w == Wait::kTimeout ? "write to " + addr_ + " timed out" : "cancelled");
      }
      return Status::Error("write to " + addr_ + " failed: " + std::strerror(errno));
    }
    return Status::Ok();
  }

  // One reply. `timed_out` (when given) turns a timeout into an empty reply
  // instead of an error.
  Result<std::optional<resp::Value>> read(Clock::time_point deadline, bool timeout_is_ok = false) {
    for (;;) {
      if (!buffer_.empty()) {
        resp::Value v;
        size_t consumed = 0;
        const auto ps = resp::parse_value(buffer_, v, consumed);
        if (ps == resp::ParseStatus::kOk) {
          buffer_.erase(0, consumed);
          return std::optional<resp::Value>(std::move(v));
        }
        if (ps == resp::ParseStatus::kError) return Status::Error("protocol error from " + addr_);
      }
      char buf[16384];
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) {
        buffer_.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) return Status::Error("connection closed by " + addr_);
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        return Status::Error("read from " + addr_ + " failed: " + std::strerror(errno));
      }
      const Wait w = wait_fd(fd_, POLLIN, deadline, cancel_);
      if (w == Wait::kCancelled) return Status::Error("cancelled");
      if (w == Wait::kTimeout) {
        if (timeout_is_ok) return std::optional<resp::Value>();
        return Status::Error("read from " + addr_ + " timed out");
      }
    }
  }

  Result<resp::Value> call(const std::vector<std::string>& args, Clock::time_point deadline) {
    if (auto st = send(args, deadline); !st.ok()) return st;
    auto r = read(deadline);
    if (!r) return r.status();
    return std::move(**r);
  }

 private:
  std::string addr_;
  std::vector<int> cancel_;
  int fd_ = -1;
  std::string buffer_;
};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// SENTINEL MASTERS of one sentinel, the product's groups only.
Result<std::map<int, MasterView>> sentinel_masters(const std::string& product, const std::string& addr,
                                                   Clock::time_point deadline, std::vector<int> cancel) {
  Conn c(addr, std::move(cancel));
  if (auto st = c.open(deadline); !st.ok()) return st;
  auto r = c.call({"SENTINEL", "MASTERS"}, deadline);
  if (!r) return r.status();
  if (r->type == resp::Value::Type::kError) return Status::Error("SENTINEL MASTERS: " + r->str);
  if (r->type != resp::Value::Type::kArray) return Status::Error("SENTINEL MASTERS: unexpected reply");
  std::map<int, MasterView> out;
  for (const auto& m : r->elements) {
    std::string name, ip, port, epoch;
    for (size_t i = 0; i + 1 < m.elements.size(); i += 2) {
      const auto& k = m.elements[i].str;
      const auto& v = m.elements[i + 1].str;
      if (k == "name") name = v;
      else if (k == "ip") ip = v;
      else if (k == "port") port = v;
      else if (k == "config-epoch") epoch = v;
    }
    const int gid = group_of(product, name);
    if (gid < 0 || ip.empty() || port.empty()) continue;
    MasterView view;
    view.addr = ip + ":" + port;
    std::from_chars(epoch.data(), epoch.data() + epoch.size(), view.config_epoch);
    out[gid] = std::move(view);
  }
  return out;
}

// "master" if ROLE says so; an error otherwise.
Status check_role_master(const std::string& addr, const std::string& auth, Clock::time_point deadline,
                         std::vector<int> cancel) {
  Conn c(addr, std::move(cancel));
  if (auto st = c.open(deadline); !st.ok()) return st;
  if (!auth.empty()) {
    auto r = c.call({"AUTH", auth}, deadline);
    if (!r) return r.status();
    if (r->type == resp::Value::Type::kError) return Status::Error(addr + ": AUTH failed: " + r->str);
  }
  auto r = c.call({"ROLE"}, deadline);
  if (!r) return r.status();
  if (r->type == resp::Value::Type::kError) return Status::Error(addr + ": ROLE failed: " + r->str);
  if (r->type != resp::Value::Type::kArray || r->elements.empty()) return Status::Error(addr + ": bad ROLE reply");
  const std::string role = lower(r->elements[0].str);
  if (role != "master") return Status::Error(addr + " is not a master (role " + role + ")");
  return Status::Ok();
}

}  // namespace

// ---- names and choices ----

std::string group_name(std::string_view product, int gid) { return std::string(product) + "-" + std::to_string(gid); }

int group_of(std::string_view product, std::string_view name) {
  if (name.size() <= product.size() + 1 || !name.starts_with(product) || name[product.size()] != '-') return -1;
  const std::string_view digits = name.substr(product.size() + 1);
  int gid = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), gid);
  if (ec != std::errc() || end != digits.data() + digits.size() || gid <= 0) return -1;
  return gid;
}

std::optional<SwitchEvent> parse_switch_master(std::string_view payload) {
  std::vector<std::string_view> words;
  while (!payload.empty()) {
    const auto sp = payload.find(' ');
    if (sp != 0) words.push_back(payload.substr(0, sp));
    if (sp == std::string_view::npos) break;
    payload.remove_prefix(sp + 1);
  }
  if (words.size() != 5) return std::nullopt;
  SwitchEvent e;
  e.name = std::string(words[0]);
  e.from = std::string(words[1]) + ":" + std::string(words[2]);
  e.to = std::string(words[3]) + ":" + std::string(words[4]);
  return e;
}

std::map<int, std::string> choose_masters(const std::vector<std::map<int, MasterView>>& answers) {
  struct Best {
    uint64_t epoch = 0;
    std::vector<std::pair<std::string, int>> votes;  // in first-seen order
  };
  std::map<int, Best> best;
  for (const auto& answer : answers) {
    for (const auto& [gid, view] : answer) {
      auto [it, fresh] = best.try_emplace(gid);
      Best& b = it->second;
      if (fresh || view.config_epoch > b.epoch) {
        b.epoch = view.config_epoch;
        b.votes.clear();
      } else if (view.config_epoch < b.epoch) {
        continue;
      }
      auto v = std::find_if(b.votes.begin(), b.votes.end(), [&](const auto& x) { return x.first == view.addr; });
      if (v == b.votes.end()) {
        b.votes.emplace_back(view.addr, 1);
      } else {
        ++v->second;
      }
    }
  }
  std::map<int, std::string> out;
  for (const auto& [gid, b] : best) {
    const auto* top = &b.votes.front();
    for (const auto& v : b.votes) {
      if (v.second > top->second) top = &v;
    }
    out[gid] = top->first;
  }
  return out;
}

// ---- Canceller ----

Canceller::Canceller() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

Canceller::~Canceller() {
  if (fd_ >= 0) ::close(fd_);
}

void Canceller::cancel() {
  const uint64_t one = 1;
  if (fd_ >= 0) (void)!::write(fd_, &one, sizeof(one));  // never read back: stays readable
}

bool Canceller::cancelled() const {
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

// ---- query_masters ----

Masters query_masters(const std::string& product, const std::string& auth, const std::vector<std::string>& servers,
                      std::chrono::milliseconds timeout, const Canceller* cancel) {
  Masters out;
  if (servers.empty()) return out;
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    size_t done = 0;
    std::vector<std::optional<std::map<int, MasterView>>> answers;
    std::vector<std::string> errors;
  } shared;
  shared.answers.resize(servers.size());
  Canceller hurry;  // ends the stragglers once a majority has answered
  const std::vector<int> cancel_fds = {cancel ? cancel->fd() : -1, hurry.fd()};
  const auto deadline = Clock::now() + timeout;
  std::vector<std::thread> threads;
  threads.reserve(servers.size());
  for (size_t i = 0; i < servers.size(); ++i) {
    threads.emplace_back([&, i] {
      auto r = sentinel_masters(product, servers[i], deadline, cancel_fds);
      std::lock_guard lk(shared.mu);
      if (r) {
        shared.answers[i] = std::move(*r);
      } else {
        shared.errors.push_back("sentinel " + servers[i] + ": " + r.message());
      }
      ++shared.done;
      shared.cv.notify_all();
    });
  }
  {
    const size_t majority = servers.size() / 2 + 1;
    std::unique_lock lk(shared.mu);
    shared.cv.wait_until(lk, deadline, [&] {
      size_t ok = 0;
      for (const auto& a : shared.answers) ok += a.has_value();
      return shared.done == servers.size() || ok >= majority;
    });
    if (shared.done < servers.size()) {
      shared.cv.wait_for(lk, std::chrono::milliseconds(200), [&] { return shared.done == servers.size(); });
    }
  }
  hurry.cancel();
  for (auto& t : threads) t.join();

  std::vector<std::map<int, MasterView>> answers;
  for (auto& a : shared.answers) {
    if (a) answers.push_back(std::move(*a));
  }
  out.answered = static_cast<int>(answers.size());
  out.errors = std::move(shared.errors);
  const auto role_timeout = std::min(timeout, std::chrono::milliseconds(1000));
  for (const auto& [gid, addr] : choose_masters(answers)) {
    if (cancel && cancel->cancelled()) break;
    if (auto st = check_role_master(addr, auth, Clock::now() + role_timeout, {cancel ? cancel->fd() : -1});
        !st.ok()) {
      out.errors.push_back(group_name(product, gid) + ": " + st.message());
      continue;
    }
    out.masters[gid] = addr;
  }
  return out;
}

// ---- Watcher ----

Watcher::Watcher(Options options, Callback on_masters)
    : options_(std::move(options)), on_masters_(std::move(on_masters)) {
  subscribed_.assign(options_.servers.size(), false);
  threads_.emplace_back([this] { resolve_loop(); });
  for (size_t i = 0; i < options_.servers.size(); ++i) threads_.emplace_back([this, i] { subscribe_loop(i); });
}

Watcher::~Watcher() {
  cancel();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void Watcher::cancel() {
  cancel_.cancel();
  std::lock_guard lk(mu_);
  cv_.notify_all();
}

int Watcher::subscribed() const {
  std::lock_guard lk(mu_);
  return static_cast<int>(std::count(subscribed_.begin(), subscribed_.end(), true));
}

bool Watcher::sleep_for(std::chrono::milliseconds d) {
  pollfd p{cancel_.fd(), POLLIN, 0};
  const auto deadline = Clock::now() + d;
  for (;;) {
    const int rc = ::poll(&p, 1, ms_left(deadline));
    if (rc > 0) return false;
    if (rc == 0) return true;
    if (errno != EINTR) return !cancelled();
  }
}

void Watcher::trigger(const std::string& reason, bool event) {
  std::lock_guard lk(mu_);
  if (!triggered_) {
    reason_ = reason;
  } else if (event && !event_) {
    reason_ = reason;  // a switch event is the better reason to log
  }
  triggered_ = true;
  event_ = event_ || event;
  cv_.notify_all();
}

void Watcher::subscribe_loop(size_t index) {
  const std::string& addr = options_.servers[index];
  const std::string& who = options_.who;
  auto backoff = std::chrono::milliseconds(200);
  bool warned = false;
  while (!cancelled()) {
    Conn c(addr, {cancel_.fd()});
    auto deadline = Clock::now() + options_.timeout;
    Status st = c.open(deadline);
    if (st.ok()) st = c.send({"SUBSCRIBE", "+switch-master"}, deadline);
    if (st.ok()) {
      auto r = c.read(deadline);
      if (!r) {
        st = r.status();
      } else if ((*r)->type == resp::Value::Type::kError) {
        st = Status::Error("SUBSCRIBE failed: " + (*r)->str);
      } else if ((*r)->type != resp::Value::Type::kArray || (*r)->elements.empty() ||
                 lower((*r)->elements[0].str) != "subscribe") {
        st = Status::Error("unexpected reply to SUBSCRIBE (is it a sentinel?)");
      }
    }
    if (cancelled()) break;
    if (!st.ok()) {
      if (!warned) {
        spdlog::warn("{}: sentinel {}: cannot subscribe to +switch-master: {}; retrying in the background", who,
                     addr, st.message());
        warned = true;
      } else {
        spdlog::debug("{}: sentinel {}: {}", who, addr, st.message());
      }
      if (!sleep_for(backoff)) break;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
    spdlog::info("{}: sentinel {}: subscribed to +switch-master", who, addr);
    warned = false;
    backoff = std::chrono::milliseconds(200);
    {
      std::lock_guard lk(mu_);
      subscribed_[index] = true;
    }
    trigger("subscribed to sentinel " + addr, false);
    auto next_ping = Clock::now() + options_.ping_period;
    std::optional<Clock::time_point> pong_deadline;
    std::string lost;
    while (!cancelled()) {
      auto r = c.read(pong_deadline ? *pong_deadline : next_ping, true);
      if (cancelled()) break;
      if (!r) {
        lost = r.message();
        break;
      }
      if (!r->has_value()) {
        if (pong_deadline) {
          lost = "no answer to PING within " + std::to_string(options_.timeout.count()) + " ms";
          break;
        }
        if (auto s = c.send({"PING"}, Clock::now() + options_.timeout); !s.ok()) {
          lost = s.message();
          break;
        }
        pong_deadline = Clock::now() + options_.timeout;
        continue;
      }
      const resp::Value& v = **r;
      if (v.type != resp::Value::Type::kArray || v.elements.empty()) continue;
      const std::string kind = lower(v.elements[0].str);
      if (kind == "pong") {
        pong_deadline.reset();
        next_ping = Clock::now() + options_.ping_period;
      } else if (kind == "message" && v.elements.size() == 3 && v.elements[1].str == "+switch-master") {
        const std::string& payload = v.elements[2].str;
        auto ev = parse_switch_master(payload);
        if (!ev || group_of(options_.product, ev->name) < 0) {
          spdlog::debug("{}: sentinel {}: +switch-master {} (not ours)", who, addr, payload);
          continue;
        }
        spdlog::warn("{}: sentinel {}: +switch-master {} ({} -> {})", who, addr, ev->name, ev->from, ev->to);
        trigger("+switch-master " + ev->name + " " + ev->from + " -> " + ev->to + " from sentinel " + addr, true);
      }
    }
    {
      std::lock_guard lk(mu_);
      subscribed_[index] = false;
    }
    if (cancelled()) break;
    spdlog::warn("{}: sentinel {}: subscription lost: {}; re-subscribing", who, addr, lost);
    warned = true;
    if (!sleep_for(backoff)) break;
  }
}

void Watcher::resolve_loop() {
  const std::string& who = options_.who;
  constexpr auto kNever = Clock::time_point::max();
  auto recheck = kNever;  // a query due without a trigger (re-check, retry)
  int failures = 0;
  for (;;) {
    std::string reason;
    bool event = false;
    {
      std::unique_lock lk(mu_);
      auto ready = [&] { return triggered_ || cancelled() || Clock::now() >= recheck; };
      if (recheck != kNever) {
        cv_.wait_until(lk, recheck, ready);
      } else {
        cv_.wait(lk, ready);
      }
      if (cancelled()) return;
      if (triggered_) {
        reason = reason_;
        event = event_;
        triggered_ = false;
        event_ = false;
      } else if (Clock::now() >= recheck) {
        reason = "re-check";
        recheck = kNever;
      } else {
        continue;
      }
    }
    Masters m = query_masters(options_.product, options_.auth, options_.servers, options_.timeout, &cancel_);
    if (cancelled()) return;
    for (const auto& e : m.errors) spdlog::debug("{}: {}", who, e);
    if (m.answered == 0) {
      if (failures++ == 0) {
        spdlog::warn("{}: no sentinel answered SENTINEL MASTERS ({}){}", who,
                     m.errors.empty() ? std::string("no sentinels") : m.errors.front(),
                     failures < 10 ? "; retrying" : "");
      }
      if (failures < 10) recheck = Clock::now() + std::chrono::seconds(1);
      continue;
    }
    failures = 0;
    on_masters_(m.masters, reason);
    // Sentinels that had not heard of the switch yet answered too: look again.
    if (event) recheck = Clock::now() + std::chrono::seconds(2);
  }
}

}  // namespace codis::sentinel
