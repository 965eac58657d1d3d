// TLS contexts for the data plane (OpenSSL): the proxy's client-facing TLS
// port (proxy_tls_*), its connections to TLS Redis servers (backend_tls_*),
// and the dashboard's connections to those servers. Building a context reads
// and checks the files at once, so a missing, unreadable or mismatched
// certificate/key is an error value naming the file, at start-up and on a
// certificate reload alike. TLS 1.2 is the oldest version either side speaks.
//
// A context is shared (reference-counted by OpenSSL): every SSL* made from it
// keeps it alive, so a reload swaps in a new context for new connections while
// the existing ones keep theirs.
#pragma once

#include <memory>
#include <string>

#include "codis/status.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace codis::tls {

using Context = std::shared_ptr<SSL_CTX>;

// The server side of a TLS listener. With `ca_file`, clients must present a
// certificate signed by it (mutual TLS); without, no client certificate is asked for.
struct ServerOptions {
  std::string cert_file;  // PEM, the certificate chain (leaf first)
  std::string key_file;   // PEM, unencrypted
  std::string ca_file;    // PEM; empty: no client certificates
};
Result<Context> make_server_context(const ServerOptions& o);

// The client side: the peer's certificate must chain to `ca_file` (empty: the
// system's trust store) and name the host connected to (see verify_peer_name).
// cert_file/key_file: our certificate, for servers that ask for one
// (Redis's tls-auth-clients yes).
struct ClientOptions {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};
Result<Context> make_client_context(const ClientOptions& o);

// Makes a client SSL for a connection to `host` (an address or a DNS name):
// SNI for names, and the certificate must match `server_name` if set, else
// `host` (an IP address must be in the certificate's IP SANs). Null on failure.
SSL* new_client_ssl(SSL_CTX* ctx, const std::string& host, const std::string& server_name);

// OpenSSL's error queue as text (and cleared); `fallback` when it is empty.
std::string last_error(const std::string& fallback = "TLS error");

// A one-line description of the certificate in a PEM file (subject, serial,
// expiry), for logs. Empty on failure.
std::string describe_cert_file(const std::string& path);

}  // namespace codis::tls
