// What the admin HTTP server and client (http_server.cpp, http_client.cpp)
// say when a TLS file or an OpenSSL call fails. Internal to codis_http.
#pragma once

#include <openssl/err.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace codis::http::detail {

// Why `file` cannot be read ("No such file or directory", ...); "" when it can.
inline std::string unreadable(const std::string& file) {
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (!f) return std::strerror(errno);
  std::fclose(f);
  return "";
}

// Why an OpenSSL call failed: the reason of the first error queued (the
// root cause; later ones say "PEM lib" and the like), or `fallback`. Clears
// the queue.
inline std::string openssl_error(std::string fallback) {
  const unsigned long e = ERR_peek_error();
  ERR_clear_error();
  if (e == 0) return fallback;
  const char* reason = ERR_reason_error_string(e);
  return reason ? reason : fallback;
}

}  // namespace codis::http::detail
