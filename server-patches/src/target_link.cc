#include "target_link.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace codis::slots {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kIdleClose = std::chrono::seconds(30);

struct Conn {
  int fd = -1;
  int db = -1;
  bool authed = false;
  Clock::time_point last_use;
  std::string inbuf;
};

std::string bulk(std::string_view s) {
  std::string out = "$" + std::to_string(s.size()) + "\r\n";
  out.append(s);
  out += "\r\n";
  return out;
}

// Waits until fd is ready for `events`, at most timeout_ms. False on timeout.
bool wait_fd(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  for (;;) {
    int rc = ::poll(&p, 1, timeout_ms);
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return false;
  }
}

int connect_to(const std::string& host, int port, int timeout_ms, std::string* err) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port_s = std::to_string(port);
  int rc = ::getaddrinfo(host.c_str(), port_s.c_str(), &hints, &res);
  if (rc != 0) {
    *err = "can't resolve target " + host + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, timeout_ms)) {
      int soerr = 0;
      socklen_t len = sizeof(soerr);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
      if (soerr == 0) break;
      errno = soerr;
    } else if (errno == EINPROGRESS) {
      errno = ETIMEDOUT;
    }
    *err = "can't connect to target " + host + ":" + port_s + ": " + std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  if (fd >= 0) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  } else if (err->empty()) {
    *err = "can't connect to target " + host + ":" + port_s;
  }
  return fd;
}

bool send_all(int fd, const std::string& data, int timeout_ms, std::string* err) {
  size_t pos = 0;
  while (pos < data.size()) {
    ssize_t n = ::send(fd, data.data() + pos, data.size() - pos, MSG_NOSIGNAL);
    if (n > 0) {
      pos += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_fd(fd, POLLOUT, timeout_ms)) {
        *err = "IOERR timeout writing to target";
        return false;
      }
      continue;
    }
    *err = std::string("IOERR error writing to target: ") + std::strerror(errno);
    return false;
  }
  return true;
}

// Reads more bytes into c.inbuf. False (with *err) on timeout, EOF or error.
bool fill(Conn& c, int timeout_ms, std::string* err) {
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(c.fd, buf, sizeof(buf), 0);
    if (n > 0) {
      c.inbuf.append(buf, static_cast<size_t>(n));
      return true;
    }
    if (n == 0) {
      *err = "IOERR target closed the connection";
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait_fd(c.fd, POLLIN, timeout_ms)) {
        *err = "IOERR timeout reading from target";
        return false;
      }
      continue;
    }
    *err = std::string("IOERR error reading from target: ") + std::strerror(errno);
    return false;
  }
}

bool read_line(Conn& c, size_t from, int timeout_ms, size_t* eol, std::string* err) {
  for (;;) {
    size_t p = c.inbuf.find("\r\n", from);
    if (p != std::string::npos) {
      *eol = p;
      return true;
    }
    if (c.inbuf.size() > (1u << 20)) {
      *err = "target replied garbage (line too long)";
      return false;
    }
    if (!fill(c, timeout_ms, err)) return false;
  }
}

// Consumes one whole RESP reply from position *pos; the first reply's kind
// and first line go to *kind / *line when they are non-null.
bool read_reply(Conn& c, size_t* pos, int timeout_ms, char* kind, std::string* line, std::string* err, int depth = 0) {
  if (depth > 8) {
    *err = "target replied garbage (nesting)";
    return false;
  }
  size_t eol = 0;
  if (!read_line(c, *pos, timeout_ms, &eol, err)) return false;
  char k = c.inbuf[*pos];
  std::string text = c.inbuf.substr(*pos + 1, eol - *pos - 1);
  *pos = eol + 2;
  if (kind != nullptr) *kind = k;
  if (line != nullptr) *line = text;
  switch (k) {
    case '+':
    case '-':
    case ':':
      return true;
    case '$': {
      long n = std::strtol(text.c_str(), nullptr, 10);
      if (n < 0) return true;
      while (c.inbuf.size() < *pos + static_cast<size_t>(n) + 2) {
        if (!fill(c, timeout_ms, err)) return false;
      }
      *pos += static_cast<size_t>(n) + 2;
      return true;
    }
    case '*': {
      long n = std::strtol(text.c_str(), nullptr, 10);
      for (long i = 0; i < n && i < 1024; ++i) {
        if (!read_reply(c, pos, timeout_ms, nullptr, nullptr, err, depth + 1)) return false;
      }
      return true;
    }
    default:
      *err = "target replied garbage: '" + text.substr(0, 64) + "'";
      return false;
  }
}

class Worker {
 public:
  bool start() {
    std::lock_guard<std::mutex> g(mu_);
    if (started_) return true;
    thread_ = std::thread([this] { run(); });
    thread_.detach();  // lives as long as the server process
    started_ = true;
    return true;
  }

  void submit(MigrationRequest* req) {
    {
      std::lock_guard<std::mutex> g(mu_);
      queue_.push_back(req);
    }
    cv_.notify_one();
  }

 private:
  void run() {
    for (;;) {
      MigrationRequest* req = nullptr;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait_for(l, std::chrono::seconds(5), [this] { return !queue_.empty(); });
        if (!queue_.empty()) {
          req = queue_.front();
          queue_.pop_front();
        }
      }
      close_idle();
      if (req == nullptr) continue;
      execute(req);
      req->done(req);
    }
  }

  void close_idle() {
    auto now = Clock::now();
    for (auto it = conns_.begin(); it != conns_.end();) {
      if (now - it->second.last_use > kIdleClose) {
        ::close(it->second.fd);
        it = conns_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void execute(MigrationRequest* req) {
    std::string name = req->host + ":" + std::to_string(req->port);
    // A cached connection the target closed while idle fails on first use;
    // SLOTSRESTORE replaces, so sending again on a new connection is safe.
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool reused = conns_.count(name) != 0;
      req->error.clear();
      req->ok = exchange(name, req);
      if (req->ok) return;
      auto it = conns_.find(name);
      if (it != conns_.end()) {
        ::close(it->second.fd);
        conns_.erase(it);
      }
      if (!reused || req->error.rfind("IOERR", 0) != 0) return;
    }
  }

  bool exchange(const std::string& name, MigrationRequest* req) {
    auto it = conns_.find(name);
    if (it == conns_.end()) {
      Conn c;
      c.fd = connect_to(req->host, req->port, req->timeout_ms, &req->error);
      if (c.fd < 0) return false;
      it = conns_.emplace(name, std::move(c)).first;
    }
    Conn& c = it->second;
    c.last_use = Clock::now();
    c.inbuf.clear();
    std::string out;
    bool auth = !c.authed && !req->password.empty();
    bool select = c.db != req->db;
    if (auth) out += "*2\r\n" + bulk("AUTH") + bulk(req->password);
    if (select) out += "*2\r\n" + bulk("SELECT") + bulk(std::to_string(req->db));
    out += req->body;
    if (!send_all(c.fd, out, req->timeout_ms, &req->error)) return false;
    size_t pos = 0;
    char kind = 0;
    std::string line;
    if (auth) {
      if (!read_reply(c, &pos, req->timeout_ms, &kind, &line, &req->error)) return false;
      if (kind != '+') {
        req->error = "target refused AUTH: " + line;
        return false;
      }
      c.authed = true;
    }
    if (select) {
      if (!read_reply(c, &pos, req->timeout_ms, &kind, &line, &req->error)) return false;
      if (kind != '+') {
        req->error = "target refused SELECT " + std::to_string(req->db) + ": " + line;
        return false;
      }
      c.db = req->db;
    }
    if (!read_reply(c, &pos, req->timeout_ms, &kind, &line, &req->error)) return false;
    if (kind != '+') {
      req->error = "target refused SLOTSRESTORE: " + line;
      return false;
    }
    c.last_use = Clock::now();
    return true;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<MigrationRequest*> queue_;
  std::thread thread_;
  bool started_ = false;
  std::map<std::string, Conn> conns_;  // worker thread only
};

Worker& worker() {
  static Worker* w = new Worker();  // never destroyed: the thread outlives static destructors
  return *w;
}

}  // namespace

bool target_link_start() { return worker().start(); }
void target_link_submit(MigrationRequest* req) { worker().submit(req); }

}  // namespace codis::slots
