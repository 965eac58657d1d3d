// Cluster-wide commands of a session: fanned out to every group's master (or
// to one chosen group) and merged into the one reply a single Redis would
// give. Also INFO, CONFIG GET and keyless EVAL/FCALL routing.
#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "backend_conn.h"
#include "codis/host_port.h"
#include "command_table.h"
#include "session.h"
#include "text_util.h"
#include "worker.h"

namespace codis::proxy {

namespace {

using Values = std::vector<std::string>;

// The first error among the parts' replies, if any.
const std::string* first_error(const Values& v) {
  for (const auto& r : v)
    if (!r.empty() && r[0] == '-') return &r;
  return nullptr;
}

bool parse(const std::string& raw, resp::Value& out) {
  size_t used = 0;
  return resp::parse_value(raw, out, used) == resp::ParseStatus::kOk;
}

std::string error_reply(std::string_view msg) {
  std::string out;
  resp::append_error(out, msg);
  return out;
}

std::string sum_integers(SplitState& s) {
  if (auto* e = first_error(s.values)) return *e;
  int64_t sum = 0;
  for (const auto& r : s.values) {
    resp::Value v;
    if (!parse(r, v) || v.type != resp::Value::Type::kInteger) return error_reply("ERR unexpected reply from a group");
    sum += v.integer;
  }
  std::string out;
  resp::append_integer(out, sum);
  return out;
}

std::string all_ok(SplitState& s) {
  if (auto* e = first_error(s.values)) return *e;
  for (const auto& r : s.values)
    if (r != "+OK\r\n") return error_reply("ERR unexpected reply from a group");
  return "+OK\r\n";
}

// Every group answers the same thing (SCRIPT LOAD's sha, FUNCTION LOAD's name).
std::string same_everywhere(SplitState& s) {
  if (auto* e = first_error(s.values)) return *e;
  for (const auto& r : s.values)
    if (r != s.values.front()) return error_reply("ERR the groups answered differently; check each group");
  return s.values.empty() ? error_reply("ERR no group serves any slot") : s.values.front();
}

std::string first_reply(SplitState& s) {
  if (auto* e = first_error(s.values)) return *e;
  return s.values.empty() ? error_reply("ERR no group serves any slot") : s.values.front();
}

// SCRIPT EXISTS: 1 only where every group has the script.
std::string exists_everywhere(SplitState& s) {
  if (auto* e = first_error(s.values)) return *e;
  std::vector<int64_t> acc;
  bool first = true;
  for (const auto& r : s.values) {
    resp::Value v;
    if (!parse(r, v) || v.type != resp::Value::Type::kArray) return error_reply("ERR unexpected reply from a group");
    if (first) acc.assign(v.elements.size(), 1);
    first = false;
    if (v.elements.size() != acc.size()) return error_reply("ERR unexpected reply from a group");
    for (size_t i = 0; i < acc.size(); ++i) acc[i] = acc[i] && v.elements[i].integer;
  }
  std::string out;
  resp::append_array_header(out, acc.size());
  for (auto x : acc) resp::append_integer(out, x);
  return out;
}

}  // namespace

void Session::fan_out(const RequestPtr& req, std::string_view encoded, const std::vector<std::string>& targets,
                      std::function<std::string(SplitState&)> finish, bool admin_identity) {
  auto* s = new SplitState();
  s->merge = SplitState::Merge::kCustom;
  s->finish = std::move(finish);
  req->split = s;
  if (targets.empty()) {  // no group at all: the answer over no replies
    reply_now(req, s->finish(*s), false);
    return;
  }
  s->values.resize(targets.size());
  s->parts_pending = static_cast<uint32_t>(targets.size());
  for (size_t i = 0; i < targets.size(); ++i) {
    RequestPtr child(new_request());
    child->parent = req.get();
    ++req->refs;
    child->cmd = req->cmd;
    child->db = req->db;
    child->positions.push_back(static_cast<uint32_t>(i));
    (admin_identity ? worker_.admin_backend(targets[i], req->db) : worker_.backend(targets[i], req->db))
        ->send(child, ReplyUse::kClient, encoded);
  }
}

void Session::forward_keyless(const RequestPtr& req, std::span<const std::string_view> args, std::string_view raw,
                              bool is_inline) {
  const std::string_view name = req->cmd->name;
  const bool script = name == "EVAL" || name == "EVALSHA" || name == "EVAL_RO" || name == "EVALSHA_RO" ||
                      name == "FCALL" || name == "FCALL_RO";
  if (!script) {
    error_now(req, "ERR command '" + lower(name) + "' without keys cannot be routed to one group by the proxy");
    return;
  }
  // A script without keys touches no slot: any group can run it. Use the first
  // one, so scripts that only compute behave the same on every call.
  const auto& groups = worker_.groups();
  if (groups.empty()) {
    error_now(req, "ERR no group serves any slot yet");
    return;
  }
  std::string encoded;
  if (is_inline) resp::append_command(encoded, args);
  worker_.backend(groups.front().second, req->db)
      ->send(req, ReplyUse::kClient, is_inline ? std::string_view(encoded) : raw);
}

void Session::handle_cluster(const RequestPtr& req, std::span<const std::string_view> args, std::string_view raw,
                             bool is_inline) {
  std::string encoded_storage;
  std::string_view encoded = raw;
  if (is_inline) {
    resp::append_command(encoded_storage, args);
    encoded = encoded_storage;
  }
  std::vector<std::string> masters;
  for (const auto& g : worker_.groups()) masters.push_back(g.second);
  const std::string_view name = req->cmd->name;
  const auto& cfg = worker_.config();

  if (name == "DBSIZE") {
    fan_out(req, encoded, masters, sum_integers);
  } else if (name == "FLUSHDB" || name == "FLUSHALL") {
    // With users, the ACL check before dispatch already decided (FLUSHALL is @dangerous). The proxies'
    // restricted backend user may not flush: this goes as the admin identity.
    if (!cfg.proxy_allow_flush && cfg.users_file.empty()) {
      error_now(req, "ERR command '" + std::string(name) +
                         "' is not allowed: through the proxy it would flush every group "
                         "(set proxy_allow_flush = true to allow it)");
      return;
    }
    fan_out(req, encoded, masters, all_ok, true);
  } else if (name == "KEYS") {
    const size_t limit = static_cast<size_t>(cfg.proxy_keys_max_results);
    fan_out(req, encoded, masters, [limit](SplitState& s) {
      if (auto* e = first_error(s.values)) return *e;
      std::vector<resp::Value> parts(s.values.size());
      size_t total = 0;
      for (size_t i = 0; i < s.values.size(); ++i) {
        if (!parse(s.values[i], parts[i]) || parts[i].type != resp::Value::Type::kArray)
          return error_reply("ERR unexpected reply from a group");
        total += parts[i].elements.size();
      }
      if (total > limit)
        return error_reply("ERR KEYS matched " + std::to_string(total) +
                           " keys, more than proxy_keys_max_results (" + std::to_string(limit) +
                           "); use SCAN");
      std::string out;
      resp::append_array_header(out, total);
      for (const auto& p : parts)
        for (const auto& e : p.elements) resp::append_value(out, e);
      return out;
    });
  } else if (name == "RANDOMKEY") {
    fan_out(req, encoded, masters, [](SplitState& s) {
      if (auto* e = first_error(s.values)) return *e;
      std::vector<const std::string*> keys;
      for (const auto& r : s.values)
        if (r.size() > 1 && r[0] == '$' && r[1] != '-') keys.push_back(&r);
      if (keys.empty()) return std::string("$-1\r\n");
      static thread_local std::minstd_rand rng{std::random_device{}()};
      return *keys[rng() % keys.size()];
    });
  } else if (name == "SCAN") {
    // cursor = backend cursor << 14 | (group id + 1), groups visited by id;
    // 0 starts at the first group and comes back after the last group's last
    // page. The group id (not a position) keeps a cursor valid when groups
    // come and go between calls.
    uint64_t cursor = 0;
    if (!parse_uint(args[1], cursor)) {
      error_now(req, "ERR invalid cursor");
      return;
    }
    const auto& groups = worker_.groups();
    const int64_t gid = static_cast<int64_t>(cursor & 0x3FFF) - 1;  // -1: not started
    uint64_t inner = cursor >> 14;
    size_t index = 0;
    while (index < groups.size() && groups[index].first < gid) ++index;
    if (index < groups.size() && groups[index].first != gid) inner = 0;  // that group is gone: next one from 0
    if (gid < 0) inner = 0;
    if (index >= groups.size()) {
      reply_now(req, "*2\r\n$1\r\n0\r\n*0\r\n", false);
      return;
    }
    std::vector<std::string_view> sub(args.begin(), args.end());
    std::string inner_text = std::to_string(inner);
    sub[1] = inner_text;
    std::string cmd;
    resp::append_command(cmd, sub);
    const uint64_t this_gid = static_cast<uint64_t>(groups[index].first);
    const uint64_t next_gid =
        index + 1 < groups.size() ? static_cast<uint64_t>(groups[index + 1].first) + 1 : 0;
    fan_out(req, cmd, {groups[index].second}, [this_gid, next_gid](SplitState& s) {
      if (auto* e = first_error(s.values)) return *e;
      resp::Value v;
      uint64_t next = 0;
      if (!parse(s.values[0], v) || v.type != resp::Value::Type::kArray || v.elements.size() != 2 ||
          !parse_uint(v.elements[0].str, next))
        return error_reply("ERR unexpected SCAN reply from a group");
      const uint64_t out_cursor = next != 0 ? (next << 14) | (this_gid + 1) : next_gid;
      std::string out;
      resp::append_array_header(out, 2);
      resp::append_bulk(out, std::to_string(out_cursor));
      resp::append_value(out, v.elements[1]);
      return out;
    });
  } else if (name == "SCRIPT|LOAD" || name == "FUNCTION|LOAD") {
    fan_out(req, encoded, masters, same_everywhere);
  } else if (name == "SCRIPT|EXISTS") {
    fan_out(req, encoded, masters, exists_everywhere);
  } else if (name == "SCRIPT|FLUSH" || name == "FUNCTION|DELETE" || name == "FUNCTION|FLUSH") {
    fan_out(req, encoded, masters, all_ok);
  } else if (name == "FUNCTION|LIST") {
    fan_out(req, encoded, masters, first_reply);
  } else if (name == "PUBSUB|CHANNELS" || name == "PUBSUB|SHARDCHANNELS") {
    fan_out(req, encoded, masters, [](SplitState& s) {
      if (auto* e = first_error(s.values)) return *e;
      std::set<std::string> all;
      for (const auto& r : s.values) {
        resp::Value v;
        if (!parse(r, v) || v.type != resp::Value::Type::kArray) return error_reply("ERR unexpected reply from a group");
        for (auto& e : v.elements) all.insert(std::move(e.str));
      }
      std::string out;
      resp::append_array_header(out, all.size());
      for (const auto& c : all) resp::append_bulk(out, c);
      return out;
    });
  } else if (name == "PUBSUB|NUMSUB" || name == "PUBSUB|SHARDNUMSUB") {
    // [ch1, n1, ch2, n2, ...] from every group, summed per channel.
    fan_out(req, encoded, masters, [](SplitState& s) {
      if (auto* e = first_error(s.values)) return *e;
      std::vector<std::pair<std::string, int64_t>> sums;
      for (const auto& r : s.values) {
        resp::Value v;
        if (!parse(r, v) || v.type != resp::Value::Type::kArray || v.elements.size() % 2)
          return error_reply("ERR unexpected reply from a group");
        if (sums.empty())
          for (size_t i = 0; i < v.elements.size(); i += 2) sums.emplace_back(v.elements[i].str, 0);
        if (sums.size() * 2 != v.elements.size()) return error_reply("ERR unexpected reply from a group");
        for (size_t i = 0; i < sums.size(); ++i) sums[i].second += v.elements[2 * i + 1].integer;
      }
      std::string out;
      resp::append_array_header(out, sums.size() * 2);
      for (const auto& [c, n] : sums) {
        resp::append_bulk(out, c);
        resp::append_integer(out, n);
      }
      return out;
    });
  } else if (name == "WAIT") {
    int64_t n = 0, timeout = 0;
    if (!parse_int(args[1], n) || !parse_int(args[2], timeout)) {
      error_now(req, "ERR value is not an integer or out of range");
      return;
    }
    if (timeout < 0) {
      error_now(req, "ERR timeout is negative");
      return;
    }
    req->encoded.clear();
    resp::append_command(req->encoded, args);
    // Only once the client's earlier writes are done (they run on shared connections).
    if (queue_.size() > 1)
      deferred_wait_ = req;
    else
      issue_wait(req);
  } else if (name == "PUBSUB|NUMPAT") {
    fan_out(req, encoded, masters, first_reply);
  } else {
    error_now(req, "ERR command '" + lower(name) + "' is not supported by the proxy yet");
  }
}

void Session::issue_wait(const RequestPtr& req) {
  std::vector<std::string> masters;
  for (const auto& g : worker_.groups()) masters.push_back(g.second);
  auto* s = new SplitState();
  s->merge = SplitState::Merge::kCustom;
  s->finish = [](SplitState& st) {
    // A master that turns replica mid-WAIT (a planned switchover) unblocks it
    // with an error: its group confirmed nothing, which WAIT says with 0.
    constexpr std::string_view kUnblocked = "-UNBLOCKED";
    for (auto& r : st.values) {
      if (std::string_view(r).starts_with(kUnblocked)) r = ":0\r\n";
    }
    if (auto* e = first_error(st.values)) return *e;
    int64_t least = -1;
    for (const auto& r : st.values) {
      resp::Value v;
      if (!parse(r, v) || v.type != resp::Value::Type::kInteger) return error_reply("ERR unexpected reply from a group");
      least = least < 0 ? v.integer : std::min(least, v.integer);
    }
    std::string out;
    resp::append_integer(out, least < 0 ? 0 : least);
    return out;
  };
  req->split = s;
  if (masters.empty()) {
    reply_now(req, ":0\r\n", false);
    return;
  }
  s->values.resize(masters.size());
  s->parts_pending = static_cast<uint32_t>(masters.size());
  // A replicated write on the session's own connection, after all its earlier
  // writes, gives that connection a replication offset to wait for.
  static constexpr std::string_view kMark = "*3\r\n$7\r\nPUBLISH\r\n$14\r\n__codis_wait__\r\n$0\r\n\r\n";
  for (size_t i = 0; i < masters.size(); ++i) {
    RequestPtr child(new_request());
    child->parent = req.get();
    ++req->refs;
    child->cmd = req->cmd;
    child->db = req->db;
    child->positions.push_back(static_cast<uint32_t>(i));
    BackendConn* c = dedicated_for(masters[i]);
    c->send_untracked(kMark);
    c->send(child, ReplyUse::kClient, req->encoded);
  }
}

// ---------------------------------------------------------------- INFO, CONFIG GET

namespace {

// The backends' keyspace lines summed per db, after the proxy's own sections.
std::string merge_info(const std::string& prefix, const Values& values) {
  std::map<int, std::pair<uint64_t, uint64_t>> dbs;  // db -> keys, expires
  for (const auto& raw : values) {
    resp::Value val;
    if (!parse(raw, val) || val.type != resp::Value::Type::kBulk) continue;  // a down group loses its line
    std::string_view text = val.str;
    while (!text.empty()) {
      auto eol = text.find('\n');
      std::string_view line = text.substr(0, eol);
      text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.substr(0, 2) != "db") continue;
      auto colon = line.find(':');
      int64_t db = 0;
      if (colon == std::string_view::npos || !parse_int(line.substr(2, colon - 2), db)) continue;
      auto field = [&](std::string_view key) -> uint64_t {
        auto p = line.find(key);
        if (p == std::string_view::npos) return 0;
        auto rest = line.substr(p + key.size());
        uint64_t v = 0;
        parse_uint(rest.substr(0, rest.find(',')), v);
        return v;
      };
      dbs[static_cast<int>(db)].first += field("keys=");
      dbs[static_cast<int>(db)].second += field("expires=");
    }
  }
  std::string text = prefix + "# Keyspace\r\n";
  for (const auto& [db, ke] : dbs)
    text += "db" + std::to_string(db) + ":keys=" + std::to_string(ke.first) + ",expires=" +
            std::to_string(ke.second) + ",avg_ttl=0\r\n";
  std::string out;
  resp::append_bulk(out, text);
  return out;
}

}  // namespace

void Session::local_info(const RequestPtr& req, std::span<const std::string_view> args) {
  const auto& ctx = worker_.context();
  const auto& cfg = ctx.config;
  std::string section = args.size() > 1 ? lower(args[1]) : "default";
  bool all = section == "default" || section == "all" || section == "everything";
  std::string text;
  if (all || section == "server") {
    text += "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\ncodis_proxy_version:" +
            ctx.product_version + "\r\nos:Linux\r\nprocess_id:" + std::to_string(::getpid()) +
            "\r\ntcp_port:" + [&cfg] {
              auto hp = HostPort::parse(cfg.proxy_addr);
              return hp ? hp->port_text() : std::string("0");
            }() + "\r\n\r\n";
  }
  if (all || section == "clients") {
    text += "# Clients\r\nconnected_clients:" + std::to_string(ctx.clients.load(std::memory_order_relaxed)) +
            "\r\n\r\n";
  }
  if (all || section == "proxy") {
    int online = 0;
    for (int i = 0; i < kSlotCount; ++i) online += !worker_.table().route(i).backend.empty();
    text += "# Proxy\r\nproduct_name:" + cfg.product_name + "\r\nproxy_token:" + ctx.token +
            "\r\nrouting_table_version:" + std::to_string(worker_.table().version()) +
            "\r\nslots_online:" + std::to_string(online) + "\r\ngroups:" +
            std::to_string(worker_.groups().size()) + "\r\nsession_db:" + std::to_string(db_) + "\r\n\r\n";
  }
  if (!(all || section == "keyspace")) {
    std::string out;
    resp::append_bulk(out, text);
    reply_now(req, out, false);
    return;
  }
  static constexpr std::string_view kInfoKeyspace = "*2\r\n$4\r\nINFO\r\n$8\r\nkeyspace\r\n";
  std::vector<std::string> masters;
  for (const auto& g : worker_.groups()) masters.push_back(g.second);
  fan_out(req, kInfoKeyspace, masters,
          [prefix = std::move(text)](SplitState& s) { return merge_info(prefix, s.values); });
}

void Session::local_config_get(const RequestPtr& req, std::span<const std::string_view> args) {
  // What client libraries read at connect time, answered for the cluster as a whole.
  const auto& cfg = worker_.config();
  const std::pair<const char*, std::string> known[] = {
      {"databases", std::to_string(cfg.backend_number_databases)},
      {"maxclients", std::to_string(cfg.proxy_max_clients)},
      {"timeout", std::to_string(cfg.session_recv_timeout.count() / 1000)},
      {"maxmemory", "0"},
      {"maxmemory-policy", "noeviction"},
      {"save", ""},
      {"appendonly", "no"},
      {"cluster-enabled", "no"},
      {"proto-max-bulk-len", std::to_string(cfg.proxy_max_bulk_len)},
      {"requirepass", ""},
  };
  std::vector<std::pair<std::string_view, std::string_view>> hits;
  for (size_t i = 2; i < args.size(); ++i) {
    std::string pattern = lower(args[i]);
    for (const auto& [k, v] : known) {
      if (fnmatch(pattern.c_str(), k, 0) != 0) continue;
      if (std::none_of(hits.begin(), hits.end(), [&](const auto& h) { return h.first == k; }))
        hits.emplace_back(k, v);
    }
  }
  std::string out;
  resp::append_array_header(out, hits.size() * 2);
  for (const auto& [k, v] : hits) {
    resp::append_bulk(out, k);
    resp::append_bulk(out, v);
  }
  reply_now(req, out, false);
}

}  // namespace codis::proxy
