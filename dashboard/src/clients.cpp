#include "clients.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "codis/host_port.h"
#include "codis/net.h"
#include "redis_tls.h"

namespace codis::dashboard {

namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}


Status write_all(int fd, std::string_view data, Clock::time_point deadline, const std::string& addr) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, remaining_ms(deadline)) <= 0) return Status::Error("write to " + addr + " timed out", Code::kTimeout);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return Status::Error("write to " + addr + " failed: " + std::strerror(errno));
  }
  return Status::Ok();
}

// Appends what is readable; 0 bytes = EOF.
Result<size_t> read_some(int fd, std::string& out, Clock::time_point deadline, const std::string& addr) {
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n >= 0) {
      out.append(buf, static_cast<size_t>(n));
      return static_cast<size_t>(n);
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return Result<size_t>::Error("read from " + addr + " failed: " + std::strerror(errno));
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) {
      return Result<size_t>::Error("read from " + addr + " timed out", Code::kTimeout);
    }
  }
}

}  // namespace

Result<RedisClient> RedisClient::connect(const std::string& addr, const std::string& auth,
                                         std::chrono::milliseconds timeout) {
  auto fd = net::dial(addr, Clock::now() + timeout);
  if (!fd) return fd.status();
  RedisClient c(*fd, addr, timeout);
  if (redis_tls::enabled()) {
    auto t = redis_tls::Conn::handshake(*fd, addr, Clock::now() + timeout);
    if (!t) return t.status().context("redis " + addr + ": ");
    c.tls_ = std::move(*t);
  }
  if (!auth.empty()) {
    auto r = c.call({"AUTH", auth});
    if (!r) return r.status();
    if (r->type == resp::Value::Type::kError) {
      return Result<RedisClient>::Error("redis " + addr + ": AUTH failed: " + r->str +
                                        " (check product_auth in dashboard.toml)");
    }
  }
  return c;
}

RedisClient::RedisClient(int fd, std::string addr, std::chrono::milliseconds timeout)
    : fd_(fd), addr_(std::move(addr)), timeout_(timeout) {}

RedisClient::RedisClient(RedisClient&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), tls_(std::move(o.tls_)), addr_(std::move(o.addr_)), timeout_(o.timeout_),
      buffer_(std::move(o.buffer_)) {}

RedisClient& RedisClient::operator=(RedisClient&& o) noexcept {
  if (this != &o) {
    tls_.reset();
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    tls_ = std::move(o.tls_);
    addr_ = std::move(o.addr_);
    timeout_ = o.timeout_;
    buffer_ = std::move(o.buffer_);
  }
  return *this;
}

RedisClient::~RedisClient() {
  tls_.reset();  // its close_notify goes out before the socket closes
  if (fd_ >= 0) ::close(fd_);
}

Result<resp::Value> RedisClient::call(const std::vector<std::string>& args) {
  if (fd_ < 0) return Result<resp::Value>::Error("redis " + addr_ + ": connection closed");
  std::vector<std::string_view> views(args.begin(), args.end());
  std::string out;
  resp::append_command(out, views);
  const auto deadline = Clock::now() + timeout_;
  const std::string what = "redis " + addr_;
  if (auto st = tls_ ? tls_->write_all(out, deadline, what) : write_all(fd_, out, deadline, what); !st.ok()) return st;
  for (;;) {
    resp::Value v;
    size_t consumed = 0;
    const auto ps = resp::parse_value(buffer_, v, consumed);
    if (ps == resp::ParseStatus::kOk) {
      buffer_.erase(0, consumed);
      return v;
    }
    if (ps == resp::ParseStatus::kError) {
      tls_.reset();
      ::close(std::exchange(fd_, -1));
      return Result<resp::Value>::Error("redis " + addr_ + ": protocol error in reply to " + args[0]);
    }
    auto n = tls_ ? tls_->read_some(buffer_, deadline, what) : read_some(fd_, buffer_, deadline, what);
    if (!n) {
      tls_.reset();
      ::close(std::exchange(fd_, -1));
      return n.status();
    }
    if (*n == 0) {
      tls_.reset();
      ::close(std::exchange(fd_, -1));
      return Result<resp::Value>::Error("redis " + addr_ + ": connection closed by the server");
    }
  }
}

Result<std::map<std::string, std::string>> RedisClient::info() {
  auto r = call({"INFO"});
  if (!r) return r.status();
  if (r->type != resp::Value::Type::kBulk) {
    return Result<std::map<std::string, std::string>>::Error("redis " + addr_ + ": INFO failed: " + r->str);
  }
  std::map<std::string, std::string> m;
  std::string_view text = r->str;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty() || line.starts_with('#')) continue;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    m[std::string(line.substr(0, colon))] = std::string(line.substr(colon + 1));
  }
  return m;
}

Status RedisClient::set_master(const std::string& master, const std::string& auth) {
  auto check = [&](const Result<resp::Value>& r, const std::string& what) -> Status {
    if (!r) return r.status();
    if (r->type == resp::Value::Type::kError) return Status::Error("redis " + addr_ + ": " + what + ": " + r->str);
    return Status::Ok();
  };
  if (master == "NO:ONE" || master.empty()) return check(call({"SLAVEOF", "NO", "ONE"}), "SLAVEOF NO ONE");
  auto hp = HostPort::parse(master);
  if (!hp) return Status::Error("master: " + hp.message());
  if (auto st = check(call({"CONFIG", "SET", "masterauth", auth}), "CONFIG SET masterauth"); !st.ok()) return st;
  return check(call({"SLAVEOF", hp->host, hp->port_text()}), "SLAVEOF " + master);
}

namespace {

// Set once by main() before any call; read-only afterwards.
std::shared_ptr<const http::ClientTls> proxy_tls;

}  // namespace

void set_proxy_tls(std::shared_ptr<const http::ClientTls> tls) { proxy_tls = std::move(tls); }

Result<nlohmann::json> rpc_call(const std::string& addr, std::string_view method, const std::string& path,
                                const std::string& body, std::chrono::milliseconds timeout,
                                const std::string& bearer) {
  http::ClientOptions options;
  options.timeout = timeout;
  options.bearer = bearer;
  options.tls = proxy_tls;
  options.user_agent = "codis-dashboard";
  auto r = http::request(addr, method, path, body, options);
  if (!r) return r.status();
  auto v = nlohmann::json::parse(r->body, nullptr, false);
  if (r->status == 200) {
    if (v.is_discarded()) return Result<nlohmann::json>::Error("bad JSON in the reply of " + addr);
    return v;
  }
  if ((r->status == 800 || r->status == 1500 || r->status == 401) && v.is_object() && v.contains("Cause") && v["Cause"].is_string()) {
    return Result<nlohmann::json>::Error(v["Cause"].get<std::string>());
  }
  std::string text = r->body.substr(0, 200);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return Result<nlohmann::json>::Error("[" + std::to_string(r->status) + "] " + text,
                                       r->status == 404 ? Code::kNotFound : Code::kError);
}

std::string url_segment(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace codis::dashboard
