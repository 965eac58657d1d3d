// coordinator_cli: drives a Coordinator from the command line, for the
// coordinator's integration tests (tests/coordinator/*.py) and for anyone
// who wants to look into a ZooKeeper, etcd or filesystem store as Codis lays it out.
//
//   coordinator_cli --coordinator zookeeper --addr 127.0.0.1:2181 read /codis3/demo/topom
//   coordinator_cli --coordinator etcd --addr 127.0.0.1:2379 [--tls-ca F [--tls-cert F --tls-key F]] list /codis3
//   coordinator_cli --coordinator filesystem --addr /tmp/codis shell
//
// `acl PATH` (ZooKeeper only) prints the node's ACL as ZooKeeper keeps it, one
// "scheme:id=perms" line per entry (perms in zkCli's letters, "cdrwa"); it
// talks to ZooKeeper directly, not through the coordinator, so the tests can
// check what the coordinator put on its nodes. `setacl PATH ENTRY[,ENTRY...]`
// (entries as `acl` prints them) sets one, as an operator would with zkCli.
// `owner PATH` prints the session that owns an ephemeral node (hex; 0x0 for a
// persistent one), also through the C client.
//
// One-shot commands print the result and exit: 0 ok, 1 error (message on
// stderr), 2 usage, 3 `read` of an absent node. `shell` keeps one client (one
// ZooKeeper session) and reads commands from stdin, one per line, answering
// each with one line on stdout ("OK [...]", "NONE" or "ERR message"); watch
// callbacks print "EVENT <id>" lines in between. Values travel escaped on one
// line (backslash, \n, \r). EOF or `quit` ends the session.
#include <zookeeper/zookeeper.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "codis/coordinator.h"
#include "codis/logging.h"

namespace {

std::mutex out_mu;

void say(const std::string& line) {
  std::lock_guard lock(out_mu);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += c;
    }
  }
  return out;
}

std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char n = s[++i];
      out += n == 'n' ? '\n' : n == 'r' ? '\r' : n;
    } else {
      out += s[i];
    }
  }
  return out;
}

int usage(const std::string& why) {
  std::cerr << "coordinator_cli: " << why << "\n"
            << "usage: coordinator_cli --coordinator zookeeper|etcd|filesystem --addr ADDR\n"
            << "         [--auth USER:PASSWORD] [--timeout MS] [--poll MS] [--log-level L]\n"
            << "         [--tls-ca FILE [--tls-cert FILE --tls-key FILE]] (etcd only)\n"
            << "         create PATH DATA | ephemeral PATH DATA | update PATH DATA |\n"
            << "         update-many PATH,PATH,... DATA (shell only) |\n"
            << "         read PATH | list DIR | remove PATH | shell |\n"
            << "         health | remove-if PATH DATA (shell only) |\n"
            << "         acl PATH | setacl PATH SCHEME:ID=PERMS[,...] | owner PATH (zookeeper only)\n";
  return 2;
}

// ---- `acl PATH`: the C client directly.

struct ZkWait {
  std::mutex mu;
  std::condition_variable cv;
  bool connected = false;
  int auth_rc = 1;  // 1: no answer yet
};

void zk_watcher(zhandle_t*, int type, int state, const char*, void* ctx) {
  auto* w = static_cast<ZkWait*>(ctx);
  if (type != ZOO_SESSION_EVENT || state != ZOO_CONNECTED_STATE) return;
  std::lock_guard lock(w->mu);
  w->connected = true;
  w->cv.notify_all();
}

void zk_auth_done(int rc, const void* ctx) {
  auto* w = static_cast<ZkWait*>(const_cast<void*>(ctx));
  std::lock_guard lock(w->mu);
  w->auth_rc = rc;
  w->cv.notify_all();
}

std::string perm_letters(int perms) {
  std::string out;
  if (perms & ZOO_PERM_CREATE) out += 'c';
  if (perms & ZOO_PERM_DELETE) out += 'd';
  if (perms & ZOO_PERM_READ) out += 'r';
  if (perms & ZOO_PERM_WRITE) out += 'w';
  if (perms & ZOO_PERM_ADMIN) out += 'a';
  return out;
}

int parse_perms(const std::string& letters) {
  int perms = 0;
  for (char c : letters) {
    perms |= c == 'c' ? ZOO_PERM_CREATE : c == 'd' ? ZOO_PERM_DELETE : c == 'r' ? ZOO_PERM_READ
           : c == 'w' ? ZOO_PERM_WRITE : c == 'a' ? ZOO_PERM_ADMIN : 0;
  }
  return perms;
}

// acl PATH, setacl PATH ENTRIES (set_to) or owner PATH.
int zk_direct(const std::string& cmd, const std::string& addr, const std::string& auth,
              std::chrono::milliseconds timeout, const std::string& path, const std::string& set_to) {
  zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
  ZkWait w;
  zhandle_t* zh = zookeeper_init(addr.c_str(), &zk_watcher, static_cast<int>(timeout.count()), nullptr, &w, 0);
  if (!zh) {
    std::cerr << "coordinator_cli: cannot start a ZooKeeper client for " << addr << "\n";
    return 1;
  }
  int rc = ZOK;
  {
    std::unique_lock lock(w.mu);
    if (!w.cv.wait_for(lock, timeout, [&] { return w.connected; })) rc = ZOPERATIONTIMEOUT;
  }
  if (rc == ZOK && !auth.empty()) {
    rc = zoo_add_auth(zh, "digest", auth.data(), static_cast<int>(auth.size()), &zk_auth_done, &w);
    std::unique_lock lock(w.mu);
    if (rc == ZOK && !w.cv.wait_for(lock, timeout, [&] { return w.auth_rc != 1; })) rc = ZOPERATIONTIMEOUT;
    if (rc == ZOK) rc = w.auth_rc;
  }
  if (cmd == "owner") {
    Stat st{};
    if (rc == ZOK) rc = zoo_exists(zh, path.c_str(), 0, &st);
    if (rc == ZOK) {
      std::printf("0x%llx\n", static_cast<unsigned long long>(st.ephemeralOwner));
    } else {
      std::cerr << "coordinator_cli: owner " << path << ": " << zerror(rc) << "\n";
    }
    zookeeper_close(zh);
    return rc == ZOK ? 0 : rc == ZNONODE ? 3 : 1;
  }
  if (cmd == "setacl") {
    // "scheme:id=perms,...": the id may hold ':' (digest), so split at the first ':' and the last '='.
    std::vector<std::string> parts;
    std::istringstream in(set_to);
    for (std::string e; std::getline(in, e, ',');) parts.push_back(e);
    std::vector<ACL> entries(parts.size());
    for (size_t i = 0; i < parts.size(); ++i) {
      auto colon = parts[i].find(':'), eq = parts[i].rfind('=');
      if (colon == std::string::npos || eq == std::string::npos || eq < colon) {
        std::cerr << "coordinator_cli: bad ACL entry " << parts[i] << " (scheme:id=perms)\n";
        zookeeper_close(zh);
        return 2;
      }
      parts[i][colon] = '\0';
      parts[i][eq] = '\0';
      entries[i] = {parse_perms(parts[i].substr(eq + 1)), {parts[i].data(), parts[i].data() + colon + 1}};
    }
    ACL_vector v{static_cast<int32_t>(entries.size()), entries.data()};
    if (rc == ZOK) rc = zoo_set_acl(zh, path.c_str(), -1, &v);
    if (rc != ZOK) std::cerr << "coordinator_cli: setacl " << path << ": " << zerror(rc) << "\n";
    zookeeper_close(zh);
    return rc == ZOK ? 0 : 1;
  }
  ACL_vector acl{};
  Stat st{};
  if (rc == ZOK) rc = zoo_get_acl(zh, path.c_str(), &acl, &st);
  if (rc == ZOK) {
    for (int i = 0; i < acl.count; ++i) {
      std::cout << acl.data[i].id.scheme << ":" << acl.data[i].id.id << "=" << perm_letters(acl.data[i].perms)
                << "\n";
    }
    deallocate_ACL_vector(&acl);
  } else {
    std::cerr << "coordinator_cli: acl " << path << ": " << zerror(rc) << "\n";
  }
  zookeeper_close(zh);
  return rc == ZOK ? 0 : rc == ZNONODE ? 3 : 1;
}

struct Shell {
  codis::Coordinator& c;
  std::map<int, std::unique_ptr<codis::WatchHandle>> watches;
  int next_watch = 1;

  // Runs one command line; returns the reply line. `quit` sets done.
  std::string run(const std::string& line, bool& done) {
    std::istringstream in(line);
    std::string cmd, path;
    in >> cmd >> path;
    std::string rest;
    if (in.peek() == ' ') in.get();
    std::getline(in, rest);
    std::string data = unescape(rest);
    auto status_line = [](const codis::Status& s) {
      return s ? std::string("OK") : "ERR " + escape(s.message());
    };
    if (cmd == "quit") {
      done = true;
      return "OK";
    }
    if (cmd == "ping") return "OK";
    if (cmd == "describe") return "OK " + c.describe();
    if (cmd == "create") return status_line(c.create(path, data));
    if (cmd == "ephemeral") return status_line(c.create_ephemeral(path, data));
    if (cmd == "update") return status_line(c.update(path, data));
    if (cmd == "update-many") {  // update-many P1,P2,... DATA: every node gets DATA
      std::vector<std::pair<std::string, std::string>> nodes;
      std::istringstream paths(path);
      for (std::string p; std::getline(paths, p, ',');) nodes.emplace_back(p, data);
      return status_line(c.update_many(nodes));
    }
    if (cmd == "remove") return status_line(c.remove(path));
    if (cmd == "remove-if") {
      auto r = c.remove_if_unchanged(path, data);
      if (!r) return "ERR " + escape(r.message());
      return *r ? "OK removed" : "OK kept";
    }
    if (cmd == "health") {
      auto h = c.health();
      return "OK session_losses=" + std::to_string(h.session_losses) + " recreated=" +
             std::to_string(h.ephemerals_recreated) + " pending=" + std::to_string(h.ephemerals_pending);
    }
    if (cmd == "read") {
      auto r = c.read(path);
      if (!r) return "ERR " + escape(r.message());
      return r->has_value() ? "OK " + escape(**r) : std::string("NONE");
    }
    if (cmd == "list") {
      auto r = c.list(path);
      if (!r) return "ERR " + escape(r.message());
      std::string out = "OK";
      for (const auto& n : *r) out += " " + n;
      return out;
    }
    if (cmd == "watch-children" || cmd == "watch-data") {
      int id = next_watch++;
      auto fn = [id] { say("EVENT " + std::to_string(id)); };
      auto r = cmd == "watch-data" ? c.watch_data(path, fn) : c.watch_children(path, fn);
      if (!r) return "ERR " + escape(r.message());
      watches[id] = std::move(*r);
      return "OK " + std::to_string(id);
    }
    if (cmd == "unwatch") {
      watches.erase(std::atoi(path.c_str()));
      return "OK";
    }
    return "ERR unknown command \"" + escape(cmd) + "\"";
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string name, addr, log_level = "warn";
  codis::CoordinatorOptions options;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* flag) -> std::optional<std::string> {
      std::string f = flag;
      if (a.rfind(f + "=", 0) == 0) return a.substr(f.size() + 1);
      if (a == f && i + 1 < argc) return std::string(argv[++i]);
      return std::nullopt;
    };
    if (auto v = value("--coordinator")) {
      name = *v;
    } else if (auto v2 = value("--addr")) {
      addr = *v2;
    } else if (auto v3 = value("--auth")) {
      options.auth = *v3;
    } else if (auto v4 = value("--timeout")) {
      options.timeout = std::chrono::milliseconds(std::atoll(v4->c_str()));
    } else if (auto v5 = value("--poll")) {
      options.poll_interval = std::chrono::milliseconds(std::atoll(v5->c_str()));
    } else if (auto v6 = value("--log-level")) {
      log_level = *v6;
    } else if (auto v7 = value("--tls-ca")) {
      options.tls_ca_file = *v7;
    } else if (auto v8 = value("--tls-cert")) {
      options.tls_cert_file = *v8;
    } else if (auto v9 = value("--tls-key")) {
      options.tls_key_file = *v9;
    } else if (a.rfind("--", 0) == 0) {
      return usage("unknown flag " + a);
    } else {
      args.push_back(a);
    }
  }
  if (name.empty() || addr.empty() || args.empty()) return usage("missing arguments");
  if (auto s = codis::log::init("", log_level); !s) return usage(s.message());

  const std::string& cmd = args[0];
  auto arity = std::map<std::string, size_t>{{"create", 3}, {"ephemeral", 3}, {"update", 3},
                                             {"read", 2},   {"list", 2},      {"remove", 2},
                                             {"acl", 2},    {"setacl", 3},    {"owner", 2},
                                             {"shell", 1}};
  auto it = arity.find(cmd);
  if (it == arity.end()) return usage("unknown command " + cmd);
  if (args.size() != it->second) return usage("wrong number of arguments for " + cmd);

  if (cmd == "acl" || cmd == "setacl" || cmd == "owner") {
    if (name != "zookeeper") return usage(cmd + " is for zookeeper only");
    return zk_direct(cmd, addr, options.auth, options.timeout, args[1], cmd == "setacl" ? args[2] : "");
  }
  auto c = codis::connect_coordinator_with(name, addr, options);
  if (!c) {
    std::cerr << "coordinator_cli: " << c.message() << "\n";
    return 1;
  }
  Shell shell{**c, {}};
  if (cmd == "shell") {
    say("OK ready " + (*c)->describe());
    std::string line;
    bool done = false;
    while (!done && std::getline(std::cin, line)) {
      if (line.empty()) continue;
      say(shell.run(line, done));
    }
    shell.watches.clear();
    return 0;
  }
  if (cmd == "ephemeral") {
    // Holds the node until stdin closes (so a test can kill us or close it).
    bool done = false;
    std::string reply = shell.run("ephemeral " + args[1] + " " + escape(args[2]), done);
    say(reply);
    if (reply != "OK") return 1;
    std::string line;
    while (std::getline(std::cin, line)) {
    }
    return 0;
  }
  std::string line = cmd + " " + args[1];
  if (args.size() == 3) line += " " + escape(args[2]);
  bool done = false;
  std::string reply = shell.run(line, done);
  if (reply == "NONE") return 3;
  if (reply.rfind("ERR ", 0) == 0) {
    std::cerr << "coordinator_cli: " << unescape(reply.substr(4)) << "\n";
    return 1;
  }
  if (cmd == "read") {
    std::string data = unescape(reply.substr(3));
    std::fwrite(data.data(), 1, data.size(), stdout);
  } else if (cmd == "list") {
    std::istringstream names(reply.substr(2));
    for (std::string n; names >> n;) std::cout << n << "\n";
  }
  return 0;
}
