// TlsConn: the OpenSSL half of one TLS connection of the proxy (a client on
// proxy_tls_addr, or a backend with backend_tls). It runs over the
// connection's own non-blocking fd; the owner (Session, BackendConn) keeps
// doing its readiness waits with Asio's async_wait, and maps the results
// here: kWantRead -> wait_read, kWantWrite -> wait_write, then call again.
// A plain connection has no TlsConn, so its path is one null check.
//
// Reading must go on until kWantRead or drained(): unlike recv, a short
// SSL_read says nothing about the socket (more records may be there, or
// decrypted bytes buffered inside OpenSSL), and readiness is only waited for
// once the socket is drained.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "codis/tls.h"

typedef struct bio_st BIO;

namespace codis::proxy {

class TlsConn {
 public:
  enum class Io { kOk, kWantRead, kWantWrite, kClosed, kError };

  // Server side (a client connection), over `fd`. Null (and `error` set) on failure.
  static std::unique_ptr<TlsConn> accept(SSL_CTX* ctx, int fd, std::string& error);
  // Client side (a backend connection); see tls::new_client_ssl for the name check.
  static std::unique_ptr<TlsConn> connect(SSL_CTX* ctx, int fd, const std::string& host,
                                          const std::string& server_name, std::string& error);
  ~TlsConn();
  TlsConn(const TlsConn&) = delete;
  TlsConn& operator=(const TlsConn&) = delete;

  // Drives the handshake: kOk once done.
  Io handshake();
  bool handshake_done() const { return done_; }
  // kOk with n > 0 bytes read, or a status with n == 0. kClosed: the peer
  // closed (close_notify or EOF).
  Io read(char* p, size_t cap, size_t& n);
  // After a kOk read: the socket was drained by OpenSSL's last recv (it got
  // less than it asked for) and nothing is left buffered inside OpenSSL, so the
  // owner may wait for readiness without the read that would say kWantRead,
  // as a plain connection does after a short recv.
  bool drained() const;
  // kOk with n > 0 bytes taken (possibly fewer than len), or a status with n == 0.
  // After kWantRead/kWantWrite, call again with the same bytes (from any buffer).
  Io write(const char* p, size_t len, size_t& n);
  // write() until all of `buf` is taken or OpenSSL wants to wait; `sent` is
  // how many bytes it took (the caller keeps the rest for the retry).
  Io write_all(const std::string& buf, size_t& sent);
  // Sends close_notify if the socket takes it now; never waits.
  void shutdown();
  // Why the last call returned kError (or kClosed), for logs.
  const std::string& error() const { return error_; }
  // "TLSv1.3 TLS_AES_256_GCM_SHA384", for logs.
  std::string describe() const;

 private:
  explicit TlsConn(SSL* ssl) : ssl_(ssl) {}
  Io status(int ret);
  void watch_reads();  // installs the BIO callback behind drained()
  static long on_bio(BIO* bio, int oper, const char* argp, size_t len, int argi, long argl, int ret,
                     size_t* processed);

  SSL* ssl_;
  bool done_ = false;
  bool last_read_short_ = false;
  std::string error_;
};

}  // namespace codis::proxy
