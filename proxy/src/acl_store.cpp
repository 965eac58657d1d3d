#include "acl_store.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

#include "codis/config.h"

namespace codis::proxy {

AclStore::AclStore() : users_(acl::Users::only_default("on nopass ~* &* +@all")) {}

Status AclStore::load(const ProxyConfig& config) {
  const std::string default_rules = acl::Users::default_rules_for_password(config.session_auth);
  std::shared_ptr<const acl::Users> next;
  if (config.users_file.empty()) {
    next = acl::Users::only_default(default_rules);
  } else {
    std::ifstream in(config.users_file, std::ios::binary);
    if (!in) return Status::Error("Error loading ACLs, opening file '" + config.users_file + "': cannot read it");
    std::ostringstream text;
    text << in.rdbuf();
    std::string error;
    next = acl::Users::parse(text.str(), config.users_file, default_rules, error);
    if (!next) return Status::Error(error);
  }
  const size_t count = next->all().size();
  {
    std::lock_guard<std::mutex> lock(mu_);
    users_ = std::move(next);
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
  if (!config.users_file.empty()) spdlog::info("users: {} loaded from {}", count, config.users_file);
  return Status::Ok();
}

std::shared_ptr<const acl::Users> AclStore::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return users_;
}

}  // namespace codis::proxy
