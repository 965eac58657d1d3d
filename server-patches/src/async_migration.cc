#define REDISMODULE_API extern  // the function pointers are defined in codis_slots.cc
#include "async_migration.h"
#include "reply_parser.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

namespace codis::slots {
namespace {

SlotIndex* g_index = nullptr;
RedisModuleCtx* g_ctx = nullptr;  // a detached context: timers need one that names this module

constexpr uint64_t kStepBudgetUs = 1000;   // a step holds the event loop ~1 ms at most
constexpr long long kDefaultTimeoutMs = 30000;
constexpr int kMaxDbs = 4096;

std::string_view view(RedisModuleString* s) {
  size_t len = 0;
  const char* p = RedisModule_StringPtrLen(s, &len);
  return {p, len};
}

void append_bulk(std::string& out, std::string_view s) {
  out += '$';
  out += std::to_string(s.size());
  out += "\r\n";
  out.append(s);
  out += "\r\n";
}

// ---------------------------------------------------------------------------
// Source side

struct BatchResult {
  bool ok = false;
  std::string error;
  bool slot_reply = false;
  long long moved = 0;
  long long remaining = 0;
};

enum class Expect : char { kStatus, kAck };

class Batch {
 public:
  int db = 0;
  std::string host;
  int port = 0;
  long long timeout_ms = 0;
  long long maxbulks = 0;
  long long maxbytes = 0;
  bool slot_reply = false;
  uint32_t slot = 0;
  std::vector<std::string> keys;
  std::unordered_set<std::string> locked;
  RedisModuleBlockedClient* caller = nullptr;
  std::vector<RedisModuleBlockedClient*> fences;

  // Connection.
  int fd = -1;
  bool connected = false;
  bool want_write = false;
  std::string out;
  size_t out_pos = 0;
  std::string in;
  std::deque<std::pair<Expect, size_t>> expect;  // what each reply answers, and its message size
  size_t inflight_bytes = 0;
  long long last_progress_ms = 0;

  // Emission state.
  size_t next_key = 0;
  bool key_active = false;
  std::string cur_key;
  int cur_type = 0;
  long long cur_abs_expire = -1;
  long long cur_len = 0;
  long long list_index = 0;
  RedisModuleScanCursor* cursor = nullptr;
  bool cursor_done = false;
  std::vector<std::string> sent;  // keys completely sent (deleted after the last ACK)
  long long emitted_msgs = 0;

  RedisModuleTimerID step_timer = 0;
  bool step_armed = false;
  RedisModuleTimerID watchdog = 0;
  bool finishing = false;
  RedisModuleTimerID finish_timer_id = 0;

  ~Batch() {
    if (cursor != nullptr) RedisModule_ScanCursorDestroy(cursor);
  }
  bool emission_done() const { return next_key >= keys.size() && !key_active; }
};

Batch* g_batches[kMaxDbs] = {};

void arm_step(Batch* b);
void fail(Batch* b, const std::string& error);

long long now_ms() { return RedisModule_Milliseconds(); }

void update_write_interest(Batch* b) {
  bool want = !b->connected || b->out_pos < b->out.size();
  if (want && !b->want_write) {
    RedisModule_EventLoopAdd(b->fd, REDISMODULE_EVENTLOOP_WRITABLE, [](int, void* d, int) {
      Batch* b = static_cast<Batch*>(d);
      if (!b->connected) {
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        ::getsockopt(b->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr != 0) {
          fail(b, "IOERR can't connect to target " + b->host + ":" + std::to_string(b->port) + ": " +
                      std::strerror(soerr));
          return;
        }
        b->connected = true;
      }
      while (b->out_pos < b->out.size()) {
        ssize_t n = ::send(b->fd, b->out.data() + b->out_pos, b->out.size() - b->out_pos, MSG_NOSIGNAL);
        if (n > 0) {
          b->out_pos += static_cast<size_t>(n);
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        fail(b, std::string("IOERR error writing to target: ") + std::strerror(errno));
        return;
      }
      b->out.clear();
      b->out_pos = 0;
      update_write_interest(b);
    }, b);
    b->want_write = true;
  } else if (!want && b->want_write) {
    RedisModule_EventLoopDel(b->fd, REDISMODULE_EVENTLOOP_WRITABLE);
    b->want_write = false;
  }
}

void queue_message(Batch* b, std::string msg, Expect e) {
  b->expect.emplace_back(e, msg.size());
  b->inflight_bytes += msg.size();
  if (b->out_pos == b->out.size()) {
    b->out.clear();
    b->out_pos = 0;
  }
  b->out += msg;
  ++b->emitted_msgs;
}

std::string command(std::initializer_list<std::string_view> parts, const std::vector<std::string>* extra = nullptr) {
  std::string out = "*" + std::to_string(parts.size() + (extra ? extra->size() : 0)) + "\r\n";
  for (std::string_view p : parts) append_bulk(out, p);
  if (extra != nullptr) {
    for (const std::string& p : *extra) append_bulk(out, p);
  }
  return out;
}

void finish_timer(RedisModuleCtx* ctx, void* data);

void maybe_finish(Batch* b) {
  if (b->finishing || !b->emission_done() || !b->expect.empty()) return;
  b->finishing = true;
  b->finish_timer_id = RedisModule_CreateTimer(g_ctx, 0, finish_timer, b);
}

void on_readable(int, void* d, int) {
  Batch* b = static_cast<Batch*>(d);
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(b->fd, buf, sizeof(buf), 0);
    if (n > 0) {
      b->in.append(buf, static_cast<size_t>(n));
      if (static_cast<size_t>(n) < sizeof(buf)) break;
      continue;
    }
    if (n == 0) {
      fail(b, "IOERR target closed the connection");
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    fail(b, std::string("IOERR error reading from target: ") + std::strerror(errno));
    return;
  }
  size_t pos = 0;
  for (;;) {
    Reply r;
    Parse p = parse_reply(b->in, &pos, &r);
    if (p == Parse::kIncomplete) break;
    if (p == Parse::kGarbage || b->expect.empty()) {
      fail(b, "target replied garbage: '" + b->in.substr(pos, 64) + "'");
      return;
    }
    auto [kind, size] = b->expect.front();
    b->expect.pop_front();
    b->inflight_bytes -= size;
    b->last_progress_ms = now_ms();
    if (kind == Expect::kStatus) {
      if (r.kind != '+') {
        fail(b, "target refused " + std::string(r.kind == '-' ? "AUTH/SELECT: " + r.text : "AUTH/SELECT"));
        return;
      }
    } else {
      if (r.kind == '-') {
        fail(b, "target refused SLOTSRESTORE-ASYNC: " + r.text);
        return;
      }
      if (r.kind != '*' || r.items.size() != 3 || strcasecmp(r.items[0].c_str(), "SLOTSRESTORE-ASYNC-ACK") != 0) {
        fail(b, "target replied garbage (expected SLOTSRESTORE-ASYNC-ACK)");
        return;
      }
      if (r.items[1] != "0") {
        fail(b, "target failed SLOTSRESTORE-ASYNC: [" + r.items[1] + "] " + r.items[2]);
        return;
      }
    }
  }
  b->in.erase(0, pos);
  if (!b->emission_done() && b->inflight_bytes < static_cast<size_t>(b->maxbytes)) arm_step(b);
  maybe_finish(b);
}

void destroy(Batch* b) {
  if (b->fd >= 0) {
    RedisModule_EventLoopDel(b->fd, REDISMODULE_EVENTLOOP_READABLE | REDISMODULE_EVENTLOOP_WRITABLE);
    ::close(b->fd);
  }
  if (b->step_armed) RedisModule_StopTimer(g_ctx, b->step_timer, nullptr);
  if (b->watchdog != 0) RedisModule_StopTimer(g_ctx, b->watchdog, nullptr);
  if (b->finish_timer_id != 0) RedisModule_StopTimer(g_ctx, b->finish_timer_id, nullptr);
  if (g_batches[b->db] == b) g_batches[b->db] = nullptr;
  for (RedisModuleBlockedClient* f : b->fences) RedisModule_UnblockClient(f, nullptr);
  delete b;
}

void unblock_caller(Batch* b, BatchResult* res) {
  if (b->caller != nullptr) {
    RedisModule_UnblockClient(b->caller, res);
    b->caller = nullptr;
  } else {
    delete res;
  }
}

// Aborts the batch: nothing is deleted on the source; keys half-copied to the
// target expire there by their temporary TTL.
void fail(Batch* b, const std::string& error) {
  RedisModule_Log(nullptr, "warning", "codis_slots: async migration to %s:%d (db %d) failed: %s", b->host.c_str(),
                  b->port, b->db, error.c_str());
  auto* res = new BatchResult();
  res->error = error;
  unblock_caller(b, res);
  destroy(b);
}

void watchdog_timer(RedisModuleCtx*, void* data) {
  Batch* b = static_cast<Batch*>(data);
  b->watchdog = 0;
  if (now_ms() - b->last_progress_ms > b->timeout_ms) {
    fail(b, "IOERR timeout: the target acknowledged nothing for " + std::to_string(b->timeout_ms) + " ms");
    return;
  }
  b->watchdog = RedisModule_CreateTimer(g_ctx, 50, watchdog_timer, b);
}

// --- emission ---------------------------------------------------------------

struct ChunkCollector {
  std::vector<std::string>* args;
  int type;
  long long count = 0;
};

void collect_element(RedisModuleKey*, RedisModuleString* field, RedisModuleString* value, void* privdata) {
  auto* c = static_cast<ChunkCollector*>(privdata);
  c->args->emplace_back(view(field));
  if (c->type == REDISMODULE_KEYTYPE_HASH || c->type == REDISMODULE_KEYTYPE_ZSET) {
    c->args->emplace_back(value != nullptr ? view(value) : std::string_view());
  }
  ++c->count;
}

long long real_ttl(long long abs_expire) {
  if (abs_expire < 0) return 0;
  long long ttl = abs_expire - now_ms();
  return ttl < 1 ? 1 : ttl;
}

// Starts the next key: `delete`, then `object` for a small value. Returns
// false when the key is gone (nothing to send).
bool start_key(RedisModuleCtx* ctx, Batch* b) {
  const std::string& name = b->keys[b->next_key++];
  RedisModuleString* k = RedisModule_CreateString(ctx, name.data(), name.size());
  auto* key = static_cast<RedisModuleKey*>(RedisModule_OpenKey(ctx, k, REDISMODULE_READ));
  int type = key ? RedisModule_KeyType(key) : REDISMODULE_KEYTYPE_EMPTY;
  if (type == REDISMODULE_KEYTYPE_EMPTY) {
    if (key) RedisModule_CloseKey(key);
    RedisModule_FreeString(ctx, k);
    return false;
  }
  long long abs_expire = RedisModule_GetAbsExpire(key);
  long long len = static_cast<long long>(RedisModule_ValueLength(key));
  RedisModule_CloseKey(key);
  queue_message(b, command({"SLOTSRESTORE-ASYNC", "delete", name}), Expect::kAck);
  bool chunked = (type == REDISMODULE_KEYTYPE_HASH || type == REDISMODULE_KEYTYPE_SET ||
                  type == REDISMODULE_KEYTYPE_ZSET || type == REDISMODULE_KEYTYPE_LIST) &&
                 len > b->maxbulks;
  if (!chunked) {
    RedisModuleCallReply* r = RedisModule_Call(ctx, "DUMP", "s", k);
    if (r != nullptr && RedisModule_CallReplyType(r) == REDISMODULE_REPLY_STRING) {
      size_t plen = 0;
      const char* p = RedisModule_CallReplyStringPtr(r, &plen);
      queue_message(b,
                    command({"SLOTSRESTORE-ASYNC", "object", name, std::to_string(real_ttl(abs_expire)),
                             std::string_view(p, plen)}),
                    Expect::kAck);
      b->sent.push_back(name);
    }
    if (r != nullptr) RedisModule_FreeCallReply(r);
    RedisModule_FreeString(ctx, k);
    return true;
  }
  RedisModule_FreeString(ctx, k);
  b->key_active = true;
  b->cur_key = name;
  b->cur_type = type;
  b->cur_abs_expire = abs_expire;
  b->cur_len = len;
  b->list_index = 0;
  if (b->cursor != nullptr) RedisModule_ScanCursorDestroy(b->cursor);
  b->cursor = type == REDISMODULE_KEYTYPE_LIST ? nullptr : RedisModule_ScanCursorCreate();
  b->cursor_done = false;
  return true;
}

// Sends one chunk (at most maxbulks elements) of the big key being migrated,
// or its last `expire` message.
void continue_key(RedisModuleCtx* ctx, Batch* b) {
  const std::string& name = b->cur_key;
  std::vector<std::string> args;
  const char* op = "list";
  bool finished = false;
  bool vanished = false;
  if (b->cur_type == REDISMODULE_KEYTYPE_LIST) {
    RedisModuleString* k = RedisModule_CreateString(ctx, name.data(), name.size());
    RedisModuleCallReply* r =
        RedisModule_Call(ctx, "LRANGE", "sll", k, b->list_index, b->list_index + b->maxbulks - 1);
    RedisModule_FreeString(ctx, k);
    if (r == nullptr || RedisModule_CallReplyType(r) != REDISMODULE_REPLY_ARRAY) {
      vanished = true;
    } else {
      size_t n = RedisModule_CallReplyLength(r);
      for (size_t i = 0; i < n; ++i) {
        size_t len = 0;
        const char* p = RedisModule_CallReplyStringPtr(RedisModule_CallReplyArrayElement(r, i), &len);
        args.emplace_back(p, len);
      }
      b->list_index += static_cast<long long>(n);
      finished = static_cast<long long>(n) < b->maxbulks;
    }
    if (r != nullptr) RedisModule_FreeCallReply(r);
  } else {
    op = b->cur_type == REDISMODULE_KEYTYPE_HASH ? "hash" : b->cur_type == REDISMODULE_KEYTYPE_SET ? "dict" : "zset";
    RedisModuleString* k = RedisModule_CreateString(ctx, name.data(), name.size());
    auto* key = static_cast<RedisModuleKey*>(RedisModule_OpenKey(ctx, k, REDISMODULE_READ));
    RedisModule_FreeString(ctx, k);
    if (key == nullptr || RedisModule_KeyType(key) != b->cur_type) {
      vanished = true;
    } else {
      ChunkCollector c{&args, b->cur_type};
      while (c.count < b->maxbulks) {
        if (!RedisModule_ScanKey(key, b->cursor, collect_element, &c)) {
          finished = true;
          break;
        }
      }
    }
    if (key != nullptr) RedisModule_CloseKey(key);
  }
  if (vanished) {
    // Deleted or retyped behind the wrapper's back: drop the partial copy.
    queue_message(b, command({"SLOTSRESTORE-ASYNC", "delete", name}), Expect::kAck);
    b->key_active = false;
    return;
  }
  if (!args.empty()) {
    // A temporary TTL: a copy left half-done by a dead migration expires.
    std::string ttl = std::to_string(b->timeout_ms * 3);
    queue_message(b, command({"SLOTSRESTORE-ASYNC", op, name, ttl, std::to_string(b->cur_len)}, &args),
                  Expect::kAck);
  }
  if (finished) {
    queue_message(b, command({"SLOTSRESTORE-ASYNC", "expire", name, std::to_string(real_ttl(b->cur_abs_expire))}),
                  Expect::kAck);
    b->sent.push_back(name);
    b->key_active = false;
  }
}

void step_timer(RedisModuleCtx* ctx, void* data) {
  Batch* b = static_cast<Batch*>(data);
  b->step_armed = false;
  RedisModule_SelectDb(ctx, b->db);
  uint64_t start = RedisModule_MonotonicMicroseconds();
  while (!b->emission_done() && b->inflight_bytes < static_cast<size_t>(b->maxbytes) &&
         RedisModule_MonotonicMicroseconds() - start < kStepBudgetUs) {
    if (b->key_active) {
      continue_key(ctx, b);
    } else {
      start_key(ctx, b);
    }
  }
  if (b->connected) {
    // Try to write now; the writable handler takes what does not fit.
    while (b->out_pos < b->out.size()) {
      ssize_t n = ::send(b->fd, b->out.data() + b->out_pos, b->out.size() - b->out_pos, MSG_NOSIGNAL);
      if (n > 0) {
        b->out_pos += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      } else {
        fail(b, std::string("IOERR error writing to target: ") + std::strerror(errno));
        return;
      }
    }
  }
  update_write_interest(b);
  if (!b->emission_done() && b->inflight_bytes < static_cast<size_t>(b->maxbytes)) arm_step(b);
  maybe_finish(b);
}

void arm_step(Batch* b) {
  if (b->step_armed) return;
  b->step_armed = true;
  b->step_timer = RedisModule_CreateTimer(g_ctx, 0, step_timer, b);
}

void finish_timer(RedisModuleCtx* ctx, void* data) {
  Batch* b = static_cast<Batch*>(data);
  b->finish_timer_id = 0;
  RedisModule_SelectDb(ctx, b->db);
  // UNLINK frees big values on a background thread; "!" replicates it.
  constexpr size_t kBatch = 256;
  long long moved = 0;
  for (size_t i = 0; i < b->sent.size(); i += kBatch) {
    std::vector<RedisModuleString*> args;
    for (size_t j = i; j < b->sent.size() && j < i + kBatch; ++j) {
      args.push_back(RedisModule_CreateString(ctx, b->sent[j].data(), b->sent[j].size()));
    }
    RedisModuleCallReply* r = RedisModule_Call(ctx, "UNLINK", "!v", args.data(), args.size());
    if (r != nullptr) RedisModule_FreeCallReply(r);
    for (RedisModuleString* s : args) RedisModule_FreeString(ctx, s);
    moved += static_cast<long long>(args.size());
  }
  auto* res = new BatchResult();
  res->ok = true;
  res->slot_reply = b->slot_reply;
  res->moved = moved;
  res->remaining = g_index->slot_size(b->db, b->slot);
  unblock_caller(b, res);
  destroy(b);
}

int batch_reply(RedisModuleCtx* ctx, RedisModuleString**, int) {
  auto* res = static_cast<BatchResult*>(RedisModule_GetBlockedClientPrivateData(ctx));
  if (res == nullptr) return RedisModule_ReplyWithSimpleString(ctx, "OK");  // a fence
  if (!res->ok) {
    std::string e = res->error.rfind("IOERR", 0) == 0 ? res->error : "ERR " + res->error;
    return RedisModule_ReplyWithError(ctx, e.c_str());
  }
  if (!res->slot_reply) return RedisModule_ReplyWithLongLong(ctx, res->moved);
  RedisModule_ReplyWithArray(ctx, 2);
  RedisModule_ReplyWithLongLong(ctx, res->moved);
  return RedisModule_ReplyWithLongLong(ctx, res->remaining);
}

void batch_free(RedisModuleCtx*, void* privdata) { delete static_cast<BatchResult*>(privdata); }

bool parse_ll(RedisModuleCtx* ctx, RedisModuleString* s, long long lo, long long hi, const char* what,
              long long* out) {
  long long v = 0;
  if (RedisModule_StringToLongLong(s, &v) != REDISMODULE_OK || v < lo || v > hi) {
    std::string msg = std::string("ERR invalid ") + what + " '" + std::string(view(s)) + "' (must be " +
                      std::to_string(lo) + ".." + std::to_string(hi) + ")";
    RedisModule_ReplyWithError(ctx, msg.c_str());
    return false;
  }
  *out = v;
  return true;
}

int connect_nonblocking(const std::string& host, int port, std::string* err) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  // Resolution blocks: keep hosts numeric (Codis stores addresses) or in /etc/hosts.
  int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) {
    *err = "ERR can't resolve target " + host + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = ::socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, res->ai_protocol);
  if (fd >= 0 && ::connect(fd, res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS) {
    *err = "IOERR can't connect to target " + host + ":" + std::to_string(port) + ": " + std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  if (fd >= 0) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  return fd;
}

std::string requirepass(RedisModuleCtx* ctx) {
  std::string pw;
  RedisModuleCallReply* r = RedisModule_Call(ctx, "CONFIG", "cc", "GET", "requirepass");
  if (r != nullptr && RedisModule_CallReplyType(r) == REDISMODULE_REPLY_ARRAY && RedisModule_CallReplyLength(r) == 2) {
    size_t len = 0;
    const char* p = RedisModule_CallReplyStringPtr(RedisModule_CallReplyArrayElement(r, 1), &len);
    if (p != nullptr) pw.assign(p, len);
  }
  if (r != nullptr) RedisModule_FreeCallReply(r);
  return pw;
}

// SLOTSMGRTSLOT-ASYNC / SLOTSMGRTTAGSLOT-ASYNC host port timeout maxbulks maxbytes slot numkeys
// SLOTSMGRTONE-ASYNC / SLOTSMGRTTAGONE-ASYNC  host port timeout maxbulks maxbytes key [key ...]
int migrate_async(RedisModuleCtx* ctx, RedisModuleString** argv, int argc, bool slot_mode, bool tag_mode) {
  if (slot_mode ? argc != 8 : argc < 7) return RedisModule_WrongArity(ctx);
  int flags = RedisModule_GetContextFlags(ctx);
  if (flags & (REDISMODULE_CTX_FLAGS_MULTI | REDISMODULE_CTX_FLAGS_LUA | REDISMODULE_CTX_FLAGS_DENY_BLOCKING)) {
    return RedisModule_ReplyWithError(ctx, "ERR SLOTSMGRT*-ASYNC commands cannot run inside MULTI or scripts");
  }
  long long port = 0, timeout = 0, maxbulks = 0, maxbytes = 0, slot = 0, numkeys = 0;
  if (!parse_ll(ctx, argv[2], 1, 65535, "port", &port) ||
      !parse_ll(ctx, argv[3], 0, INT32_MAX, "timeout", &timeout) ||
      !parse_ll(ctx, argv[4], 0, INT32_MAX, "maxbulks", &maxbulks) ||
      !parse_ll(ctx, argv[5], 0, INT32_MAX, "maxbytes", &maxbytes)) {
    return REDISMODULE_OK;
  }
  if (slot_mode && (!parse_ll(ctx, argv[6], 0, SlotIndex::kSlots - 1, "slot number", &slot) ||
                    !parse_ll(ctx, argv[7], 0, INT32_MAX, "numkeys", &numkeys))) {
    return REDISMODULE_OK;
  }
  if (timeout == 0) timeout = kDefaultTimeoutMs;
  if (maxbulks == 0) maxbulks = 200;
  if (maxbytes == 0) maxbytes = 512 * 1024;
  if (numkeys == 0) numkeys = 100;
  int db = RedisModule_GetSelectedDb(ctx);
  if (db < 0 || db >= kMaxDbs) return RedisModule_ReplyWithError(ctx, "ERR db out of range for async migration");
  if (g_batches[db] != nullptr) {
    return RedisModule_ReplyWithError(
        ctx, "ERR an async migration of this db is still running (SLOTSMGRT-ASYNC-FENCE waits for it)");
  }
  // The batch: keys in insertion order (plus their tag groups for TAG variants).
  std::vector<std::string> keys;
  std::unordered_set<std::string> seen;
  auto add_key = [&](std::string_view k) {
    if (!seen.emplace(k).second) return;
    keys.emplace_back(k);
    std::string_view tag = SlotSet::tag_of(k);
    if (!tag_mode || tag.data() == nullptr) return;
    SlotSet* set = g_index->slot(db, SlotIndex::slot_of(k));
    std::string tag_copy(tag);
    if (set != nullptr) {
      set->for_each_with_tag(tag_copy, [&](std::string_view t) {
        if (seen.emplace(t).second) keys.emplace_back(t);
      });
    }
  };
  if (slot_mode) {
    SlotSet* set = g_index->slot(db, static_cast<uint32_t>(slot));
    std::vector<std::string> firsts;
    if (set != nullptr) set->scan(0, static_cast<size_t>(numkeys), [&](std::string_view k) { firsts.emplace_back(k); });
    for (const std::string& k : firsts) add_key(k);
  } else {
    for (int i = 6; i < argc; ++i) {
      std::string_view k = view(argv[i]);
      slot = SlotIndex::slot_of(k);
      add_key(k);
    }
  }
  if (keys.empty()) {
    if (!slot_mode) return RedisModule_ReplyWithLongLong(ctx, 0);
    RedisModule_ReplyWithArray(ctx, 2);
    RedisModule_ReplyWithLongLong(ctx, 0);
    return RedisModule_ReplyWithLongLong(ctx, g_index->slot_size(db, static_cast<uint32_t>(slot)));
  }
  std::string err;
  std::string host(view(argv[1]));
  int fd = connect_nonblocking(host, static_cast<int>(port), &err);
  if (fd < 0) return RedisModule_ReplyWithError(ctx, err.c_str());

  auto* b = new Batch();
  b->db = db;
  b->host = host;
  b->port = static_cast<int>(port);
  b->timeout_ms = timeout;
  b->maxbulks = maxbulks;
  b->maxbytes = maxbytes;
  b->slot_reply = slot_mode;
  b->slot = static_cast<uint32_t>(slot);
  b->keys = std::move(keys);
  b->locked.insert(b->keys.begin(), b->keys.end());
  b->fd = fd;
  b->last_progress_ms = now_ms();
  std::string pw = requirepass(ctx);
  if (!pw.empty()) queue_message(b, command({"AUTH", pw}), Expect::kStatus);
  queue_message(b, command({"SELECT", std::to_string(db)}), Expect::kStatus);
  g_batches[db] = b;
  RedisModule_EventLoopAdd(fd, REDISMODULE_EVENTLOOP_READABLE, on_readable, b);
  update_write_interest(b);
  b->caller = RedisModule_BlockClient(ctx, batch_reply, nullptr, batch_free, 0);
  b->watchdog = RedisModule_CreateTimer(g_ctx, 50, watchdog_timer, b);
  arm_step(b);
  return REDISMODULE_OK;
}

int cmd_slot_async(RedisModuleCtx* c, RedisModuleString** v, int n) { return migrate_async(c, v, n, true, false); }
int cmd_tagslot_async(RedisModuleCtx* c, RedisModuleString** v, int n) { return migrate_async(c, v, n, true, true); }
int cmd_one_async(RedisModuleCtx* c, RedisModuleString** v, int n) { return migrate_async(c, v, n, false, false); }
int cmd_tagone_async(RedisModuleCtx* c, RedisModuleString** v, int n) { return migrate_async(c, v, n, false, true); }

// SLOTSMGRT-ASYNC-FENCE: waits until this db's batch (if any) has ended.
int cmd_fence(RedisModuleCtx* ctx, RedisModuleString**, int argc) {
  if (argc != 1) return RedisModule_WrongArity(ctx);
  int db = RedisModule_GetSelectedDb(ctx);
  Batch* b = db >= 0 && db < kMaxDbs ? g_batches[db] : nullptr;
  if (b == nullptr) return RedisModule_ReplyWithSimpleString(ctx, "OK");
  if (RedisModule_GetContextFlags(ctx) & (REDISMODULE_CTX_FLAGS_MULTI | REDISMODULE_CTX_FLAGS_LUA |
                                          REDISMODULE_CTX_FLAGS_DENY_BLOCKING)) {
    return RedisModule_ReplyWithError(ctx, "ERR previous operation has not finished (call fence again)");
  }
  b->fences.push_back(RedisModule_BlockClient(ctx, batch_reply, nullptr, batch_free, 0));
  return REDISMODULE_OK;
}

// SLOTSMGRT-ASYNC-CANCEL: aborts this db's batch; replies how many were canceled.
int cmd_cancel(RedisModuleCtx* ctx, RedisModuleString**, int argc) {
  if (argc != 1) return RedisModule_WrongArity(ctx);
  int db = RedisModule_GetSelectedDb(ctx);
  Batch* b = db >= 0 && db < kMaxDbs ? g_batches[db] : nullptr;
  if (b == nullptr) return RedisModule_ReplyWithLongLong(ctx, 0);
  fail(b, "interrupted: canceled");
  return RedisModule_ReplyWithLongLong(ctx, 1);
}

// SLOTSMGRT-ASYNC-STATUS: this db's batch as field/value pairs, or nil.
int cmd_status(RedisModuleCtx* ctx, RedisModuleString**, int argc) {
  if (argc != 1) return RedisModule_WrongArity(ctx);
  int db = RedisModule_GetSelectedDb(ctx);
  Batch* b = db >= 0 && db < kMaxDbs ? g_batches[db] : nullptr;
  if (b == nullptr) return RedisModule_ReplyWithNull(ctx);
  std::vector<std::pair<const char*, std::string>> f = {
      {"host", b->host},
      {"port", std::to_string(b->port)},
      {"db", std::to_string(b->db)},
      {"timeout", std::to_string(b->timeout_ms)},
      {"maxbulks", std::to_string(b->maxbulks)},
      {"maxbytes", std::to_string(b->maxbytes)},
      {"keys", std::to_string(b->keys.size())},
      {"keys_sent", std::to_string(b->sent.size())},
      {"emitted_msgs", std::to_string(b->emitted_msgs)},
      {"pending_msgs", std::to_string(b->expect.size())},
      {"pending_bytes", std::to_string(b->inflight_bytes)},
      {"since_lastuse", std::to_string(now_ms() - b->last_progress_ms)},
      {"blocked_clients", std::to_string((b->caller ? 1 : 0) + b->fences.size())},
  };
  RedisModule_ReplyWithArray(ctx, f.size() * 2);
  for (auto& [k, v] : f) {
    RedisModule_ReplyWithSimpleString(ctx, k);
    RedisModule_ReplyWithStringBuffer(ctx, v.data(), v.size());
  }
  return REDISMODULE_OK;
}

// ---------------------------------------------------------------------------
// Target side

int reply_ack(RedisModuleCtx* ctx, int code, const std::string& msg) {
  RedisModule_ReplyWithArray(ctx, 3);
  RedisModule_ReplyWithStringBuffer(ctx, "SLOTSRESTORE-ASYNC-ACK", 22);
  std::string c = std::to_string(code);
  RedisModule_ReplyWithStringBuffer(ctx, c.data(), c.size());
  return RedisModule_ReplyWithStringBuffer(ctx, msg.data(), msg.size());
}

// Runs a write with replication; on error sets *err.
bool call_write(RedisModuleCtx* ctx, const char* cmd, std::vector<RedisModuleString*>& args, std::string* err,
                long long* integer = nullptr) {
  RedisModuleCallReply* r = RedisModule_Call(ctx, cmd, "!Ev", args.data(), args.size());
  if (r == nullptr) {
    *err = std::string(cmd) + " failed: " + std::strerror(errno);
    return false;
  }
  bool ok = RedisModule_CallReplyType(r) != REDISMODULE_REPLY_ERROR;
  if (!ok) {
    size_t len = 0;
    const char* p = RedisModule_CallReplyStringPtr(r, &len);
    *err = std::string(p, len);
  } else if (integer != nullptr && RedisModule_CallReplyType(r) == REDISMODULE_REPLY_INTEGER) {
    *integer = RedisModule_CallReplyInteger(r);
  }
  RedisModule_FreeCallReply(r);
  return ok;
}

bool set_ttl(RedisModuleCtx* ctx, RedisModuleString* key, long long ttl, std::string* err) {
  std::vector<RedisModuleString*> args{key};
  RedisModuleString* t = nullptr;
  if (ttl > 0) {
    t = RedisModule_CreateStringFromLongLong(ctx, ttl);
    args.push_back(t);
  }
  bool ok = call_write(ctx, ttl > 0 ? "PEXPIRE" : "PERSIST", args, err);
  if (t != nullptr) RedisModule_FreeString(ctx, t);
  return ok;
}

int restore_async(RedisModuleCtx* ctx, RedisModuleString** argv, int argc) {
  if (argc < 3) return reply_ack(ctx, -1, "wrong number of arguments (argc=" + std::to_string(argc) + ")");
  std::string op(view(argv[1]));
  for (char& ch : op) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  std::string err;
  if (op == "select") {
    long long db = 0;
    if (argc != 3 || RedisModule_StringToLongLong(argv[2], &db) != REDISMODULE_OK || db < 0 || db > INT32_MAX ||
        RedisModule_SelectDb(ctx, static_cast<int>(db)) != REDISMODULE_OK) {
      return reply_ack(ctx, -1, "invalid DB index (DB=" + std::string(view(argv[2])) + ")");
    }
    return reply_ack(ctx, 0, std::to_string(db));
  }
  RedisModuleString* key = argv[2];
  if (op == "delete") {
    if (argc != 3) return reply_ack(ctx, -1, "wrong number of arguments (cmd=delete)");
    std::vector<RedisModuleString*> args{key};
    long long n = 0;
    if (!call_write(ctx, "DEL", args, &err, &n)) return reply_ack(ctx, -1, err);
    return reply_ack(ctx, 0, std::to_string(n));
  }
  if (argc < 4) return reply_ack(ctx, -1, "wrong number of arguments (cmd=" + op + ")");
  long long ttl = 0;
  if (RedisModule_StringToLongLong(argv[3], &ttl) != REDISMODULE_OK || ttl < 0) {
    return reply_ack(ctx, -1, "invalid TTL value (TTL=" + std::string(view(argv[3])) + ")");
  }
  if (op == "expire") {
    if (argc != 4) return reply_ack(ctx, -1, "wrong number of arguments (cmd=expire)");
    if (!RedisModule_KeyExists(ctx, key)) {
      return reply_ack(ctx, -1, "the specified key doesn't exist (" + std::string(view(key)) + ")");
    }
    if (!set_ttl(ctx, key, ttl, &err)) return reply_ack(ctx, -1, err);
    return reply_ack(ctx, 0, "1");
  }
  if (op == "object") {
    if (argc != 5) return reply_ack(ctx, -1, "wrong number of arguments (cmd=object)");
    RedisModuleCallReply* r = RedisModule_Call(ctx, "RESTORE", "!Eslsc", key, ttl, argv[4], "REPLACE");
    if (r == nullptr || RedisModule_CallReplyType(r) == REDISMODULE_REPLY_ERROR) {
      size_t len = 0;
      const char* p = r ? RedisModule_CallReplyStringPtr(r, &len) : "RESTORE failed";
      std::string msg(p, r ? len : std::strlen(p));
      if (r != nullptr) RedisModule_FreeCallReply(r);
      return reply_ack(ctx, -1, msg);
    }
    RedisModule_FreeCallReply(r);
    return reply_ack(ctx, 0, "1");
  }
  if (argc < 5) return reply_ack(ctx, -1, "wrong number of arguments (cmd=" + op + ")");
  long long hint = 0;
  if (RedisModule_StringToLongLong(argv[4], &hint) != REDISMODULE_OK || hint < 0) {
    return reply_ack(ctx, -1, "invalid Hint value (Hint=" + std::string(view(argv[4])) + ")");
  }
  int xargc = argc - 5;
  RedisModuleString** xargv = argv + 5;
  const char* cmd = nullptr;
  std::vector<RedisModuleString*> args{key};
  if (op == "list") {
    cmd = "RPUSH";
    args.insert(args.end(), xargv, xargv + xargc);
  } else if (op == "dict") {
    cmd = "SADD";
    args.insert(args.end(), xargv, xargv + xargc);
  } else if (op == "hash") {
    if (xargc % 2 != 0) return reply_ack(ctx, -1, "wrong number of arguments (cmd=hash)");
    cmd = "HSET";
    args.insert(args.end(), xargv, xargv + xargc);
  } else if (op == "zset") {
    if (xargc % 2 != 0) return reply_ack(ctx, -1, "wrong number of arguments (cmd=zset)");
    cmd = "ZADD";
    for (int i = 0; i < xargc; i += 2) {  // ours and Codis's order: member score
      args.push_back(xargv[i + 1]);
      args.push_back(xargv[i]);
    }
  } else {
    return reply_ack(ctx, -1, "unknown command (cmd=" + op + ")");
  }
  if (xargc == 0) {
    if (!RedisModule_KeyExists(ctx, key)) {
      return reply_ack(ctx, -1, "the specified key doesn't exist (" + std::string(view(key)) + ")");
    }
  } else if (!call_write(ctx, cmd, args, &err)) {
    return reply_ack(ctx, -1, err);
  }
  if (!set_ttl(ctx, key, ttl, &err)) return reply_ack(ctx, -1, err);
  auto* k = static_cast<RedisModuleKey*>(RedisModule_OpenKey(ctx, key, REDISMODULE_READ));
  long long len = k ? static_cast<long long>(RedisModule_ValueLength(k)) : 0;
  if (k) RedisModule_CloseKey(k);
  return reply_ack(ctx, 0, std::to_string(len));
}

// SLOTSRESTORE-ASYNC-SELECT db
int restore_async_select(RedisModuleCtx* ctx, RedisModuleString** argv, int argc) {
  if (argc != 2) return reply_ack(ctx, -1, "wrong number of arguments");
  long long db = 0;
  if (RedisModule_StringToLongLong(argv[1], &db) != REDISMODULE_OK || db < 0 || db > INT32_MAX ||
      RedisModule_SelectDb(ctx, static_cast<int>(db)) != REDISMODULE_OK) {
    return reply_ack(ctx, -1, "invalid DB index (DB=" + std::string(view(argv[1])) + ")");
  }
  return reply_ack(ctx, 0, std::to_string(db));
}

// SLOTSRESTORE-ASYNC-AUTH password (for a Codis source; ours sends AUTH).
int restore_async_auth(RedisModuleCtx* ctx, RedisModuleString** argv, int argc) {
  if (argc != 2) return reply_ack(ctx, -1, "wrong number of arguments");
  std::string pw = requirepass(ctx);
  if (pw.empty()) return reply_ack(ctx, -1, "Client sent AUTH, but no password is set");
  if (view(argv[1]) != pw) return reply_ack(ctx, -1, "invalid password");
  if (RedisModule_AuthenticateClientWithACLUser(ctx, "default", 7, nullptr, nullptr, nullptr) != REDISMODULE_OK) {
    return reply_ack(ctx, -1, "the default user is disabled");
  }
  return reply_ack(ctx, 0, "OK");
}

// SLOTSRESTORE-ASYNC-ACK errno message: a Codis target's ACK arrives here only
// when a Codis source's protocol is replayed by hand; ours reads ACKs as replies.
int restore_async_ack(RedisModuleCtx* ctx, RedisModuleString**, int argc) {
  if (argc != 3) return RedisModule_WrongArity(ctx);
  return RedisModule_ReplyWithError(ctx, "ERR no async migration is waiting for this ACK on this connection");
}

}  // namespace

bool async_key_locked(int db, std::string_view key) {
  if (db < 0 || db >= kMaxDbs || g_batches[db] == nullptr) return false;
  return g_batches[db]->locked.count(std::string(key)) != 0;
}

int register_async_commands(RedisModuleCtx* ctx, SlotIndex* index) {
  g_index = index;
  if (g_ctx == nullptr) g_ctx = RedisModule_GetDetachedThreadSafeContext(ctx);
  struct Spec {
    const char* name;
    RedisModuleCmdFunc fn;
    const char* flags;
  };
  const Spec specs[] = {
      {"slotsmgrtslot-async", cmd_slot_async, "write"},
      {"slotsmgrttagslot-async", cmd_tagslot_async, "write"},
      {"slotsmgrtone-async", cmd_one_async, "write"},
      {"slotsmgrttagone-async", cmd_tagone_async, "write"},
      {"slotsmgrt-async-fence", cmd_fence, "readonly"},
      {"slotsmgrt-async-cancel", cmd_cancel, "fast"},
      {"slotsmgrt-async-status", cmd_status, "fast"},
      {"slotsrestore-async", restore_async, "write deny-oom"},
      {"slotsrestore-async-select", restore_async_select, "fast"},
      {"slotsrestore-async-auth", restore_async_auth, "no-auth fast"},
      {"slotsrestore-async-ack", restore_async_ack, "fast"},
  };
  for (const Spec& s : specs) {
    if (RedisModule_CreateCommand(ctx, s.name, s.fn, s.flags, 0, 0, 0) == REDISMODULE_ERR) {
      RedisModule_Log(ctx, "warning", "codis_slots: cannot register command %s", s.name);
      return REDISMODULE_ERR;
    }
  }
  return REDISMODULE_OK;
}

}  // namespace codis::slots
