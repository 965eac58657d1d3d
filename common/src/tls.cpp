#include "codis/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace codis::tls {
namespace {

Context wrap(SSL_CTX* ctx) {
  return Context(ctx, [](SSL_CTX* c) { SSL_CTX_free(c); });
}

// A clear error for a file we cannot even open, before OpenSSL's terser one.
Status readable(const char* what, const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Status::Error(std::string(what) + " " + path + ": " + std::strerror(errno));
  std::fclose(f);
  return Status::Ok();
}

void common_setup(SSL_CTX* ctx) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Renegotiation (TLS 1.2) would let a peer make us read during a write and costs CPU for nothing.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // Partial writes, and a retried write from a different buffer (a connection
  // moves unsent bytes to its own buffer). Buffers are kept while idle: freeing
  // and allocating them around every read would cost more than their memory.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Read what the socket holds in one recv, not a record header and then its body.
  SSL_CTX_set_read_ahead(ctx, 1);
}

Status load_pair(SSL_CTX* ctx, const std::string& cert, const std::string& key) {
  if (auto st = readable("certificate file", cert); !st.ok()) return st;
  if (auto st = readable("key file", key); !st.ok()) return st;
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1)
    return Status::Error("certificate file " + cert + ": " + last_error("not a PEM certificate"));
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
      return Status::Error("key file " + key + " does not match certificate " + cert + ": " + last_error());
    return Status::Error("key file " + key + ": " + last_error("not a PEM private key"));
  }
  if (SSL_CTX_check_private_key(ctx) != 1)
    return Status::Error("key file " + key + " does not match certificate " + cert + ": " + last_error());
  return Status::Ok();
}

Status load_ca(SSL_CTX* ctx, const std::string& ca) {
  if (auto st = readable("CA file", ca); !st.ok()) return st;
  ERR_clear_error();
  if (SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) != 1)
    return Status::Error("CA file " + ca + ": " + last_error("no PEM certificates"));
  return Status::Ok();
}

}  // namespace

std::string last_error(const std::string& fallback) {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? fallback : out;
}

Result<Context> make_server_context(const ServerOptions& o) {
  using R = Result<Context>;
  if (o.cert_file.empty() || o.key_file.empty()) return R::Error("a TLS listener needs a certificate and a key file");
  Context ctx = wrap(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return R::Error("SSL_CTX_new: " + last_error());
  common_setup(ctx.get());
  if (auto st = load_pair(ctx.get(), o.cert_file, o.key_file); !st.ok()) return R::Error(st.message());
  if (!o.ca_file.empty()) {
    if (auto st = load_ca(ctx.get(), o.ca_file); !st.ok()) return R::Error(st.message());
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.ca_file.c_str());
    if (names) SSL_CTX_set_client_CA_list(ctx.get(), names);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  // No session cache: clients of a Redis proxy hold long connections; tickets still resume.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  ERR_clear_error();
  return ctx;
}

Result<Context> make_client_context(const ClientOptions& o) {
  using R = Result<Context>;
  Context ctx = wrap(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return R::Error("SSL_CTX_new: " + last_error());
  common_setup(ctx.get());
  if (o.cert_file.empty() != o.key_file.empty())
    return R::Error("a client certificate needs both a certificate and a key file");
  if (!o.cert_file.empty()) {
    if (auto st = load_pair(ctx.get(), o.cert_file, o.key_file); !st.ok()) return R::Error(st.message());
  }
  if (!o.ca_file.empty()) {
    if (auto st = load_ca(ctx.get(), o.ca_file); !st.ok()) return R::Error(st.message());
  } else if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
    return R::Error("cannot load the system's trusted certificates: " + last_error());
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  ERR_clear_error();
  return ctx;
}

SSL* new_client_ssl(SSL_CTX* ctx, const std::string& host, const std::string& server_name) {
  SSL* ssl = SSL_new(ctx);
  if (!ssl) return nullptr;
  const std::string& name = server_name.empty() ? host : server_name;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  bool ok;
  unsigned char ipbuf[16];
  const bool is_ip = inet_pton(AF_INET, name.c_str(), ipbuf) == 1 || inet_pton(AF_INET6, name.c_str(), ipbuf) == 1;
  if (is_ip) {
    ok = X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) == 1;
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    ok = X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size()) == 1 &&
         SSL_set_tlsext_host_name(ssl, name.c_str()) == 1;
  }
  if (!ok) {
    SSL_free(ssl);
    return nullptr;
  }
  return ssl;
}

std::string describe_cert_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return {};
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  ERR_clear_error();
  if (!cert) return {};
  std::string out;
  char buf[512];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
  out = std::string("subject ") + buf;
  if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr)) {
    if (char* hex = BN_bn2hex(bn)) {
      out += ", serial " + std::string(hex);
      OPENSSL_free(hex);
    }
    BN_free(bn);
  }
  if (BIO* bio = BIO_new(BIO_s_mem())) {
    if (ASN1_TIME_print(bio, X509_get0_notAfter(cert)) == 1) {
      char* data = nullptr;
      long n = BIO_get_mem_data(bio, &data);
      out += ", expires " + std::string(data, static_cast<size_t>(n));
    }
    BIO_free(bio);
  }
  X509_free(cert);
  return out;
}

}  // namespace codis::tls
