// AdminCommand: codis-admin's command line, parsed and checked, and run
// against a dashboard or a proxy admin API.
//
// parse_admin_args() turns argv into an AdminCommand or an error that says
// which flag is wrong and what the right call looks like; run_admin()
// performs it, writing results to `out` (JSON or Codis's text views) and
// progress to `err` with --verbose. main() only maps the outcome to an exit
// code, so tests can drive both halves directly.
#pragma once

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "codis/status.h"

namespace codis::admin {

struct AdminCommand {
  enum class Target { kNone, kProxy, kDashboard, kCoordinator };
  Target target = Target::kNone;
  std::string addr;    // --proxy / --dashboard
  std::string auth;    // the admin secret (--auth, CODIS_ADMIN_AUTH or a file); "" = none
  std::string auth_from;  // where `auth` came from, for messages ("--auth", a file path, ...)
  std::string product_auth;  // --product-auth: Codis's proxy xauth (default: `auth`)
  std::string product; // --product: skip looking it up from the model
  int timeout_ms = 10000;
  std::string tls_ca;  // --tls-ca: HTTPS, verifying the daemon against this CA file
  bool verbose = false;
  // Target::kCoordinator (--remove-lock, --dashboard-list, --config-dump):
  // "zookeeper", "etcd" or "filesystem", from --zookeeper/--etcd/--filesystem
  // ADDR, with --zookeeper-auth/--etcd-auth USER:PASSWORD.
  std::string coordinator, coordinator_addr, coordinator_auth;

  // The one action ("" = print the overview or `view`), e.g. "create-group".
  std::string action;
  std::string
      view; // config, model, stats, slots, group, proxy, list-group, list-proxy

  // Arguments of the actions.
  std::optional<std::string> log_level, fillslots, server_addr, token,
      datacenter;
  std::optional<int> pid, gid, sid, beg, end, gid_from, gid_to, num_slots,
      interval, disabled;
  bool locked = false, force = false, all = false, confirm = false,
       offline = false;
  std::string slot_action; // create, remove, create-some, create-range,
                           // interval, disabled
};

// Outcome of parsing: a command to run, or text to print and an exit code
// (--help prints usage and exits 0; a bad flag prints why and exits 1).
struct ParseOutcome {
  std::optional<AdminCommand> command;
  std::string message;
  int exit_code = 0;
};

// `env` looks up an environment variable (getenv in main; tests pass their own).
ParseOutcome parse_admin_args(int argc, const char *const *argv,
                              const std::function<const char *(const char *)> &env = nullptr);

// Runs `cmd`; an error message names the daemon, the call and the cause.
Status run_admin(const AdminCommand &cmd, std::ostream &out, std::ostream &err);
// The Target::kCoordinator commands (admin_coordinator.cpp).
Status run_coordinator_command(const AdminCommand &cmd, std::ostream &out, std::ostream &err);

// The long help: usage lines as Codis's codis-admin, then worked examples.
std::string admin_usage();

} // namespace codis::admin
