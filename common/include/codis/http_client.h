// http::request(): the one HTTP client of our daemons and tools, for the
// admin plane's calls: the dashboard's rpc calls to proxies
// (dashboard/src/clients.cpp), a proxy's proxy/create call to the dashboard
// (proxy/src/coordinator_startup.cpp) and codis-admin (dashboard/admin), and
// the etcd coordinator's calls to etcd's gateway (common/src/coordinator_etcd.cpp).
//
// One call is one blocking HTTP/1.1 exchange on its own connection
// (Connection: close) with one deadline over all of it: resolve, connect,
// TLS handshake, write and read. The I/O runs as Asio operations on a private
// io_context, so the deadline holds at every step; callers block on purpose
// (handler threads, a start-up thread, a CLI). Optionally over TLS, verifying
// the server's certificate chain against a CA file and the certificate's
// name or IP against the host we dialled; optionally with a bearer token.
//
// Beast, Asio and OpenSSL stay in http_client.cpp.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "codis/status.h"

namespace codis::http {

// What HTTPS calls trust: the CA certificates of one PEM file. Loaded once
// (load_client_tls) and shared by any number of calls, on any thread.
class ClientTls {
 public:
  ~ClientTls();
  ClientTls(const ClientTls&) = delete;
  ClientTls& operator=(const ClientTls&) = delete;

  const std::string& ca_file() const { return ca_file_; }

 private:
  struct Context;
  friend struct ClientAccess;
  friend Result<std::shared_ptr<const ClientTls>> load_client_tls(const std::string& ca_file,
                                                                  const std::string& cert_file,
                                                                  const std::string& key_file, std::string_view keys);
  ClientTls(std::string ca_file, std::unique_ptr<Context> context);

  std::string ca_file_;
  std::unique_ptr<Context> context_;
};

// Reads `ca_file` (PEM, one or more CA certificates). An unreadable file or
// one without a certificate is an error that names the file and `keys` (the
// settings it came from). With `cert_file` and `key_file` (PEM), calls also
// present that client certificate (etcd with --client-cert-auth).
Result<std::shared_ptr<const ClientTls>> load_client_tls(const std::string& ca_file, const std::string& cert_file = {},
                                                         const std::string& key_file = {},
                                                         std::string_view keys = "admin_tls_ca_file / --tls-ca");

struct ClientOptions {
  // The whole exchange, from resolving the host to the last byte of the reply.
  std::chrono::milliseconds timeout = std::chrono::seconds(10);
  // Sent as "Authorization: Bearer <bearer>" when not empty.
  std::string bearer;
  // Sent as "Authorization: <authorization>", as is, when bearer is empty
  // (etcd's tokens carry no scheme).
  std::string authorization;
  // HTTPS, verified against these CAs, when set; plain HTTP when null.
  std::shared_ptr<const ClientTls> tls;
  std::string user_agent = "codis";
  // A larger reply is an error (a dashboard's stats of a big cluster are a few MB).
  std::size_t max_body_bytes = 256 * 1024 * 1024;
};

struct Response {
  unsigned status = 0;
  std::string body;
};

// One request to `addr` ("host:port", "[v6]:port"; an empty host is
// 127.0.0.1). `target` is the already-encoded path (and query). A body, when
// not empty, is sent as application/json. Any status is a Response; only
// connection, TLS and protocol failures are errors, and their message names
// the address and the step that failed ("connect to 10.0.0.1:11080 timed
// out", "TLS handshake with ...: certificate verify failed").
Result<Response> request(const std::string& addr, std::string_view method, const std::string& target,
                         const std::string& body, const ClientOptions& options);

// A request whose reply body is read as it arrives (etcd's watch stream):
// on_body gets each piece, on the calling thread, until the server ends the
// reply, on_body returns false, `cancel` turns true (looked at every 100 ms)
// or nothing arrives for `idle`. options.timeout bounds everything up to the
// reply's header. The Response has the status and no body; failures (going
// idle included) are errors, as request()'s.
Result<Response> stream(const std::string& addr, std::string_view method, const std::string& target,
                        const std::string& body, const ClientOptions& options, std::chrono::milliseconds idle,
                        const std::function<bool(std::string_view)>& on_body, const std::atomic<bool>& cancel);

}  // namespace codis::http
