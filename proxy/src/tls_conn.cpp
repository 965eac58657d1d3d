#include "tls_conn.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace codis::proxy {

std::unique_ptr<TlsConn> TlsConn::accept(SSL_CTX* ctx, int fd, std::string& error) {
  SSL* ssl = SSL_new(ctx);
  if (!ssl || SSL_set_fd(ssl, fd) != 1) {
    error = tls::last_error("SSL_new failed");
    if (ssl) SSL_free(ssl);
    return nullptr;
  }
  SSL_set_accept_state(ssl);
  std::unique_ptr<TlsConn> c(new TlsConn(ssl));
  c->watch_reads();
  return c;
}

std::unique_ptr<TlsConn> TlsConn::connect(SSL_CTX* ctx, int fd, const std::string& host,
                                          const std::string& server_name, std::string& error) {
  SSL* ssl = tls::new_client_ssl(ctx, host, server_name);
  if (!ssl || SSL_set_fd(ssl, fd) != 1) {
    error = tls::last_error("cannot set up TLS for " + (server_name.empty() ? host : server_name));
    if (ssl) SSL_free(ssl);
    return nullptr;
  }
  SSL_set_connect_state(ssl);
  std::unique_ptr<TlsConn> c(new TlsConn(ssl));
  c->watch_reads();
  return c;
}

TlsConn::~TlsConn() { SSL_free(ssl_); }

void TlsConn::watch_reads() {
  BIO* rbio = SSL_get_rbio(ssl_);
  BIO_set_callback_arg(rbio, reinterpret_cast<char*>(this));
  BIO_set_callback_ex(rbio, &TlsConn::on_bio);
}

long TlsConn::on_bio(BIO* bio, int oper, const char*, size_t len, int, long, int ret, size_t* processed) {
  if (oper == (BIO_CB_READ | BIO_CB_RETURN)) {
    auto* self = reinterpret_cast<TlsConn*>(BIO_get_callback_arg(bio));
    self->last_read_short_ = ret <= 0 || (processed && *processed < len);
  }
  return ret;
}

bool TlsConn::drained() const { return last_read_short_ && SSL_has_pending(ssl_) == 0; }

TlsConn::Io TlsConn::status(int ret) {
  const int err = SSL_get_error(ssl_, ret);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      return Io::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return Io::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      error_ = "closed by peer";
      return Io::kClosed;
    case SSL_ERROR_SYSCALL: {
      const int e = errno;
      // OpenSSL 3 reports an EOF without close_notify as SSL_ERROR_SSL
      // (unexpected eof); an older path lands here with errno 0.
      error_ = tls::last_error(e ? std::strerror(e) : "connection closed");
      if (e == EINTR) return Io::kWantRead;
      return e ? Io::kError : Io::kClosed;
    }
    default: {
      const unsigned long code = ERR_peek_error();
      error_ = tls::last_error();
      if (!done_) {
        const long verify = SSL_get_verify_result(ssl_);
        if (verify != X509_V_OK) error_ += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
      }
      if (ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) return Io::kClosed;
      return Io::kError;
    }
  }
}

TlsConn::Io TlsConn::handshake() {
  if (done_) return Io::kOk;
  ERR_clear_error();
  const int ret = SSL_do_handshake(ssl_);
  if (ret == 1) {
    done_ = true;
    return Io::kOk;
  }
  Io s = status(ret);
  return s == Io::kClosed ? Io::kError : s;  // an EOF during the handshake is a failed handshake
}

TlsConn::Io TlsConn::read(char* p, size_t cap, size_t& n) {
  n = 0;
  ERR_clear_error();
  const int ret = SSL_read(ssl_, p, static_cast<int>(cap > INT_MAX ? INT_MAX : cap));
  if (ret > 0) {
    n = static_cast<size_t>(ret);
    return Io::kOk;
  }
  return status(ret);
}

TlsConn::Io TlsConn::write_all(const std::string& buf, size_t& sent) {
  sent = 0;
  while (sent < buf.size()) {
    size_t n = 0;
    if (Io io = write(buf.data() + sent, buf.size() - sent, n); io != Io::kOk) return io;
    sent += n;
  }
  return Io::kOk;
}

TlsConn::Io TlsConn::write(const char* p, size_t len, size_t& n) {
  n = 0;
  if (len == 0) return Io::kOk;
  ERR_clear_error();
  const int ret = SSL_write(ssl_, p, static_cast<int>(len > INT_MAX ? INT_MAX : len));
  if (ret > 0) {
    n = static_cast<size_t>(ret);
    return Io::kOk;
  }
  return status(ret);
}

void TlsConn::shutdown() {
  if (!done_) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);  // one attempt: the socket is non-blocking and about to close
  ERR_clear_error();
}

std::string TlsConn::describe() const {
  return std::string(SSL_get_version(ssl_)) + " " + SSL_get_cipher_name(ssl_);
}

}  // namespace codis::proxy
