// Pub/sub for a session. Each channel belongs to the group its name hashes
// to (as a key would), so a publisher (PUBLISH is routed like a key) and the
// subscribers of a channel meet on one group. A subscribed session holds one
// connection of its own per group it listens to; a pattern is subscribed on
// every group, since matching channels may live anywhere. The proxy answers
// the client's (P|S)(UN)SUBSCRIBE itself, with the counts a single Redis
// would give, but only once every backend involved has confirmed, so a
// message published after the confirmation is never missed. Messages are
// forwarded as they arrive, behind any reply the client is still waiting for.
// A lost backend connection closes the client's connection: clients then
// reconnect and subscribe again, as they do when a Redis restarts.
#include <spdlog/spdlog.h>

#include <map>

#include "backend_conn.h"
#include "codis/slot_hash.h"
#include "command_table.h"
#include "session.h"
#include "text_util.h"
#include "worker.h"

namespace codis::proxy {

namespace {

// The kind of a push message: the first bulk of "*N\r\n$len\r\nkind\r\n...".
std::string_view push_kind(std::string_view msg) {
  if (msg.size() < 4 || msg[0] != '*') return {};
  size_t p = msg.find("\r\n");
  if (p == std::string_view::npos || p + 2 >= msg.size() || msg[p + 2] != '$') return {};
  size_t q = msg.find("\r\n", p + 2);
  if (q == std::string_view::npos) return {};
  uint64_t len = 0;
  if (!parse_uint(msg.substr(p + 3, q - p - 3), len) || q + 2 + len > msg.size()) return {};
  return msg.substr(q + 2, len);
}

void confirmation(std::string& out, std::string_view kind, const std::string* name, size_t count) {
  resp::append_array_header(out, 3);
  resp::append_bulk(out, kind);
  if (name)
    resp::append_bulk(out, *name);
  else
    resp::append_null_bulk(out);
  resp::append_integer(out, static_cast<int64_t>(count));
}

}  // namespace

void Session::handle_pubsub(const RequestPtr& req, std::span<const std::string_view> args) {
  const std::string_view name = req->cmd->name;
  const bool unsub = name.starts_with("UNSUB") || name.starts_with("PUNSUB") || name.starts_with("SUNSUB");
  const bool pattern = name[0] == 'P';
  const bool shard = name.starts_with("SSUB") || name.starts_with("SUNSUB");
  if (!pubsub_) {
    if (unsub) {
      // Not subscribed to anything: Redis answers with a count of 0 per name (or one nil).
      std::string out;
      std::string kind = lower(name);
      if (args.size() == 1) {
        confirmation(out, kind, nullptr, 0);
      } else {
        for (size_t i = 1; i < args.size(); ++i) {
          std::string n(args[i]);
          confirmation(out, kind, &n, 0);
        }
      }
      reply_now(req, out, false);
      return;
    }
    pubsub_ = std::make_unique<PubSub>();
  }
  PubSub& ps = *pubsub_;
  std::set<std::string>& names = pattern ? ps.patterns : shard ? ps.shard_channels : ps.channels;
  auto count = [&] { return shard ? ps.shard_channels.size() : ps.channels.size() + ps.patterns.size(); };
  const std::string kind = lower(name);

  auto op = std::make_shared<PubSubOp>();
  op->req = req;
  const char kind_tag = shard ? 's' : 'c';
  std::map<std::string, std::vector<std::string>> per_group;  // master -> names to send there
  if (!unsub) {
    for (size_t i = 1; i < args.size(); ++i) {
      std::string n(args[i]);
      if (names.insert(n).second) {
        if (pattern) {
          for (const auto& g : worker_.groups()) {
            per_group[g.second].push_back(n);
            ps.pattern_groups.insert(g.second);
          }
        } else {
          const Route& r = worker_.table().route(slot_of(n));
          if (r.backend.empty()) {
            names.erase(n);
            if (ps.channels.empty() && ps.patterns.empty() && ps.shard_channels.empty()) release_pubsub();
            error_now(req, "ERR the slot of channel '" + n + "' is not served by any group");
            return;
          }
          ps.where[std::string(1, kind_tag) + ":" + n] = r.backend;
          per_group[r.backend].push_back(n);
        }
      }
      confirmation(op->reply, kind, &n, count());
    }
  } else {
    std::vector<std::string> targets;
    if (args.size() == 1)
      targets.assign(names.begin(), names.end());
    else
      for (size_t i = 1; i < args.size(); ++i) targets.emplace_back(args[i]);
    if (targets.empty()) confirmation(op->reply, kind, nullptr, count());
    for (const auto& n : targets) {
      if (names.erase(n)) {
        if (pattern) {
          for (const auto& addr : ps.pattern_groups) per_group[addr].push_back(n);
        } else {
          auto it = ps.where.find(std::string(1, kind_tag) + ":" + n);
          if (it != ps.where.end()) {
            per_group[it->second].push_back(n);
            ps.where.erase(it);
          }
        }
      }
      confirmation(op->reply, kind, &n, count());
    }
  }
  for (auto& [addr, list] : per_group)
    if (!pubsub_send(addr, name, list, op)) return;
  if (op->remaining == 0) {
    reply_now(req, op->reply, false);
    if (ps.channels.empty() && ps.patterns.empty() && ps.shard_channels.empty()) release_pubsub();
  }
}

bool Session::pubsub_send(const std::string& addr, std::string_view command, const std::vector<std::string>& names,
                          const std::shared_ptr<PubSubOp>& op) {
  PubSub& ps = *pubsub_;
  SubConn* sc = nullptr;
  for (auto& c : ps.conns)
    if (c.conn->addr() == addr) sc = &c;
  if (!sc) {
    if (command.find("UNSUB") != std::string_view::npos) return true;  // never subscribed there
    BackendConn* conn = worker_.new_dedicated(addr, 0);  // channels span databases
    conn->set_push_handlers([this, conn](std::string_view msg) { on_push(conn, msg); },
                            [this] { close("a backend of this subscriber's channels failed"); });
    ps.conns.push_back(SubConn{conn, {}});
    sc = &ps.conns.back();
  }
  std::vector<std::string_view> cmd;
  cmd.push_back(command);
  for (const auto& n : names) cmd.push_back(n);
  std::string encoded;
  resp::append_command(encoded, cmd);
  if (!sc->conn->send_push(encoded)) {
    close("a backend of this subscriber's channels is unavailable");
    return false;
  }
  for (size_t i = 0; i < names.size(); ++i) sc->expect.push_back(op);
  op->remaining += static_cast<uint32_t>(names.size());
  return true;
}

void Session::resubscribe() {
  if (!pubsub_ || closed_) return;
  PubSub& ps = *pubsub_;
  auto op = std::make_shared<PubSubOp>();  // no request: the client hears nothing of this
  std::map<std::string, std::vector<std::string>> sub, unsub, ssub, sunsub;
  for (auto& [key, addr] : ps.where) {
    const std::string name = key.substr(2);
    const Route& r = worker_.table().route(slot_of(name));
    if (r.backend.empty() || r.backend == addr) continue;
    (key[0] == 's' ? sunsub : unsub)[addr].push_back(name);
    (key[0] == 's' ? ssub : sub)[r.backend].push_back(name);
    addr = r.backend;
  }
  std::map<std::string, std::vector<std::string>> psub;
  if (!ps.patterns.empty())
    for (const auto& g : worker_.groups())
      if (ps.pattern_groups.insert(g.second).second)
        psub[g.second].assign(ps.patterns.begin(), ps.patterns.end());
  // Subscribe on the new group before leaving the old one: no gap for messages.
  for (auto& [a, l] : sub)
    if (!pubsub_send(a, "SUBSCRIBE", l, op)) return;
  for (auto& [a, l] : ssub)
    if (!pubsub_send(a, "SSUBSCRIBE", l, op)) return;
  for (auto& [a, l] : psub)
    if (!pubsub_send(a, "PSUBSCRIBE", l, op)) return;
  for (auto& [a, l] : unsub)
    if (!pubsub_send(a, "UNSUBSCRIBE", l, op)) return;
  for (auto& [a, l] : sunsub)
    if (!pubsub_send(a, "SUNSUBSCRIBE", l, op)) return;
  if (op->remaining)
    spdlog::info("session {}: subscriptions follow a routing change ({} confirmations)", id_, op->remaining);
}

void Session::on_push(BackendConn* from, std::string_view msg) {
  if (!pubsub_ || closed_) return;
  PubSub& ps = *pubsub_;
  const std::string_view kind = push_kind(msg);
  if (kind == "message" || kind == "pmessage" || kind == "smessage") {
    if (queue_.empty()) {
      out_.append(msg);
      worker_.mark_dirty(this);
    } else {
      ps.held.append(msg);  // after the replies still owed (on_done appends it)
    }
    return;
  }
  // A confirmation (or an error) for one name of an earlier command.
  SubConn* sc = nullptr;
  for (auto& c : ps.conns)
    if (c.conn == from) sc = &c;
  if (!sc || sc->expect.empty()) {
    spdlog::warn("session {}: unexpected pub/sub reply from {}", id_, from->addr());
    return;
  }
  std::shared_ptr<PubSubOp> op = sc->expect.front();
  sc->expect.pop_front();
  if (!msg.empty() && msg[0] == '-') op->reply.assign(msg);  // the backend refused: pass its error on
  if (--op->remaining > 0) return;
  if (op->req) worker_.complete(op->req.get(), op->reply);
  if (pubsub_ && pubsub_->channels.empty() && pubsub_->patterns.empty() && pubsub_->shard_channels.empty()) {
    bool owed = false;
    for (auto& c : pubsub_->conns) owed = owed || !c.expect.empty();
    if (!owed) release_pubsub();  // back to normal mode
  }
}

void Session::release_pubsub() {
  if (!pubsub_) return;
  std::unique_ptr<PubSub> ps = std::move(pubsub_);
  if (!ps->held.empty() && !closed_ && queue_.empty()) {
    out_.append(ps->held);
    worker_.mark_dirty(this);
  }
  for (auto& c : ps->conns) {
    c.conn->set_push_handlers(nullptr, nullptr);
    worker_.release_dedicated(c.conn);
    for (auto& op : c.expect)
      if (op->remaining > 0) {
        op->remaining = 0;
        if (op->req) worker_.complete(op->req.get(), op->reply);
      }
  }
}

}  // namespace codis::proxy
