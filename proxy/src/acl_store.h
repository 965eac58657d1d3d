// AclStore: the proxy's current set of users (acl::Users), shared by every worker thread and
// the admin API. A reload (ACL LOAD, SIGHUP, PUT /api/proxy/acl/reload) parses the users file
// into a new immutable set and swaps it in; a file with an error changes nothing. Sessions keep
// the name of their user and look it up again when generation() moves (a relaxed load per
// request), so a reload applies to live sessions without dropping them.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "acl.h"
#include "codis/status.h"

namespace codis {
struct ProxyConfig;
}

namespace codis::proxy {

class AclStore {
 public:
  AclStore();
  // Reads config.users_file (when set) with config.session_auth as the default user's password.
  // On error keeps the current users and returns ACL LOAD's report.
  Status load(const ProxyConfig& config);
  std::shared_ptr<const acl::Users> current() const;
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const acl::Users> users_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace codis::proxy
