#include "redis_tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <mutex>

#include "codis/host_port.h"

namespace codis::dashboard::redis_tls {

namespace {

constexpr std::string_view kTimedOut = "timed out";


std::mutex g_mu;
tls::Context g_ctx;
std::string g_server_name;

int remaining_ms(Conn::Deadline deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// Waits for what OpenSSL asked for after `ret`; false with `err` set on anything else.
bool wait_for(SSL* ssl, int fd, int ret, Conn::Deadline deadline, std::string& err) {
  const int e = SSL_get_error(ssl, ret);
  short events;
  if (e == SSL_ERROR_WANT_READ) {
    events = POLLIN;
  } else if (e == SSL_ERROR_WANT_WRITE) {
    events = POLLOUT;
  } else if (e == SSL_ERROR_ZERO_RETURN) {
    err = "connection closed by the server";
    return false;
  } else if (e == SSL_ERROR_SYSCALL && errno == EINTR) {
    return true;
  } else {
    const int saved = errno;
    err = tls::last_error(e == SSL_ERROR_SYSCALL && saved ? std::strerror(saved) : "connection closed");
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) err += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
    return false;
  }
  pollfd p{fd, events, 0};
  int rc = ::poll(&p, 1, remaining_ms(deadline));
  if (rc <= 0) {
    err = kTimedOut;
    return false;
  }
  return true;
}

Code timeout_code(const std::string& err) { return err == kTimedOut ? Code::kTimeout : Code::kError; }

}  // namespace

Status configure(const Settings& s) {
  tls::Context ctx;
  if (s.enabled) {
    auto r = tls::make_client_context({s.ca_file, s.cert_file, s.key_file});
    if (!r) return Status::Error("backend_tls: " + r.message());
    ctx = *r;
  }
  std::lock_guard lk(g_mu);
  g_ctx = std::move(ctx);
  g_server_name = s.server_name;
  return Status::Ok();
}

bool enabled() {
  std::lock_guard lk(g_mu);
  return g_ctx != nullptr;
}

Result<std::unique_ptr<Conn>> Conn::handshake(int fd, const std::string& addr, Deadline deadline) {
  using R = Result<std::unique_ptr<Conn>>;
  tls::Context ctx;
  std::string name;
  {
    std::lock_guard lk(g_mu);
    ctx = g_ctx;
    name = g_server_name;
  }
  if (!ctx) return R::Error("TLS to " + addr + ": not configured");
  auto hp = HostPort::parse(addr);
  const std::string host = hp ? hp->host_or("127.0.0.1") : addr;
  ERR_clear_error();
  SSL* ssl = tls::new_client_ssl(ctx.get(), host, name);
  if (!ssl || SSL_set_fd(ssl, fd) != 1) {
    if (ssl) SSL_free(ssl);
    return R::Error("TLS to " + addr + ": " + tls::last_error("cannot set up"));
  }
  std::unique_ptr<Conn> c(new Conn(ssl, fd));
  for (;;) {
    ERR_clear_error();
    int ret = SSL_connect(ssl);
    if (ret == 1) return c;
    std::string err;
    if (!wait_for(ssl, fd, ret, deadline, err))
      return R::Error("TLS handshake with " + addr + " failed: " + err, timeout_code(err));
  }
}

Conn::~Conn() {
  ERR_clear_error();
  SSL_shutdown(ssl_);  // one try: the socket is non-blocking
  SSL_free(ssl_);
  ERR_clear_error();
}

Status Conn::write_all(std::string_view data, Deadline deadline, const std::string& what) {
  while (!data.empty()) {
    ERR_clear_error();
    int n = SSL_write(ssl_, data.data(), static_cast<int>(data.size() > INT_MAX ? INT_MAX : data.size()));
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    std::string err;
    if (!wait_for(ssl_, fd_, n, deadline, err)) return Status::Error("write to " + what + " failed: " + err, timeout_code(err));
  }
  return Status::Ok();
}

Result<size_t> Conn::read_some(std::string& out, Deadline deadline, const std::string& what) {
  char buf[16384];
  for (;;) {
    ERR_clear_error();
    int n = SSL_read(ssl_, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      return static_cast<size_t>(n);
    }
    if (SSL_get_error(ssl_, n) == SSL_ERROR_ZERO_RETURN) return size_t{0};
    std::string err;
    if (!wait_for(ssl_, fd_, n, deadline, err)) {
      if (err == "connection closed") return size_t{0};
      return Result<size_t>::Error("read from " + what + " failed: " + err, timeout_code(err));
    }
  }
}

}  // namespace codis::dashboard::redis_tls
