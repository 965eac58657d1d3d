// The admin secret of our daemons (docs/operations.md, "Security"): where it
// comes from at start-up, and how a caller presents it. The checks on every
// admin API route are in codis_api.h; this header is what main() and the
// clients (dashboard -> proxy, proxy -> dashboard, codis-admin) need.
#pragma once

#include <string>
#include <string_view>

#include "codis/status.h"

namespace codis::auth {

// A new secret: 32 random bytes (OpenSSL's CSPRNG) as 43 base64url chars.
std::string generate_secret();

// The daemon's admin secret: `configured` when it is set; else the first line
// of `file`; else a new secret written to `file` (mode 0600, parent
// directories 0700). `generated` tells the caller to log where it went (never
// the secret itself). A file readable by others is refused.
struct AdminSecret {
  std::string secret;
  std::string source;  // "config", or the file's path
  bool generated = false;
};
Result<AdminSecret> resolve_admin_secret(const std::string& configured, const std::string& file);

// The default admin_auth_file: "admin_auth" beside the config file (the
// working directory when there is none).
std::string default_secret_file(const std::string& config_file);

// The credentials of an "Authorization: Bearer <token>" header value; "" when
// it is not a bearer credential.
std::string_view bearer_token(std::string_view authorization);

// Compares secrets in time independent of where they differ and of their
// lengths (both are hashed first).
bool same_secret(std::string_view a, std::string_view b);

// At a daemon's start: sets `secret` from the config, the file or a newly
// generated one, and logs where it came from (never the secret), plus a
// warning when admin_compat_xauth is on.
Status resolve_at_start(std::string& secret, const std::string& secret_file, bool compat_xauth,
                        const std::string& config_file, std::string_view daemon);

}  // namespace codis::auth

namespace codis {

// resolve_at_start for a ProxyConfig or DashboardConfig: afterwards
// config.admin_auth holds the secret in use.
template <class Config>
Status resolve_admin_auth(Config& config, const std::string& config_file, std::string_view daemon) {
  return auth::resolve_at_start(config.admin_auth, config.admin_auth_file, config.admin_compat_xauth, config_file,
                                daemon);
}

}  // namespace codis
