#include "admin_command.h"

#include <CLI/CLI.hpp>
#include <charconv>
#include <fstream>
#include <map>
#include <ostream>
#include <set>
#include <sstream>

#include "admin_views.h"
#include "api_client.h"
#include "codis/sha256.h"

namespace codis::admin {

namespace {

constexpr int kMaxSlotNum = 1024;

// ---------------------------------------------------------------- parsing

// Flags that pick an action; at most one per call.
const char *const kDashboardActions[] = {
    "shutdown",     "reload",       "log-level",      "slots-assign",
    "slots-status", "create-proxy", "online-proxy",   "remove-proxy",
    "reinit-proxy", "proxy-status", "create-group",   "remove-group",
    "resync-group", "group-add",    "group-del",      "group-status",
    "slot-action",  "rebalance",    "promote-server",
};
const char *const kProxyActions[] = {"start",     "shutdown",    "log-level",
                                     "fillslots", "reset-stats", "forcegc"};

// Actions on the coordinator itself (--zookeeper, --etcd or --filesystem).
const char *const kCoordinatorActions[] = {"remove-lock", "dashboard-list", "config-dump"};

// Views: --overview, --config, ... or Codis's bare words (config, model, ...).
const char *const kViews[] = {"overview", "config", "model",      "stats",
                              "slots",    "group",  "list-group", "list-proxy"};

// Flags that take a value, by name (without "--").
const char *const kValueOptions[] = {
    "log-level", "fillslots", "addr",     "token",    "pid",
    "gid",       "sid",       "beg",      "end",      "gid-from",
    "gid-to",    "num-slots", "interval", "disabled", "datacenter"};

// Flags that are plain switches and not actions or views.
const char *const kSwitches[] = {"locked",  "force",       "all",
                                 "confirm", "offline",     "create",
                                 "remove",  "create-some", "create-range"};

bool contains(const auto &list, std::string_view name) {
  for (std::string_view x : list) {
    if (x == name)
      return true;
  }
  return false;
}

Result<int> to_int(std::string_view flag, const std::string &text) {
  int v = 0;
  std::string_view digits = text;
  if (digits.starts_with('+'))
    digits.remove_prefix(1);
  auto [end, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (digits.empty() || ec != std::errc() ||
      end != digits.data() + digits.size()) {
    return Result<int>::Error("--" + std::string(flag) +
                              " expects an integer, got \"" + text + "\"");
  }
  return v;
}

// With --dashboard, a bare "--proxy" (no value) is Codis's "proxy" view word:
// rewrite it so the parser does not take the next flag as an address.
std::vector<std::string> normalize_args(int argc, const char *const *argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  bool dashboard = false;
  for (const auto &a : args)
    dashboard |= a == "--dashboard" || a.starts_with("--dashboard=");
  if (!dashboard)
    return args;
  for (size_t i = 0; i < args.size(); ++i) {
    const bool last = i + 1 == args.size();
    if (args[i] == "--proxy" && (last || args[i + 1].starts_with("-")))
      args[i] = "proxy";
  }
  return args;
}

std::string usage_hint() {
  return "(run 'codis-admin --help' for usage and examples)";
}

ParseOutcome fail(std::string message) {
  return ParseOutcome{std::nullopt, std::move(message), 1};
}

// What each action needs beyond the target address.
Status check_arguments(AdminCommand &c, const std::set<std::string> &given) {
  auto need = [&](std::string_view flag) -> Status {
    if (given.count(std::string(flag)))
      return Status::Ok();
    return Status::Error("--" + c.action + " needs --" + std::string(flag));
  };
  auto need_one_of =
      [&](std::initializer_list<std::string_view> flags) -> Status {
    int n = 0;
    std::string names;
    for (auto f : flags) {
      n += given.count(std::string(f)) ? 1 : 0;
      names += (names.empty() ? "--" : " | --") + std::string(f);
    }
    if (n == 1)
      return Status::Ok();
    return Status::Error("--" + c.action + " needs exactly one of (" + names +
                         ")");
  };
  auto slot_in_range = [](std::string_view flag, int v) -> Status {
    if (v >= 0 && v < kMaxSlotNum)
      return Status::Ok();
    return Status::Error("--" + std::string(flag) + "=" + std::to_string(v) +
                         " is not a slot: slots are 0.." +
                         std::to_string(kMaxSlotNum - 1));
  };
  const std::string &a = c.action;
  if (a == "create-proxy" || a == "online-proxy")
    return need("addr");
  if (a == "remove-proxy")
    return need_one_of({"addr", "token", "pid"});
  if (a == "reinit-proxy")
    return need_one_of({"addr", "token", "pid", "all"});
  if (a == "create-group" || a == "remove-group")
    return need("gid");
  if (a == "resync-group")
    return need_one_of({"gid", "all"});
  if (a == "group-add" || a == "group-del" || a == "promote-server") {
    if (auto st = need("gid"); !st.ok())
      return st;
    return need("addr");
  }
  if (a == "fillslots" && c.fillslots->empty())
    return Status::Error("--fillslots needs a file name");
  if (a == "slots-assign") {
    if (auto st = need("beg"); !st.ok())
      return st;
    if (auto st = need("end"); !st.ok())
      return st;
    if (auto st = need_one_of({"gid", "offline"}); !st.ok())
      return st;
    if (auto st = slot_in_range("beg", *c.beg); !st.ok())
      return st;
    if (auto st = slot_in_range("end", *c.end); !st.ok())
      return st;
    if (*c.beg > *c.end) {
      return Status::Error("--beg=" + std::to_string(*c.beg) +
                           " is after --end=" + std::to_string(*c.end));
    }
    return Status::Ok();
  }
  if (a == "slot-action") {
    std::vector<std::string> kinds;
    for (std::string_view k : {"create", "remove", "create-some",
                               "create-range", "interval", "disabled"}) {
      if (given.count(std::string(k)))
        kinds.emplace_back(k);
    }
    if (kinds.size() != 1) {
      return Status::Error(
          "--slot-action needs exactly one of --create, --remove, "
          "--create-some, --create-range, --interval=N, "
          "--disabled=0|1");
    }
    c.slot_action = kinds[0];
    const std::string &k = c.slot_action;
    auto need_all =
        [&](std::initializer_list<std::string_view> flags) -> Status {
      for (auto f : flags) {
        if (!given.count(std::string(f))) {
          return Status::Error("--slot-action --" + k + " needs --" +
                               std::string(f));
        }
      }
      return Status::Ok();
    };
    if (k == "create") {
      if (auto st = need_all({"sid", "gid"}); !st.ok())
        return st;
      return slot_in_range("sid", *c.sid);
    }
    if (k == "remove") {
      if (auto st = need_all({"sid"}); !st.ok())
        return st;
      return slot_in_range("sid", *c.sid);
    }
    if (k == "create-some")
      return need_all({"gid-from", "gid-to", "num-slots"});
    if (k == "create-range") {
      if (auto st = need_all({"beg", "end", "gid"}); !st.ok())
        return st;
      if (auto st = slot_in_range("beg", *c.beg); !st.ok())
        return st;
      return slot_in_range("end", *c.end);
    }
    return Status::Ok();
  }
  return Status::Ok();
}

} // namespace

namespace {

// The quickstart keeps its admin secret here (deploy/quickstart.sh).
std::string quickstart_secret_file(const std::function<const char *(const char *)> &env) {
  const char *dir = env ? env("CODIS_QUICKSTART_DIR") : nullptr;
  return std::string(dir && *dir ? dir : "/tmp/codis-quickstart") + "/admin_auth";
}

// The first line of `path`, or an error naming it.
Result<std::string> read_secret_file(const std::string &path) {
  std::ifstream in(path);
  if (!in)
    return Result<std::string>::Error("cannot read the admin secret file " + path);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
    line.pop_back();
  if (line.empty())
    return Result<std::string>::Error("the admin secret file " + path + " is empty");
  return line;
}

} // namespace

ParseOutcome parse_admin_args(int argc, const char *const *argv,
                              const std::function<const char *(const char *)> &env) {
  const auto args = normalize_args(argc, argv);

  CLI::App app{"codis-admin: the command line of a Codis cluster's dashboard "
               "and proxies",
               "codis-admin"};
  app.set_help_flag(); // our own --help, with examples
  app.allow_windows_style_options(false);

  bool help = false, verbose = false, proxy_view = false;
  std::string proxy_addr, dashboard_addr, auth, auth_file, product_auth, product, tls_ca;
  std::string zookeeper, etcd, filesystem, zookeeper_auth, etcd_auth;
  int timeout_s = 10;
  std::vector<std::string> words;
  std::map<std::string, std::string> values;
  std::map<std::string, bool> switches;

  app.add_flag("-h,--help", help);
  app.add_flag("-v,--verbose", verbose);
  app.add_option("--proxy", proxy_addr);
  app.add_option("--dashboard", dashboard_addr);
  app.add_option("-a,--auth", auth);
  app.add_option("--auth-file", auth_file);
  app.add_option("--product-auth", product_auth);
  app.add_option("--product", product);
  app.add_option("--timeout", timeout_s)->check(CLI::Range(1, 3600));
  app.add_option("--tls-ca", tls_ca);
  app.add_option("--zookeeper", zookeeper);
  app.add_option("--zookeeper-auth", zookeeper_auth);
  app.add_option("--etcd", etcd);
  app.add_option("--etcd-auth", etcd_auth);
  app.add_option("--filesystem", filesystem);
  app.add_option("words", words);
  for (std::string_view n : kValueOptions) {
    std::string name(n);
    std::string flags = "--" + name;
    if (name == "addr")
      flags = "-x,--addr";
    if (name == "token")
      flags = "-t,--token";
    if (name == "gid")
      flags = "-g,--gid";
    app.add_option(flags, values[name]);
  }
  for (auto list :
       {std::vector<std::string_view>(std::begin(kDashboardActions),
                                      std::end(kDashboardActions)),
        std::vector<std::string_view>(std::begin(kProxyActions),
                                      std::end(kProxyActions)),
        std::vector<std::string_view>(std::begin(kViews), std::end(kViews)),
        std::vector<std::string_view>(std::begin(kCoordinatorActions),
                                      std::end(kCoordinatorActions)),
        std::vector<std::string_view>(std::begin(kSwitches),
                                      std::end(kSwitches))}) {
    for (auto n : list) {
      std::string name(n);
      if (contains(kValueOptions, name) || switches.count(name))
        continue;
      app.add_flag("--" + name, switches[name]);
    }
  }
  (void)proxy_view;

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError &e) {
    std::string what = e.what();
    return fail("bad arguments: " + what + " " + usage_hint());
  }
  if (help)
    return ParseOutcome{std::nullopt, admin_usage(), 0};

  std::set<std::string> given;
  for (const auto &[name, v] : values) {
    if (app.count("--" + name))
      given.insert(name);
  }
  for (const auto &[name, on] : switches) {
    if (on)
      given.insert(name);
  }

  AdminCommand c;
  c.verbose = verbose;
  // The admin secret: --auth, --auth-file, $CODIS_ADMIN_AUTH,
  // $CODIS_ADMIN_AUTH_FILE, then the quickstart's file when it is readable.
  const char *env_auth = env ? env("CODIS_ADMIN_AUTH") : nullptr;
  const char *env_file = env ? env("CODIS_ADMIN_AUTH_FILE") : nullptr;
  if (!auth.empty()) {
    c.auth = auth, c.auth_from = "--auth";
  } else if (!auth_file.empty() || (env_file && *env_file)) {
    const std::string path = !auth_file.empty() ? auth_file : std::string(env_file);
    auto secret = read_secret_file(path);
    if (!secret)
      return fail(secret.message());
    c.auth = *secret, c.auth_from = path;
  } else if (env_auth && *env_auth) {
    c.auth = env_auth, c.auth_from = "CODIS_ADMIN_AUTH";
  } else if (auto qs = read_secret_file(quickstart_secret_file(env)); qs) {
    c.auth = *qs, c.auth_from = quickstart_secret_file(env);
  }
  c.product_auth = app.count("--product-auth") ? product_auth : c.auth;
  c.product = product;
  c.timeout_ms = timeout_s * 1000;
  c.tls_ca = tls_ca;
  if (app.count("--tls-ca") && tls_ca.empty())
    return fail("--tls-ca needs a file: the CA that signed the daemon's "
                "admin_tls_cert_file " + usage_hint());
  const bool to_proxy = app.count("--proxy") > 0,
             to_dashboard = app.count("--dashboard") > 0;
  const int stores = (app.count("--zookeeper") > 0) + (app.count("--etcd") > 0) + (app.count("--filesystem") > 0);
  std::vector<std::string> coordinator_actions;
  for (std::string_view a : kCoordinatorActions) {
    if (given.count(std::string(a)))
      coordinator_actions.emplace_back(a);
  }
  if (stores > 0 || !coordinator_actions.empty()) {
    // On the coordinator itself, as Codis 3.2's codis-admin.
    if (to_proxy || to_dashboard)
      return fail("--zookeeper, --etcd and --filesystem go without --proxy and --dashboard " + usage_hint());
    if (stores != 1)
      return fail(std::string(stores ? "give one of --zookeeper, --etcd and --filesystem, not several"
                                     : "--" + coordinator_actions[0] + " needs --zookeeper, --etcd or --filesystem") +
                  " " + usage_hint());
    if (coordinator_actions.size() != 1 || given.size() != 1 || !words.empty())
      return fail("with --zookeeper, --etcd or --filesystem give one of --remove-lock, --dashboard-list and "
                  "--config-dump, and nothing else " + usage_hint());
    c.target = AdminCommand::Target::kCoordinator;
    c.action = coordinator_actions[0];
    if (app.count("--zookeeper")) {
      c.coordinator = "zookeeper", c.coordinator_addr = zookeeper, c.coordinator_auth = zookeeper_auth;
    } else if (app.count("--etcd")) {
      c.coordinator = "etcd", c.coordinator_addr = etcd, c.coordinator_auth = etcd_auth;
    } else {
      c.coordinator = "filesystem", c.coordinator_addr = filesystem;
    }
    if (c.coordinator_addr.empty())
      return fail("--" + c.coordinator + " needs an address");
    if (c.action != "dashboard-list" && c.product.empty())
      return fail("--" + c.action + " needs --product=NAME " + usage_hint());
    return ParseOutcome{std::move(c), "", 0};
  }
  if (to_proxy == to_dashboard) {
    return fail(
        std::string(
            to_proxy ? "give one of --proxy=ADDR and --dashboard=ADDR, not both"
                     : "missing --dashboard=ADDR or --proxy=ADDR: which daemon "
                       "to talk to?") +
        " " + usage_hint());
  }
  c.target = to_proxy ? AdminCommand::Target::kProxy
                      : AdminCommand::Target::kDashboard;
  c.addr = to_proxy ? proxy_addr : dashboard_addr;
  if (c.addr.empty())
    return fail(std::string(to_proxy ? "--proxy" : "--dashboard") +
                " needs an address (host:port)");

  // Views: flags and Codis's bare words.
  std::vector<std::string> views;
  for (std::string_view v : kViews) {
    if (given.count(std::string(v)))
      views.emplace_back(v);
  }
  for (const auto &w : words) {
    const bool known = w == "config" || w == "model" || w == "stats" ||
                       w == "slots" || w == "overview" ||
                       (to_dashboard && (w == "group" || w == "proxy"));
    if (!known) {
      return fail("unknown argument \"" + w +
                  "\" (views are config, model, stats, slots" +
                  std::string(to_dashboard ? ", group, proxy" : "") + ") " +
                  usage_hint());
    }
    views.push_back(w);
  }
  if (to_proxy) {
    for (const auto &v : views) {
      if (v == "group" || v == "list-group" || v == "list-proxy") {
        return fail("--" + v +
                    " is a dashboard view: use it with --dashboard=ADDR");
      }
    }
  }

  std::vector<std::string> actions;
  for (std::string_view a : kDashboardActions) {
    if (given.count(std::string(a)))
      actions.emplace_back(a);
  }
  for (std::string_view a : kProxyActions) {
    if (given.count(std::string(a)) && !contains(kDashboardActions, a))
      actions.emplace_back(a);
  }
  if (actions.size() > 1) {
    return fail("one action per call: got --" + actions[0] + " and --" +
                actions[1] + " " + usage_hint());
  }
  if (!actions.empty() && !views.empty()) {
    return fail("--" + actions[0] + " is an action and \"" + views[0] +
                "\" a view: give one of them " + usage_hint());
  }
  if (views.size() > 1)
    return fail("one view per call: got " + views[0] + " and " + views[1]);
  if (!views.empty())
    c.view = views[0];
  if (!actions.empty()) {
    c.action = actions[0];
    const bool for_dashboard = contains(kDashboardActions, c.action);
    const bool for_proxy = contains(kProxyActions, c.action);
    if (to_proxy && !for_proxy) {
      return fail("--" + c.action +
                  " is a dashboard command: use it with --dashboard=ADDR " +
                  usage_hint());
    }
    if (to_dashboard && !for_dashboard) {
      return fail("--" + c.action +
                  " is a proxy command: use it with --proxy=ADDR " +
                  usage_hint());
    }
  }

  // Typed values.
  auto text = [&](const char *name) -> std::optional<std::string> {
    if (!given.count(name))
      return std::nullopt;
    return values[name];
  };
  c.log_level = text("log-level");
  c.fillslots = text("fillslots");
  c.server_addr = text("addr");
  c.token = text("token");
  c.datacenter = text("datacenter");
  struct IntField {
    const char *name;
    std::optional<int> AdminCommand::*field;
  };
  const IntField ints[] = {{"pid", &AdminCommand::pid},
                           {"gid", &AdminCommand::gid},
                           {"sid", &AdminCommand::sid},
                           {"beg", &AdminCommand::beg},
                           {"end", &AdminCommand::end},
                           {"gid-from", &AdminCommand::gid_from},
                           {"gid-to", &AdminCommand::gid_to},
                           {"num-slots", &AdminCommand::num_slots},
                           {"interval", &AdminCommand::interval},
                           {"disabled", &AdminCommand::disabled}};
  for (const auto &f : ints) {
    if (!given.count(f.name))
      continue;
    auto v = to_int(f.name, values[f.name]);
    if (!v)
      return fail(v.message());
    c.*(f.field) = *v;
  }
  c.locked = given.count("locked") > 0;
  c.force = given.count("force") > 0;
  c.all = given.count("all") > 0;
  c.confirm = given.count("confirm") > 0;
  c.offline = given.count("offline") > 0;
  if (c.log_level) {
    std::string l = *c.log_level;
    for (auto &ch : l)
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (l != "debug" && l != "info" && l != "warn" && l != "warning" &&
        l != "error" && l != "off") {
      return fail("--log-level=" + *c.log_level +
                  " is not a level: use debug, info, warn, error or off");
    }
    c.log_level = l == "warning" ? "warn" : l;
  }
  if (auto st = check_arguments(c, given); !st.ok())
    return fail(st.message() + " " + usage_hint());
  return ParseOutcome{std::move(c), "", 0};
}

// ---------------------------------------------------------------- running

namespace {

class Runner {
public:
  Runner(const AdminCommand &cmd, http::ClientOptions options,
         std::ostream &out, std::ostream &err)
      : cmd_(cmd), out_(out), err_(err), api_(cmd.addr, std::move(options)) {}

  Status run() {
    return cmd_.target == AdminCommand::Target::kProxy ? run_proxy()
                                                       : run_dashboard();
  }

private:
  void debug(const std::string &line) {
    if (cmd_.verbose)
      err_ << "codis-admin: " << line << "\n";
  }

  // Wraps a failed call with what codis-admin was doing.
  static Status failed(std::string_view what, const Status &st) {
    return Status::Error(std::string(what) + " failed: " + st.message());
  }

  template <class T>
  static Status failed(std::string_view what, const Result<T> &r) {
    return failed(what, r.status());
  }

  // ---- dashboard

  Status connect_dashboard() {
    std::string product = cmd_.product;
    if (product.empty()) {
      debug("GET /api/topom/model from dashboard " + cmd_.addr);
      auto model = api_.get({"api", "topom", "model"});
      if (!model)
        return failed("reading the dashboard's model", model);
      if (!model->is_object() || !(*model)["product_name"].is_string()) {
        return Status::Error(
            "the reply of GET /api/topom/model on " + cmd_.addr +
            " has no product_name: is this a codis dashboard?");
      }
      product = (*model)["product_name"].get<std::string>();
    }
    xauth_ = codis_xauth({product});
    debug("product " + product + ", xauth " + xauth_);
    auto ping = api_.get({"api", "topom", "xping", xauth_});
    if (!ping) {
      std::string hint =
          cmd_.product.empty()
              ? ""
              : " (is --product=" + cmd_.product + " the dashboard's product?)";
      return Status::Error("xping to dashboard failed: " + ping.message() +
                           hint);
    }
    return Status::Ok();
  }

  Result<Json> topom_stats() {
    debug("GET /api/topom/stats");
    auto s = api_.get({"api", "topom", "stats", xauth_});
    if (!s)
      return failed("reading the dashboard's stats", s);
    return s;
  }

  // PUT on the dashboard's or the proxy's API (whichever this run talks to).
  Status put(std::string_view what,
             std::initializer_list<std::string_view> segments,
             const std::string &body = {}) {
    debug("PUT " + ApiClient::path(segments) + " (" + std::string(what) + ")");
    auto r = api_.put(segments, body);
    if (!r)
      return failed(what, r);
    return Status::Ok();
  }

  // Tokens of the proxies picked by --token, --pid or --addr (admin address).
  Result<std::vector<std::string>> proxy_tokens() {
    if (cmd_.token)
      return std::vector<std::string>{*cmd_.token};
    auto stats = topom_stats();
    if (!stats)
      return stats.status();
    std::vector<std::string> tokens;
    const Json &models = (*stats)["proxy"]["models"];
    for (const auto &p : models.is_array() ? models : Json::array()) {
      const bool match = cmd_.pid
                             ? p.value("id", -1) == *cmd_.pid
                             : p.value("admin_addr", "") == *cmd_.server_addr;
      if (match)
        tokens.push_back(p.value("token", ""));
    }
    if (tokens.empty() && !cmd_.force) {
      const std::string which =
          cmd_.pid ? "id = " + std::to_string(*cmd_.pid)
                   : "admin address " + cmd_.server_addr.value_or("");
      return Result<std::vector<std::string>>::Error(
          "no proxy with " + which +
          " is registered in the dashboard (see --list-proxy)");
    }
    return tokens;
  }

  Status run_dashboard() {
    if (auto st = connect_dashboard(); !st.ok())
      return st;
    const std::string &a = cmd_.action;
    const std::string x = xauth_;
    if (a.empty()) {
      debug("GET /topom");
      auto o = api_.get({"topom"});
      if (!o)
        return failed("reading the dashboard's overview", o);
      out_ << pretty(select_view(*o, cmd_.view, true));
      return Status::Ok();
    }
    if (a == "shutdown")
      return put("shutdown", {"api", "topom", "shutdown", x});
    if (a == "reload")
      return put("reload", {"api", "topom", "reload", x});
    if (a == "log-level")
      return put("set log level",
                       {"api", "topom", "loglevel", x, *cmd_.log_level});
    if (a == "slots-status") {
      auto s = api_.get({"api", "topom", "slots", x});
      if (!s)
        return failed("reading the slots", s);
      out_ << pretty(*s);
      return Status::Ok();
    }
    if (a == "slots-assign")
      return slots_assign();
    if (a == "create-proxy")
      return put("create-proxy", {"api", "topom", "proxy", "create", x,
                                        *cmd_.server_addr});
    if (a == "online-proxy")
      return put("online-proxy", {"api", "topom", "proxy", "online", x,
                                        *cmd_.server_addr});
    if (a == "remove-proxy") {
      auto tokens = proxy_tokens();
      if (!tokens)
        return tokens.status();
      for (const auto &t : *tokens) {
        auto st =
            put("remove-proxy " + t, {"api", "topom", "proxy", "remove",
                                            x, t, cmd_.force ? "1" : "0"});
        if (!st.ok())
          return st;
      }
      return Status::Ok();
    }
    if (a == "reinit-proxy") {
      if (cmd_.all) {
        auto stats = topom_stats();
        if (!stats)
          return stats.status();
        const Json &models = (*stats)["proxy"]["models"];
        for (const auto &p : models.is_array() ? models : Json::array()) {
          out_ << "reinit proxy: " << p.dump() << "\n";
          const std::string t = p.value("token", "");
          if (auto st = put("reinit-proxy " + t,
                                  {"api", "topom", "proxy", "reinit", x, t});
              !st.ok())
            return st;
        }
        return Status::Ok();
      }
      auto tokens = proxy_tokens();
      if (!tokens)
        return tokens.status();
      for (const auto &t : *tokens) {
        if (auto st = put("reinit-proxy " + t,
                                {"api", "topom", "proxy", "reinit", x, t});
            !st.ok())
          return st;
      }
      return Status::Ok();
    }
    if (a == "proxy-status") {
      auto stats = topom_stats();
      if (!stats)
        return stats.status();
      out_ << proxy_status(*stats);
      return Status::Ok();
    }
    const std::string gid = cmd_.gid ? std::to_string(*cmd_.gid) : "";
    if (a == "create-group")
      return put("create-group",
                       {"api", "topom", "group", "create", x, gid});
    if (a == "remove-group")
      return put("remove-group",
                       {"api", "topom", "group", "remove", x, gid});
    if (a == "resync-group") {
      if (cmd_.all)
        return put("resync-group --all",
                         {"api", "topom", "group", "resync-all", x});
      return put("resync-group",
                       {"api", "topom", "group", "resync", x, gid});
    }
    if (a == "group-add") {
      if (cmd_.datacenter && !cmd_.datacenter->empty()) {
        return put("group-add", {"api", "topom", "group", "add", x, gid,
                                       *cmd_.server_addr, *cmd_.datacenter});
      }
      return put("group-add", {"api", "topom", "group", "add", x, gid,
                                     *cmd_.server_addr});
    }
    if (a == "group-del")
      return put("group-del", {"api", "topom", "group", "del", x, gid,
                                     *cmd_.server_addr});
    if (a == "promote-server") {
      auto st = put("promote-server", {"api", "topom", "group", "promote",
                                             x, gid, *cmd_.server_addr});
      if (!st.ok())
        return st;
    }
    if (a == "group-status" || a == "promote-server") {
      auto stats = topom_stats();
      if (!stats)
        return stats.status();
      out_ << group_status(*stats);
      return Status::Ok();
    }
    if (a == "slot-action")
      return slot_action();
    if (a == "rebalance") {
      debug("PUT slots/rebalance confirm=" +
            std::string(cmd_.confirm ? "1" : "0"));
      auto plan = api_.put(
          {"api", "topom", "slots", "rebalance", x, cmd_.confirm ? "1" : "0"});
      if (!plan)
        return failed("rebalance", plan);
      out_ << rebalance_plan(*plan);
      if (!cmd_.confirm && plan->is_object() && !plan->empty()) {
        err_ << "codis-admin: this is the plan only; run again with --confirm "
                "to apply it\n";
      }
      return Status::Ok();
    }
    return Status::Error("internal: unhandled dashboard action --" + a);
  }

  Status slots_assign() {
    Json mappings = Json::array();
    for (int i = *cmd_.beg; i <= *cmd_.end; ++i) {
      Json m = Json::object();
      m["id"] = i;
      m["group_id"] = cmd_.offline ? 0 : *cmd_.gid;
      m["action"] = Json::object();
      mappings.push_back(std::move(m));
    }
    if (!cmd_.confirm) {
      out_ << pretty(mappings);
      err_ << "codis-admin: this is the plan only; run again with --confirm to "
              "assign the slots\n";
      return Status::Ok();
    }
    if (cmd_.offline) {
      return put("slots-assign --offline",
                       {"api", "topom", "slots", "assign", xauth_, "offline"},
                       mappings.dump());
    }
    return put("slots-assign",
                     {"api", "topom", "slots", "assign", xauth_},
                     mappings.dump());
  }

  Status slot_action() {
    const std::string &k = cmd_.slot_action;
    const std::string x = xauth_;
    auto n = [](const std::optional<int> &v) {
      return std::to_string(v.value_or(0));
    };
    Status st;
    if (k == "create") {
      st = put("slot-action --create",
                     {"api", "topom", "slots", "action", "create", x,
                      n(cmd_.sid), n(cmd_.gid)});
    } else if (k == "remove") {
      st = put("slot-action --remove", {"api", "topom", "slots", "action",
                                              "remove", x, n(cmd_.sid)});
    } else if (k == "create-some") {
      st = put("slot-action --create-some",
                     {"api", "topom", "slots", "action", "create-some", x,
                      n(cmd_.gid_from), n(cmd_.gid_to), n(cmd_.num_slots)});
    } else if (k == "create-range") {
      st = put("slot-action --create-range",
                     {"api", "topom", "slots", "action", "create-range", x,
                      n(cmd_.beg), n(cmd_.end), n(cmd_.gid)});
    } else if (k == "interval") {
      st = put(
          "slot-action --interval",
          {"api", "topom", "slots", "action", "interval", x, n(cmd_.interval)});
    } else {
      st = put("slot-action --disabled",
                     {"api", "topom", "slots", "action", "disabled", x,
                      cmd_.disabled.value_or(0) != 0 ? "1" : "0"});
    }
    if (st.code() == Code::kNotFound) {
      // Say it plainly: this dashboard has no migration (yet), and what
      // moves slots meanwhile.
      return Status::Error(
          "slot-action --" + k + " failed: the dashboard at " + cmd_.addr +
          " does not serve /api/topom/slots/action/" + k +
          " (HTTP 404): it has no slot migration; slots that hold no data "
          "can be moved with --slots-assign");
    }
    return st;
  }

  // ---- proxy

  Status connect_proxy() {
    debug("GET /api/proxy/model from proxy " + cmd_.addr);
    auto model = api_.get({"api", "proxy", "model"});
    if (!model)
      return failed("reading the proxy's model", model);
    if (!model->is_object() || !(*model)["token"].is_string()) {
      return Status::Error("the reply of GET /api/proxy/model on " + cmd_.addr +
                           " has no token: is this a codis proxy?");
    }
    const std::string product =
        cmd_.product.empty() ? model->value("product_name", std::string())
                             : cmd_.product;
    xauth_ = codis_xauth(
        {product, cmd_.product_auth, (*model)["token"].get<std::string>()});
    debug("product " + product + ", xauth " + xauth_);
    auto ping = api_.get({"api", "proxy", "xping", xauth_});
    if (!ping) {
      return Status::Error(
          "xping to proxy failed: " + ping.message() +
          " (with admin_compat_xauth the xauth includes the product's auth: "
          "is --product-auth=AUTH the proxy's product_auth?)");
    }
    return Status::Ok();
  }

  Status run_proxy() {
    const std::string &a = cmd_.action;
    if (a.empty()) {
      debug("GET /proxy");
      auto o = api_.get({"proxy"});
      if (!o)
        return failed("reading the proxy's overview", o);
      out_ << pretty(select_view(*o, cmd_.view, false));
      return Status::Ok();
    }
    Json slots;
    if (a == "fillslots") { // read and check the file before touching the proxy
      auto loaded = load_slots();
      if (!loaded)
        return loaded.status();
      slots = std::move(*loaded);
    }
    if (auto st = connect_proxy(); !st.ok())
      return st;
    const std::string x = xauth_;
    if (a == "start")
      return put("start", {"api", "proxy", "start", x});
    if (a == "shutdown")
      return put("shutdown", {"api", "proxy", "shutdown", x});
    if (a == "log-level")
      return put("set log level",
                       {"api", "proxy", "loglevel", x, *cmd_.log_level});
    if (a == "reset-stats")
      return put("reset-stats", {"api", "proxy", "stats", "reset", x});
    if (a == "forcegc")
      return put("forcegc", {"api", "proxy", "forcegc", x});
    if (a == "fillslots")
      return put("fillslots", {"api", "proxy", "fillslots", x},
                       slots.dump());
    return Status::Error("internal: unhandled proxy action --" + a);
  }

  Result<Json> load_slots() {
    const std::string &file = *cmd_.fillslots;
    std::ifstream in(file);
    if (!in)
      return Result<Json>::Error("cannot read --fillslots file " + file);
    std::stringstream text;
    text << in.rdbuf();
    auto slots = Json::parse(text.str(), nullptr, false);
    if (slots.is_discarded() || !slots.is_array()) {
      return Result<Json>::Error(
          "--fillslots file " + file +
          " is not a JSON array of slots (e.g. [{\"id\": 0, \"backend_addr\": "
          "\"host:port\"}])");
    }
    for (auto &s : slots) {
      if (!s.is_object() || !s.contains("id") || !s["id"].is_number_integer()) {
        return Result<Json>::Error("--fillslots file " + file +
                                   ": every slot needs an integer \"id\"");
      }
      const auto id = s["id"].get<long long>();
      if (id < 0 || id >= kMaxSlotNum) {
        return Result<Json>::Error("--fillslots file " + file +
                                   ": invalid slot id = " + std::to_string(id));
      }
      if (cmd_.locked)
        s["locked"] = true;
    }
    return slots;
  }

  const AdminCommand &cmd_;
  std::ostream &out_;
  std::ostream &err_;
  ApiClient api_;
  std::string xauth_;
};

} // namespace

Status run_admin(const AdminCommand &cmd, std::ostream &out,
                 std::ostream &err) {
  if (cmd.target == AdminCommand::Target::kCoordinator)
    return run_coordinator_command(cmd, out, err);
  http::ClientOptions options;
  options.timeout = std::chrono::milliseconds(cmd.timeout_ms);
  options.bearer = cmd.auth;  // the admin secret, as "Authorization: Bearer"
  options.user_agent = "codis-admin";
  if (!cmd.tls_ca.empty()) {
    auto tls = http::load_client_tls(cmd.tls_ca);
    if (!tls)
      return tls.status();
    options.tls = std::move(*tls);
  }
  return Runner(cmd, std::move(options), out, err).run();
}

std::string admin_usage() {
  return R"(codis-admin: the command line of a Codis cluster, over the admin APIs of the
dashboard (codis-dashboard, default :18080) and of each proxy (codis-proxy,
default :11080). Wire-compatible with Codis 3.2's codis-admin.

Usage:
  codis-admin [-v] --proxy=ADDR [--product=NAME] [--overview|--config|--model|--stats|--slots]
  codis-admin [-v] --proxy=ADDR  --start
  codis-admin [-v] --proxy=ADDR  --shutdown
  codis-admin [-v] --proxy=ADDR  --log-level=LEVEL
  codis-admin [-v] --proxy=ADDR  --fillslots=FILE [--locked]
  codis-admin [-v] --proxy=ADDR  --reset-stats
  codis-admin [-v] --proxy=ADDR  --forcegc
  codis-admin [-v] --dashboard=ADDR [--product=NAME] [--overview|--config|--model|--stats|--slots|--group|--proxy]
  codis-admin [-v] --dashboard=ADDR  --shutdown
  codis-admin [-v] --dashboard=ADDR  --reload
  codis-admin [-v] --dashboard=ADDR  --log-level=LEVEL
  codis-admin [-v] --dashboard=ADDR  --slots-assign   --beg=ID --end=ID (--gid=ID|--offline) [--confirm]
  codis-admin [-v] --dashboard=ADDR  --slots-status
  codis-admin [-v] --dashboard=ADDR  --list-proxy
  codis-admin [-v] --dashboard=ADDR  --create-proxy   --addr=ADDR
  codis-admin [-v] --dashboard=ADDR  --online-proxy   --addr=ADDR
  codis-admin [-v] --dashboard=ADDR  --remove-proxy  (--addr=ADDR|--token=TOKEN|--pid=ID) [--force]
  codis-admin [-v] --dashboard=ADDR  --reinit-proxy  (--addr=ADDR|--token=TOKEN|--pid=ID|--all)
  codis-admin [-v] --dashboard=ADDR  --proxy-status
  codis-admin [-v] --dashboard=ADDR  --list-group
  codis-admin [-v] --dashboard=ADDR  --create-group   --gid=ID
  codis-admin [-v] --dashboard=ADDR  --remove-group   --gid=ID
  codis-admin [-v] --dashboard=ADDR  --resync-group  (--gid=ID|--all)
  codis-admin [-v] --dashboard=ADDR  --group-add      --gid=ID --addr=ADDR [--datacenter=DC]
  codis-admin [-v] --dashboard=ADDR  --group-del      --gid=ID --addr=ADDR
  codis-admin [-v] --dashboard=ADDR  --group-status
  codis-admin [-v] --dashboard=ADDR  --promote-server --gid=ID --addr=ADDR
  codis-admin [-v] --dashboard=ADDR  --slot-action    --create --sid=ID --gid=ID
  codis-admin [-v] --dashboard=ADDR  --slot-action    --remove --sid=ID
  codis-admin [-v] --dashboard=ADDR  --slot-action    --create-some  --gid-from=ID --gid-to=ID --num-slots=N
  codis-admin [-v] --dashboard=ADDR  --slot-action    --create-range --beg=ID --end=ID --gid=ID
  codis-admin [-v] --dashboard=ADDR  --slot-action    --interval=VALUE
  codis-admin [-v] --dashboard=ADDR  --slot-action    --disabled=VALUE
  codis-admin [-v] --dashboard=ADDR  --rebalance     [--confirm]
  codis-admin [-v] --remove-lock    --product=NAME STORE
  codis-admin [-v] --config-dump    --product=NAME STORE
  codis-admin [-v] --dashboard-list                STORE
    STORE: --zookeeper=ADDR [--zookeeper-auth=USER:PASSWORD] | --etcd=ADDR [--etcd-auth=USER:PASSWORD]
           | --filesystem=ROOT   (the coordinator itself, with no dashboard running)

Options:
  --proxy=ADDR        a proxy's admin address (admin_addr in proxy.toml)
  --dashboard=ADDR    the dashboard's admin address (admin_addr in dashboard.toml)
  -a, --auth=SECRET   the admin secret (admin_auth of the dashboard and proxies), sent as
                      "Authorization: Bearer SECRET". Other processes on this machine can
                      see a command line: prefer one of these (tried in this order):
  --auth-file=FILE    read the secret from the first line of FILE
  $CODIS_ADMIN_AUTH   the secret itself;  $CODIS_ADMIN_AUTH_FILE  a file holding it
                      and last, the quickstart's secret ($CODIS_QUICKSTART_DIR or
                      /tmp/codis-quickstart, file admin_auth) when it is readable
  --product-auth=AUTH the product_auth, for Codis's proxy xauth in admin_compat_xauth mode
                      (default: the --auth value, as Codis's codis-admin used --auth)
  --product=NAME      the product name; by default read from the daemon's model
  -x, --addr=ADDR     a proxy's admin address, or a redis server's address
  -t, --token=TOKEN   a proxy's token (see --list-proxy)
  -g, --gid=ID        a group id (1..9999)
  --timeout=SECONDS   deadline of each HTTP call (default 10)
  --tls-ca=FILE       HTTPS: the daemon serves its admin port with TLS
                      (admin_tls_cert_file); verify it against this CA file
  --remove-lock       remove /codis3/NAME/topom, the lock of a dashboard that died
                      (ZooKeeper and etcd remove it themselves when its session or lease expires)
  --config-dump       print the product's slots, groups, proxies and sentinels as JSON
  --dashboard-list    print every product and its dashboard's address
  -v, --verbose       print each call on stderr
  -h, --help          this text
  Flags take their value either way: --gid=1 or --gid 1. Codis's bare view
  words (config, model, stats, slots, group, proxy) work too.

Output: read commands print indented JSON on stdout; --group-status,
--proxy-status and --rebalance print Codis's one-line-per-item views. A
failure prints one line on stderr and exits with status 1.

Examples: build a 2-group cluster from scratch
  codis-admin --dashboard=127.0.0.1:18080 --create-group --gid=1
  codis-admin --dashboard=127.0.0.1:18080 --create-group --gid=2
  codis-admin --dashboard=127.0.0.1:18080 --group-add --gid=1 --addr=127.0.0.1:6379
  codis-admin --dashboard=127.0.0.1:18080 --group-add --gid=2 --addr=127.0.0.1:6380
  codis-admin --dashboard=127.0.0.1:18080 --create-proxy --addr=127.0.0.1:11080
  codis-admin --dashboard=127.0.0.1:18080 --slots-assign --beg=0 --end=511 --gid=1              # preview
  codis-admin --dashboard=127.0.0.1:18080 --slots-assign --beg=0 --end=511 --gid=1 --confirm    # apply
  codis-admin --dashboard=127.0.0.1:18080 --rebalance --confirm     # spread the rest evenly
Look at it
  codis-admin --dashboard=127.0.0.1:18080 --group-status            # [X] = replication not as configured
  codis-admin --dashboard=127.0.0.1:18080 --proxy-status            # [E] error, [T] timeout
  codis-admin --dashboard=127.0.0.1:18080 --list-group
  codis-admin --dashboard=127.0.0.1:18080 --slots-status
  codis-admin --proxy=127.0.0.1:11080 --stats
Operate
  codis-admin --dashboard=127.0.0.1:18080 --group-add --gid=1 --addr=127.0.0.1:6389   # a replica
  codis-admin --dashboard=127.0.0.1:18080 --resync-group --gid=1
  codis-admin --dashboard=127.0.0.1:18080 --promote-server --gid=1 --addr=127.0.0.1:6389
  codis-admin --dashboard=127.0.0.1:18080 --slot-action --create --sid=7 --gid=2     # migrate one slot
  codis-admin --dashboard=127.0.0.1:18080 --remove-proxy --addr=127.0.0.1:11080 --force
  CODIS_ADMIN_AUTH_FILE=/etc/codis/admin_auth codis-admin --proxy=127.0.0.1:11080 --log-level=debug
)";
}

} // namespace codis::admin
