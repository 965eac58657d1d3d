// Commands that need a backend connection of the session's own: blocking
// commands (they would stall a shared pipelined connection) and transactions.
//
// MULTI ... EXEC: the proxy queues the commands itself (answering +QUEUED or
// the error Redis would give at queue time, which makes EXEC answer
// EXECABORT), checks that every key is in one slot, and at EXEC sends MULTI,
// the commands and EXEC in one write on the session's connection to the
// slot's group. WATCH runs on that same connection beforehand, so the
// backend's own WATCH semantics apply. A slot that is migrating or locked at
// EXEC time gets -TRYAGAIN (nothing ran); a WATCH whose connection was lost
// or whose slot moved makes EXEC answer a nil reply, as a touched key would:
// clients retry either way.
#include "backend_conn.h"
#include "codis/slot_hash.h"
#include "command_table.h"
#include "session.h"
#include "text_util.h"
#include "worker.h"

namespace codis::proxy {

namespace {
std::string tryagain(uint32_t slot) {
  return "TRYAGAIN slot " + std::to_string(slot) + " is being migrated; nothing was run, retry the command";
}
}  // namespace

BackendConn* Session::dedicated_for(const std::string& addr) {
  for (size_t i = 0; i < dedicated_.size(); ++i) {
    BackendConn* c = dedicated_[i];
    if (c->addr() != addr || c->db() != db_) continue;
    if (c->usable()) return c;
    // Broken: give it back and start afresh (a WATCH on it is lost; EXEC notices).
    worker_.release_dedicated(c);
    dedicated_.erase(dedicated_.begin() + static_cast<std::ptrdiff_t>(i));
    break;
  }
  BackendConn* c = worker_.new_dedicated(addr, db_);
  dedicated_.push_back(c);
  return c;
}

void Session::release_dedicated() {
  for (BackendConn* c : dedicated_) worker_.release_dedicated(c);
  dedicated_.clear();
  watch_conn_ = nullptr;
  watch_slot_ = -1;
}

void Session::forward_blocking(const RequestPtr& req, std::string_view encoded, uint32_t slot) {
  const Route& r = worker_.table().route(slot);
  if (r.backend.empty()) {
    error_now(req, "ERR slot " + std::to_string(slot) + " is not served by any group");
    return;
  }
  if (r.locked || r.migrating()) {
    error_now(req, tryagain(slot));
    return;
  }
  dedicated_for(r.backend)->send(req, ReplyUse::kClient, encoded);
}

void Session::queue_in_multi(const RequestPtr& req, std::span<const std::string_view> args, std::string_view raw,
                             bool is_inline) {
  const CommandInfo& cmd = *req->cmd;
  const CommandInfo& top = cmd.is_subcommand() ? all_commands()[cmd.parent] : cmd;
  auto reject = [&](const std::string& msg) {
    tx_.aborted = true;
    error_now(req, msg);
  };
  bool keyless_ok = false;
  switch (cmd.handling) {
    case Handling::kRefused:
      reject(refusal_error(cmd));
      return;
    case Handling::kCluster:
      reject("ERR command '" + lower(cmd.name) + "' inside MULTI is not supported by the proxy (it spans every group)");
      return;
    case Handling::kLocal:
      // Commands that mean the same on any Redis can run inside the transaction.
      keyless_ok = top.name == "PING" || top.name == "ECHO" || top.name == "TIME";
      if (!keyless_ok) {
        reject("ERR command '" + lower(cmd.name) + "' inside MULTI is not supported by the proxy");
        return;
      }
      break;
    default:
      break;
  }
  if (cmd.handling == Handling::kSplitMSet && args.size() % 2 == 0) {
    reject(wrong_arity_error(cmd));
    return;
  }
  std::vector<int>& keys = worker_.keys_scratch;
  keys.clear();
  if (!keyless_ok) {
    std::string err;
    if (!command_keys(cmd, args, keys, err)) {
      reject(err);
      return;
    }
    if (keys.empty() && !(top.name == "EVAL" || top.name == "EVALSHA" || top.name == "FCALL" ||
                           top.name == "EVAL_RO" || top.name == "EVALSHA_RO" || top.name == "FCALL_RO")) {
      reject("ERR command '" + lower(cmd.name) + "' without keys inside MULTI is not supported by the proxy");
      return;
    }
  }
  for (int k : keys) {
    const int slot = static_cast<int>(slot_of(args[static_cast<size_t>(k)]));
    const int want = tx_.slot >= 0 ? tx_.slot : watch_slot_;
    if (want >= 0 && slot != want) {
      reject("CROSSSLOT Keys in request don't hash to the same slot");
      return;
    }
    tx_.slot = slot;
  }
  if (tx_.queued.size() > worker_.config().proxy_max_bulk_len) {
    reject("ERR transaction too big for the proxy (more than proxy_max_bulk_len bytes queued)");
    return;
  }
  if (is_inline)
    resp::append_command(tx_.queued, args);
  else
    tx_.queued.append(raw);
  ++tx_.count;
  tx_.ends.push_back(tx_.queued.size());
  reply_now(req, "+QUEUED\r\n", false);
}

void Session::handle_transaction(const RequestPtr& req, std::span<const std::string_view> args, std::string_view,
                                 bool) {
  const std::string_view name = req->cmd->name;
  if (name == "MULTI") {
    if (tx_.active) {
      error_now(req, "ERR MULTI calls can not be nested");
      return;
    }
    tx_ = Transaction{};
    tx_.active = true;
    reply_now(req, "+OK\r\n", false);
    return;
  }
  if (name == "DISCARD") {
    if (!tx_.active) {
      error_now(req, "ERR DISCARD without MULTI");
      return;
    }
    tx_ = Transaction{};
    release_dedicated();  // DISCARD also unwatches: closing the connection does it on the server
    reply_now(req, "+OK\r\n", false);
    return;
  }
  if (name == "UNWATCH") {
    if (watch_conn_) release_dedicated();
    reply_now(req, "+OK\r\n", false);
    return;
  }
  if (name == "WATCH") {
    if (tx_.active) {
      error_now(req, "ERR WATCH inside MULTI is not allowed");
      return;
    }
    const int slot = static_cast<int>(slot_of(args[1]));
    for (size_t i = 2; i < args.size(); ++i)
      if (static_cast<int>(slot_of(args[i])) != slot) {
        error_now(req, "CROSSSLOT Keys in request don't hash to the same slot");
        return;
      }
    if (watch_slot_ >= 0 && slot != watch_slot_) {
      error_now(req, "CROSSSLOT Keys in request don't hash to the same slot (as the keys already watched)");
      return;
    }
    const Route& r = worker_.table().route(static_cast<uint32_t>(slot));
    if (r.backend.empty()) {
      error_now(req, "ERR slot " + std::to_string(slot) + " is not served by any group");
      return;
    }
    if (r.locked || r.migrating()) {
      error_now(req, tryagain(static_cast<uint32_t>(slot)));
      return;
    }
    BackendConn* c = dedicated_for(r.backend);
    watch_conn_ = c;
    watch_slot_ = slot;
    watch_connection_ = c->connected() ? c->connections() : c->connections() + 1;
    req->encoded.clear();
    resp::append_command(req->encoded, args);
    c->send(req, ReplyUse::kClient, req->encoded);
    return;
  }
  // EXEC
  if (!tx_.active) {
    error_now(req, "ERR EXEC without MULTI");
    return;
  }
  Transaction tx = std::move(tx_);
  tx_ = Transaction{};
  BackendConn* watched = watch_conn_;
  const int watched_slot = watch_slot_;
  const uint64_t watched_connection = watch_connection_;
  watch_conn_ = nullptr;  // EXEC unwatches, whatever happens
  watch_slot_ = -1;
  if (tx.aborted) {
    if (watched) release_dedicated();
    error_now(req, "EXECABORT Transaction discarded because of previous errors.");
    return;
  }
  const int slot = tx.slot >= 0 ? tx.slot : watched_slot;
  std::string addr;
  if (slot >= 0) {
    const Route& r = worker_.table().route(static_cast<uint32_t>(slot));
    if (r.backend.empty()) {
      if (watched) release_dedicated();
      error_now(req, "ERR slot " + std::to_string(slot) + " is not served by any group");
      return;
    }
    if (r.locked || r.migrating()) {
      if (watched) release_dedicated();
      error_now(req, tryagain(static_cast<uint32_t>(slot)));
      return;
    }
    addr = r.backend;
  } else if (tx.count == 0) {
    reply_now(req, "*0\r\n", false);
    return;
  } else {
    const auto& groups = worker_.groups();
    if (groups.empty()) {
      error_now(req, "ERR no group serves any slot yet");
      return;
    }
    addr = groups.front().second;
  }
  BackendConn* c = dedicated_for(addr);
  if (watched && (watched != c || c->connections() != watched_connection || !c->connected())) {
    // The WATCH is not on this connection any more (the slot moved, or the
    // connection broke): its guarantee cannot be kept, so fail as a touched
    // watched key would.
    release_dedicated();
    reply_now(req, "*-1\r\n", false);
    return;
  }
  static constexpr std::string_view kMulti = "*1\r\n$5\r\nMULTI\r\n";
  static constexpr std::string_view kExec = "*1\r\n$4\r\nEXEC\r\n";
  c->send_untracked(kMulti);
  // The +QUEUED replies were given already; the backend's are not waited for.
  size_t begin = 0;
  for (size_t end : tx.ends) {
    c->send_untracked(std::string_view(tx.queued).substr(begin, end - begin));
    begin = end;
  }
  c->send(req, ReplyUse::kClient, kExec);
}

}  // namespace codis::proxy
