// Session: users (acl.h). Login (AUTH / HELLO AUTH), the permission check of every request
// before dispatch, and the ACL subcommands the proxy answers itself. The users are the
// worker-shared AclStore's current set; a session keeps its user's name and looks it up again
// when the set changed, so ACL LOAD, SIGHUP and the admin API apply to live sessions.
#include <spdlog/spdlog.h>

#include "acl.h"
#include "acl_store.h"
#include "codis/resp.h"
#include "command_table.h"
#include "session.h"
#include "text_util.h"
#include "worker.h"

namespace codis::proxy {

void Session::acl_start() {
  const AclStore& store = worker_.context().acl;
  acl_generation_ = store.generation();
  auto users = store.current();
  user_ = users->find("default");
  user_name_ = "default";
  acl_logged_in_ = false;
  // As Redis: a connection starts as the default user, logged in when it needs no password.
  authed_ = user_->enabled && user_->nopass;
}

bool Session::acl_refresh() {
  const AclStore& store = worker_.context().acl;
  const uint64_t gen = store.generation();
  if (gen == acl_generation_) return true;
  acl_generation_ = gen;
  auto user = store.current()->find(user_name_);
  if (!user || (acl_logged_in_ && !user->enabled)) {
    // A reload removed or disabled the user this session logged in as: the session ends (Redis
    // 7.0's ACL LOAD even disconnects every client of a non-default user; the proxy keeps the
    // others, with their user's new rules).
    user_.reset();
    return false;
  }
  user_ = std::move(user);
  // As Redis's authRequired(): a connection that never logged in is as authenticated as the
  // default user's current rules make it.
  if (!acl_logged_in_) authed_ = user_->enabled && user_->nopass;
  return true;
}

bool Session::acl_default_nopass() const { return worker_.context().acl.current()->default_user().nopass; }

bool Session::acl_login(std::string_view name, std::string_view password) {
  const AclStore& store = worker_.context().acl;
  auto users = store.current();
  auto user = users->find(name);
  // Every failure is the same WRONGPASS, and the password is hashed and compared even for an
  // unknown user, so neither the reply nor its timing tells which users exist.
  const bool ok = user ? user->password_ok(password) : (users->default_user().password_ok(password), false);
  if (!ok) return false;
  user_ = std::move(user);
  user_name_.assign(name);
  acl_logged_in_ = true;
  acl_generation_ = store.generation();
  return true;
}

bool Session::acl_allows(const RequestPtr& req, const CommandInfo& cmd, std::span<const std::string_view> args) {
  if (!acl_refresh()) {
    error_now(req, "ERR the user of this connection was removed or disabled by a reload of users_file");
    close_after_reply();
    return false;
  }
  std::vector<int>& keys = worker_.acl_keys_scratch;
  keys.clear();
  // Keys are only needed for a user limited to some; `allkeys` users (the default user of a
  // set-up without users_file) skip the second key extraction.
  std::string ignored;  // a malformed request reports its own error after this check, as in Redis
  if (!user_->allkeys && !command_keys(cmd, args, keys, ignored)) keys.clear();
  const acl::Denied denied = acl::check(*user_, cmd, args, keys);
  if (denied == acl::Denied::kNone) return true;
  error_now(req, acl::noperm_error(denied, cmd));
  return false;
}

void Session::local_acl(const RequestPtr& req, std::span<const std::string_view> args) {
  const std::string_view sub = req->cmd->name.substr(req->cmd->name.find('|') + 1);
  const AclStore& store = worker_.context().acl;
  std::string out;
  if (sub == "WHOAMI") {
    resp::append_bulk(out, user_name_);
  } else if (sub == "USERS" || sub == "LIST") {
    auto users = store.current();
    resp::append_array_header(out, users->all().size());
    for (const auto& [name, user] : users->all()) {
      resp::append_bulk(out, sub == "USERS" ? name : "user " + name + " " + user->describe());
    }
  } else if (sub == "LOAD") {
    if (worker_.config().users_file.empty()) {
      // Redis's words when it has no aclfile.
      error_now(req, "ERR This Redis instance is not configured to use an ACL file. You may want to specify users "
                     "via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis "
                     "configuration file set) in order to store users in the Redis configuration.");
      return;
    }
    // Reading a small file on this worker: ACL LOAD is rare and only for users allowed to run it.
    if (Status st = worker_.context().acl.load(worker_.config()); !st.ok()) {
      spdlog::warn("ACL LOAD from {} refused: {}", peer_, st.message());
      error_now(req, "ERR " + st.message());
      return;
    }
    spdlog::info("ACL LOAD by user '{}' from {}", user_name_, peer_);
    acl_refresh();
    out = "+OK\r\n";
  } else if (sub == "CAT") {
    if (args.size() > 3) {
      error_now(req, wrong_arity_error(*req->cmd));
      return;
    }
    std::vector<std::string> names;
    if (args.size() == 2) {
      for (std::string_view n : acl::kCategoryNames) names.emplace_back(n);
    } else {
      const uint32_t bit = acl::category_bit(args[2]);
      if (bit == 0) {
        error_now(req, "ERR Unknown category '" + std::string(args[2].substr(0, 128)) + "'");
        return;
      }
      names = acl::category_commands(bit);
    }
    resp::append_array_header(out, names.size());
    for (const std::string& n : names) resp::append_bulk(out, n);
  } else {
    error_now(req, refusal_error(*req->cmd));
    return;
  }
  reply_now(req, out, false);
}

}  // namespace codis::proxy
