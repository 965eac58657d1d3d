#define REDISMODULE_API extern  // the function pointers are defined in codis_slots.cc
#include "async_migration.h"
#include "reply_parser.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace codis::slots {
namespace {

constexpr uint64_t kStepBudgetUs = 1000;   // a step holds the event loop ~1 ms at most
constexpr long long kDefaultTimeoutMs = 30000;
constexpr int kMaxDbs = 4096;
constexpr int kMaxFixupRounds = 8;         // unlocked fix-up rounds of a big key before the locked one

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

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
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

// Where a key of the batch is, as the wrapper sees it.
enum class KeyState : uint8_t {
  kOutside,  // not in the batch (lookups only)
  kPending,  // not started: on the source; writes run here (it is read when sent)
  kLocked,   // in flight: on the source, writes get [1] until it is moved or dropped
  kTracked,  // a big hash/set/zset streaming: writes with known members run and are recorded
  kMoved,    // complete on the target (its last message ACKed) and deleted here
  kDropped,  // not moved: it did not exist when its turn came, or it vanished and the
             // target's partial copy was deleted (ACKed), or DUMP failed
};

enum class Expect : char { kStatus, kAck };
enum class OnAck : char { kNone, kComplete, kDropped, kRemove };

struct Pending {
  Expect expect;
  OnAck on_ack;
  uint32_t key;
  size_t size;
};

// A big key's stages: chunks; then wait for every ACK; then fix-up rounds
// (unlocked) of the members written meanwhile; then the final round (locked)
// and the `expire`.
enum class Phase : char { kStream, kDrain, kRound, kFinal };

// The durations of a batch's most recent steps: the 1 ms budget is a promise
// about the typical and the high-percentile step (tests assert both from
// SLOTSMGRT-ASYNC-STATUS), which the longest step alone cannot show.
class StepTimes {
 public:
  void add(uint64_t us) {
    ring_[n_ % kKept] = static_cast<uint32_t>(us > UINT32_MAX ? UINT32_MAX : us);
    ++n_;
  }
  uint64_t count() const { return n_; }
  // The q-quantile (0..1) of the kept steps; 0 before the first step.
  uint64_t quantile(double q) const {
    const size_t kept = n_ < kKept ? static_cast<size_t>(n_) : kKept;
    if (kept == 0) return 0;
    std::vector<uint32_t> v(ring_.begin(), ring_.begin() + static_cast<std::ptrdiff_t>(kept));
    const size_t at = std::min(kept - 1, static_cast<size_t>(q * static_cast<double>(kept)));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(at), v.end());
    return v[at];
  }

 private:
  static constexpr size_t kKept = 4096;
  std::array<uint32_t, kKept> ring_{};
  uint64_t n_ = 0;
};

// What SLOTSMGRT*-ASYNC asked for: where to, how much per round.
struct BatchSpec {
  int db = 0;
  std::string host;
  int port = 0;
  long long timeout_ms = 0;
  long long maxbulks = 0;
  long long maxbytes = 0;
  bool slot_reply = false;   // SLOTSMGRTSLOT/TAGSLOT-ASYNC: the reply carries the slot's remaining keys
  uint32_t slot = 0;
  bool track_writes = true;  // the target takes `remove`
  std::string target() const { return host + ":" + std::to_string(port); }
};

// The batch's keys and where each one is (KeyState).
struct KeyTable {
  std::vector<std::string> names;  // never resized after the batch is built (index holds views)
  std::vector<KeyState> states;
  std::unordered_map<std::string_view, uint32_t> index;
  KeyState state_of(std::string_view k) const {
    auto it = index.find(k);
    return it == index.end() ? KeyState::kOutside : states[it->second];
  }
};

// The connection to the target: non-blocking, with what each awaited reply answers.
struct TargetConn {
  int fd = -1;
  bool connected = false;
  bool want_write = false;
  std::string out;
  size_t out_pos = 0;
  std::string in;
  std::deque<Pending> expect;
  size_t inflight_bytes = 0;
  long long last_progress_ms = 0;
};

// The big key being streamed in chunks, if any (Phase).
struct BigKey {
  bool active = false;
  uint32_t key = 0;  // its index in the KeyTable
  int type = 0;
  long long abs_expire = -1;
  long long len = 0;
  long long list_index = 0;
  RedisModuleScanCursor* cursor = nullptr;
  Phase phase = Phase::kStream;
  int rounds = 0;
  bool waiting_drain = false;             // kDrain: every sent message must be ACKed first
  std::unordered_set<std::string> dirty;  // members of the tracked key written since the last snapshot
  std::unordered_set<std::string> round;  // members of the current fix-up round not sent yet
  BigKey() = default;
  BigKey(const BigKey&) = delete;
  BigKey& operator=(const BigKey&) = delete;
  ~BigKey() {
    if (cursor != nullptr) RedisModule_ScanCursorDestroy(cursor);
  }
};

// Counters for the reply and SLOTSMGRT-ASYNC-STATUS.
struct BatchProgress {
  long long emitted_msgs = 0;
  long long completed = 0;
  long long moved = 0;
  long long fixup_members = 0;
  uint64_t max_step_us = 0;  // the longest step (timer) so far
  StepTimes step_times;      // recent step durations, for STATUS's percentiles
};

// One migration batch of one db: the parts above, the blocked callers, and its timers.
class Batch {
 public:
  BatchSpec spec;
  KeyTable table;
  TargetConn link;
  BigKey big;
  BatchProgress progress;
  size_t next_key = 0;              // the next key of the table to send
  std::vector<uint32_t> to_delete;  // complete on the target, to delete here
  RedisModuleBlockedClient* caller = nullptr;
  std::vector<RedisModuleBlockedClient*> fences;
  bool aborted = false;
  std::string error;

  RedisModuleTimerID step_timer = 0;
  bool step_armed = false;
  RedisModuleTimerID watchdog = 0;

  bool emission_done() const { return next_key >= table.names.size() && !big.active; }
  bool done() const { return emission_done() && link.expect.empty() && to_delete.empty(); }
  KeyState state_of(std::string_view k) const { return table.state_of(k); }
  std::string target() const { return spec.target(); }
};

// What the module keeps across commands for async migration, on Redis's main thread only; set up
// by init() when the module loads.
struct Migrations {
  SlotIndex* index = nullptr;
  RedisModuleCtx* ctx = nullptr;  // a detached context: timers need one that names this module
  // Targets ("host:port") that refused a `remove` message (a Codis-fork target): later batches to
  // them lock a big key for its whole transfer, as Codis does, instead of letting writes through.
  std::unordered_set<std::string>* no_remove_targets = nullptr;
  Batch* batches[kMaxDbs] = {};  // the running batch of each db
  Batch* batch(int db) const { return db >= 0 && db < kMaxDbs ? batches[db] : nullptr; }
};
Migrations g;

void arm_step(Batch* b);
void abort_batch(Batch* b, const std::string& error);

long long now_ms() { return RedisModule_Milliseconds(); }

void close_connection(Batch* b) {
  if (b->link.fd < 0) return;
  RedisModule_EventLoopDel(b->link.fd, REDISMODULE_EVENTLOOP_READABLE | REDISMODULE_EVENTLOOP_WRITABLE);
  ::close(b->link.fd);
  b->link.fd = -1;
  b->link.connected = false;
  b->link.want_write = false;
}

// Writes what it can of the output buffer; false after an error (the batch
// is then aborted).
bool flush_output(Batch* b) {
  while (b->link.out_pos < b->link.out.size()) {
    ssize_t n = ::send(b->link.fd, b->link.out.data() + b->link.out_pos, b->link.out.size() - b->link.out_pos, MSG_NOSIGNAL);
    if (n > 0) {
      b->link.out_pos += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    abort_batch(b, std::string("IOERR error writing to target: ") + std::strerror(errno));
    return false;
  }
  b->link.out.clear();
  b->link.out_pos = 0;
  return true;
}

void update_write_interest(Batch* b) {
  if (b->link.fd < 0) return;
  bool want = !b->link.connected || b->link.out_pos < b->link.out.size();
  if (want && !b->link.want_write) {
    RedisModule_EventLoopAdd(b->link.fd, REDISMODULE_EVENTLOOP_WRITABLE, [](int, void* d, int) {
      Batch* b = static_cast<Batch*>(d);
      if (!b->link.connected) {
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        ::getsockopt(b->link.fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr != 0) {
          abort_batch(b, "IOERR can't connect to target " + b->target() + ": " + std::strerror(soerr));
          return;
        }
        b->link.connected = true;
      }
      if (!flush_output(b)) return;
      update_write_interest(b);
    }, b);
    b->link.want_write = true;
  } else if (!want && b->link.want_write) {
    RedisModule_EventLoopDel(b->link.fd, REDISMODULE_EVENTLOOP_WRITABLE);
    b->link.want_write = false;
  }
}

void queue_message(Batch* b, std::string msg, Expect e, OnAck on_ack = OnAck::kNone, uint32_t key = 0) {
  if (b->link.expect.empty()) b->link.last_progress_ms = now_ms();  // the watchdog counts from here
  b->link.expect.push_back(Pending{e, on_ack, key, msg.size()});
  b->link.inflight_bytes += msg.size();
  if (b->link.out_pos == b->link.out.size()) {
    b->link.out.clear();
    b->link.out_pos = 0;
  }
  b->link.out += msg;
  ++b->progress.emitted_msgs;
}

std::string command(std::initializer_list<std::string_view> parts, const std::vector<std::string>* extra = nullptr) {
  std::string out = "*" + std::to_string(parts.size() + (extra ? extra->size() : 0)) + "\r\n";
  for (std::string_view p : parts) append_bulk(out, p);
  if (extra != nullptr) {
    for (const std::string& p : *extra) append_bulk(out, p);
  }
  return out;
}

// Arms a step when there is something to do: keys to delete, messages to
// produce (below maxbytes, not waiting for ACKs), the end of the batch.
void maybe_arm(Batch* b) {
  if (b->aborted || !b->to_delete.empty() || b->done() ||
      (!b->emission_done() && !b->big.waiting_drain && b->link.inflight_bytes < static_cast<size_t>(b->spec.maxbytes))) {
    arm_step(b);
  }
}

void on_readable(int, void* d, int) {
  Batch* b = static_cast<Batch*>(d);
  char buf[16384];
  std::string closed;  // the connection's end, reported after the replies read before it
  for (;;) {
    ssize_t n = ::recv(b->link.fd, buf, sizeof(buf), 0);
    if (n > 0) {
      b->link.in.append(buf, static_cast<size_t>(n));
      if (static_cast<size_t>(n) < sizeof(buf)) break;
      continue;
    }
    if (n == 0) {
      closed = "IOERR target closed the connection";
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    closed = std::string("IOERR error reading from target: ") + std::strerror(errno);
    break;
  }
  size_t pos = 0;
  for (;;) {
    Reply r;
    Parse p = parse_reply(b->link.in, &pos, &r);
    if (p == Parse::kIncomplete) break;
    if (p == Parse::kGarbage || b->link.expect.empty()) {
      abort_batch(b, "target replied garbage: '" + b->link.in.substr(pos, 64) + "'");
      return;
    }
    Pending m = b->link.expect.front();
    b->link.expect.pop_front();
    b->link.inflight_bytes -= m.size;
    b->link.last_progress_ms = now_ms();
    if (m.expect == Expect::kStatus) {
      if (r.kind != '+') {
        abort_batch(b, "target refused " + std::string(r.kind == '-' ? "AUTH/SELECT: " + r.text : "AUTH/SELECT"));
        return;
      }
      continue;
    }
    std::string failure;
    if (r.kind == '-') {
      failure = "target refused SLOTSRESTORE-ASYNC: " + r.text;
    } else if (r.kind != '*' || r.items.size() != 3 ||
               strcasecmp(r.items[0].c_str(), "SLOTSRESTORE-ASYNC-ACK") != 0) {
      failure = "target replied garbage (expected SLOTSRESTORE-ASYNC-ACK)";
    } else if (r.items[1] != "0") {
      failure = "target failed SLOTSRESTORE-ASYNC: [" + r.items[1] + "] " + r.items[2];
    }
    if (!failure.empty()) {
      if (m.on_ack == OnAck::kRemove) {
        // A Codis-fork target has no `remove`: from now on its batches lock
        // big keys for their whole transfer (nothing to remove then).
        g.no_remove_targets->insert(b->target());
        failure += " (the target does not take SLOTSRESTORE-ASYNC remove; the next batches to it lock big keys "
                   "while they are sent)";
      }
      abort_batch(b, failure);
      return;
    }
    if (m.on_ack == OnAck::kComplete) {
      b->to_delete.push_back(m.key);  // stays locked until it is deleted (next step)
      ++b->progress.completed;
    } else if (m.on_ack == OnAck::kDropped) {
      b->table.states[m.key] = KeyState::kDropped;
    }
  }
  b->link.in.erase(0, pos);
  if (!closed.empty()) {
    abort_batch(b, closed);
    return;
  }
  if (b->big.waiting_drain && b->link.expect.empty()) b->big.waiting_drain = false;
  maybe_arm(b);
}

void destroy(Batch* b) {
  close_connection(b);
  if (b->step_armed) RedisModule_StopTimer(g.ctx, b->step_timer, nullptr);
  if (b->watchdog != 0) RedisModule_StopTimer(g.ctx, b->watchdog, nullptr);
  if (g.batches[b->spec.db] == b) g.batches[b->spec.db] = nullptr;
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

// Marks the batch failed and drops the connection; the next step (a timer,
// where keyspace writes are allowed) ends it. Usable from any callback.
void abort_batch(Batch* b, const std::string& error) {
  if (b->aborted) return;
  RedisModule_Log(nullptr, "warning", "codis_slots: async migration to %s (db %d) failed: %s", b->target().c_str(),
                  b->spec.db, error.c_str());
  b->aborted = true;
  b->error = error;
  close_connection(b);
  arm_step(b);
}

// Deletes (replicated UNLINK; big values are freed on Redis's lazyfree
// thread) the keys whose last message the target has ACKed. They were locked
// from their first message on, so the target's copy equals them.
void delete_completed(RedisModuleCtx* ctx, Batch* b) {
  constexpr size_t kChunk = 256;
  for (size_t i = 0; i < b->to_delete.size(); i += kChunk) {
    std::vector<RedisModuleString*> args;
    for (size_t j = i; j < b->to_delete.size() && j < i + kChunk; ++j) {
      const std::string& k = b->table.names[b->to_delete[j]];
      args.push_back(RedisModule_CreateString(ctx, k.data(), k.size()));
    }
    RedisModuleCallReply* r = RedisModule_Call(ctx, "UNLINK", "!v", args.data(), args.size());
    if (r != nullptr) RedisModule_FreeCallReply(r);
    for (RedisModuleString* s : args) RedisModule_FreeString(ctx, s);
  }
  for (uint32_t k : b->to_delete) b->table.states[k] = KeyState::kMoved;
  b->progress.moved += static_cast<long long>(b->to_delete.size());
  b->to_delete.clear();
}

// Ends the batch (from a timer or a command: deletes). On an abort, keys
// already complete on the target are deleted here as well; every other key
// stays here intact (a partial copy on the target expires by its temporary TTL).
void end_batch(RedisModuleCtx* ctx, Batch* b) {
  RedisModule_SelectDb(ctx, b->spec.db);
  delete_completed(ctx, b);
  auto* res = new BatchResult();
  if (b->aborted) {
    res->error = b->error;
  } else {
    res->ok = true;
    res->slot_reply = b->spec.slot_reply;
    res->moved = b->progress.moved;
    res->remaining = g.index->slot_size(b->spec.db, b->spec.slot);
  }
  unblock_caller(b, res);
  destroy(b);
}

void watchdog_timer(RedisModuleCtx* ctx, void* data) {
  Batch* b = static_cast<Batch*>(data);
  b->watchdog = 0;
  if (!b->aborted && !b->link.expect.empty() && now_ms() - b->link.last_progress_ms > b->spec.timeout_ms) {
    abort_batch(b, "IOERR timeout: the target acknowledged nothing for " + std::to_string(b->spec.timeout_ms) + " ms");
    end_batch(ctx, b);
    return;
  }
  b->watchdog = RedisModule_CreateTimer(g.ctx, 50, watchdog_timer, b);
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

const char* element_op(int type) {
  switch (type) {
    case REDISMODULE_KEYTYPE_HASH: return "hash";
    case REDISMODULE_KEYTYPE_SET: return "dict";
    case REDISMODULE_KEYTYPE_ZSET: return "zset";
    default: return "list";
  }
}

std::string temp_ttl(const Batch* b) { return std::to_string(b->spec.timeout_ms * 3); }

// The big key vanished (expired, evicted, emptied by a write): delete the
// target's partial copy; the key stays locked (the wrapper answers [1] for a
// missing key in flight) until that is ACKed.
void drop_current(Batch* b) {
  b->table.states[b->big.key] = KeyState::kLocked;
  queue_message(b, command({"SLOTSRESTORE-ASYNC", "delete", b->table.names[b->big.key]}), Expect::kAck, OnAck::kDropped, b->big.key);
  b->big.active = false;
  b->big.dirty.clear();
  b->big.round.clear();
}

// True when the current big key is still here with its type (*len gets its
// length, *abs_expire its expire); else drops it (drop_current) and is false.
bool current_key_exists(RedisModuleCtx* ctx, Batch* b, long long* len, long long* abs_expire = nullptr) {
  const std::string& name = b->table.names[b->big.key];
  RedisModuleString* k = RedisModule_CreateString(ctx, name.data(), name.size());
  auto* key = static_cast<RedisModuleKey*>(RedisModule_OpenKey(ctx, k, REDISMODULE_READ));
  RedisModule_FreeString(ctx, k);
  bool ok = key != nullptr && RedisModule_KeyType(key) == b->big.type;
  if (ok) {
    *len = static_cast<long long>(RedisModule_ValueLength(key));
    if (abs_expire != nullptr) *abs_expire = RedisModule_GetAbsExpire(key);
  }
  if (key != nullptr) RedisModule_CloseKey(key);
  if (!ok) drop_current(b);
  return ok;
}

// Starts the next key. A small one: `delete` and `object` (DUMP read now).
// A big one: `delete`, and continue_key sends the rest. The key is locked
// (or tracked) before its first message is produced.
void start_key(RedisModuleCtx* ctx, Batch* b) {
  uint32_t idx = static_cast<uint32_t>(b->next_key++);
  const std::string& name = b->table.names[idx];
  RedisModuleString* k = RedisModule_CreateString(ctx, name.data(), name.size());
  auto* key = static_cast<RedisModuleKey*>(RedisModule_OpenKey(ctx, k, REDISMODULE_READ));
  int type = key ? RedisModule_KeyType(key) : REDISMODULE_KEYTYPE_EMPTY;
  if (type == REDISMODULE_KEYTYPE_EMPTY) {
    if (key) RedisModule_CloseKey(key);
    RedisModule_FreeString(ctx, k);
    b->table.states[idx] = KeyState::kDropped;  // nothing sent: wherever it is now, it was not here
    return;
  }
  long long abs_expire = RedisModule_GetAbsExpire(key);
  long long len = static_cast<long long>(RedisModule_ValueLength(key));
  RedisModule_CloseKey(key);
  bool chunked = (type == REDISMODULE_KEYTYPE_HASH || type == REDISMODULE_KEYTYPE_SET ||
                  type == REDISMODULE_KEYTYPE_ZSET || type == REDISMODULE_KEYTYPE_LIST) &&
                 len > b->spec.maxbulks;
  if (!chunked) {
    b->table.states[idx] = KeyState::kLocked;
    RedisModuleCallReply* r = RedisModule_Call(ctx, "DUMP", "s", k);
    if (r != nullptr && RedisModule_CallReplyType(r) == REDISMODULE_REPLY_STRING) {
      size_t plen = 0;
      const char* p = RedisModule_CallReplyStringPtr(r, &plen);
      queue_message(b, command({"SLOTSRESTORE-ASYNC", "delete", name}), Expect::kAck);
      queue_message(b,
                    command({"SLOTSRESTORE-ASYNC", "object", name, std::to_string(real_ttl(abs_expire)),
                             std::string_view(p, plen)}),
                    Expect::kAck, OnAck::kComplete, idx);
    } else {
      // Not serializable: it stays here (and out of the batch) once the
      // target has dropped any stale copy.
      queue_message(b, command({"SLOTSRESTORE-ASYNC", "delete", name}), Expect::kAck, OnAck::kDropped, idx);
    }
    if (r != nullptr) RedisModule_FreeCallReply(r);
    RedisModule_FreeString(ctx, k);
    return;
  }
  RedisModule_FreeString(ctx, k);
  bool track = b->spec.track_writes && type != REDISMODULE_KEYTYPE_LIST;
  b->table.states[idx] = track ? KeyState::kTracked : KeyState::kLocked;
  queue_message(b, command({"SLOTSRESTORE-ASYNC", "delete", name}), Expect::kAck);
  b->big.active = true;
  b->big.key = idx;
  b->big.type = type;
  b->big.abs_expire = abs_expire;
  b->big.len = len;
  b->big.list_index = 0;
  b->big.phase = Phase::kStream;
  b->big.rounds = 0;
  b->big.dirty.clear();
  b->big.round.clear();
  if (b->big.cursor != nullptr) RedisModule_ScanCursorDestroy(b->big.cursor);
  b->big.cursor = type == REDISMODULE_KEYTYPE_LIST ? nullptr : RedisModule_ScanCursorCreate();
}

// One chunk (at most maxbulks elements) of the big key, read now.
void stream_chunk(RedisModuleCtx* ctx, Batch* b) {
  const std::string& name = b->table.names[b->big.key];
  std::vector<std::string> args;
  bool finished = false;
  if (b->big.type == REDISMODULE_KEYTYPE_LIST) {
    RedisModuleString* k = RedisModule_CreateString(ctx, name.data(), name.size());
    RedisModuleCallReply* r =
        RedisModule_Call(ctx, "LRANGE", "sll", k, b->big.list_index, b->big.list_index + b->spec.maxbulks - 1);
    RedisModule_FreeString(ctx, k);
    bool ok = r != nullptr && RedisModule_CallReplyType(r) == REDISMODULE_REPLY_ARRAY;
    if (ok) {
      size_t n = RedisModule_CallReplyLength(r);
      for (size_t i = 0; i < n; ++i) {
        size_t len = 0;
        const char* p = RedisModule_CallReplyStringPtr(RedisModule_CallReplyArrayElement(r, i), &len);
        args.emplace_back(p, len);
      }
      b->big.list_index += static_cast<long long>(n);
      finished = static_cast<long long>(n) < b->spec.maxbulks;
    }
    if (r != nullptr) RedisModule_FreeCallReply(r);
    if (!ok) {
      drop_current(b);
      return;
    }
    long long len = 0;
    // LRANGE of a missing key is an empty array: check the key itself.
    if (args.empty() && !current_key_exists(ctx, b, &len)) return;
  } else {
    RedisModuleString* k = RedisModule_CreateString(ctx, name.data(), name.size());
    auto* key = static_cast<RedisModuleKey*>(RedisModule_OpenKey(ctx, k, REDISMODULE_READ));
    RedisModule_FreeString(ctx, k);
    if (key == nullptr || RedisModule_KeyType(key) != b->big.type) {
      if (key != nullptr) RedisModule_CloseKey(key);
      drop_current(b);
      return;
    }
    ChunkCollector c{&args, b->big.type};
    while (c.count < b->spec.maxbulks) {
      if (!RedisModule_ScanKey(key, b->big.cursor, collect_element, &c)) {
        finished = true;
        break;
      }
    }
    RedisModule_CloseKey(key);
  }
  if (!args.empty()) {
    // A temporary TTL: a copy left half-done by a dead migration expires.
    queue_message(b,
                  command({"SLOTSRESTORE-ASYNC", element_op(b->big.type), name, temp_ttl(b),
                           std::to_string(b->big.len)},
                          &args),
                  Expect::kAck);
  }
  if (!finished) return;
  if (b->table.states[b->big.key] == KeyState::kTracked) {
    b->big.phase = Phase::kDrain;
    return;
  }
  queue_message(b, command({"SLOTSRESTORE-ASYNC", "expire", name, std::to_string(real_ttl(b->big.abs_expire))}),
                Expect::kAck, OnAck::kComplete, b->big.key);
  b->big.active = false;
}

// Sends the current state of up to maxbulks members of the fix-up round:
// their value (score) with the element op, or `remove` for a member that is
// gone. Reads them now; a member written after this is dirty again.
void send_fixups(RedisModuleCtx* ctx, Batch* b) {
  long long len = 0;
  if (!current_key_exists(ctx, b, &len)) return;
  std::vector<std::string> members;
  while (!b->big.round.empty() && static_cast<long long>(members.size()) < b->spec.maxbulks) {
    members.push_back(std::move(b->big.round.extract(b->big.round.begin()).value()));
  }
  const std::string& name = b->table.names[b->big.key];
  RedisModuleString* k = RedisModule_CreateString(ctx, name.data(), name.size());
  std::vector<RedisModuleString*> margs;
  margs.reserve(members.size());
  for (const std::string& m : members) margs.push_back(RedisModule_CreateString(ctx, m.data(), m.size()));
  const char* cmd = b->big.type == REDISMODULE_KEYTYPE_HASH  ? "HMGET"
                    : b->big.type == REDISMODULE_KEYTYPE_SET ? "SMISMEMBER"
                                                             : "ZMSCORE";
  RedisModuleCallReply* r = RedisModule_Call(ctx, cmd, "sv", k, margs.data(), margs.size());
  RedisModule_FreeString(ctx, k);
  for (RedisModuleString* s : margs) RedisModule_FreeString(ctx, s);
  if (r == nullptr || RedisModule_CallReplyType(r) != REDISMODULE_REPLY_ARRAY ||
      RedisModule_CallReplyLength(r) != members.size()) {
    if (r != nullptr) RedisModule_FreeCallReply(r);
    abort_batch(b, std::string("cannot read the members written during the migration (") + cmd + " failed)");
    return;
  }
  std::vector<std::string> adds, removes;
  for (size_t i = 0; i < members.size(); ++i) {
    RedisModuleCallReply* e = RedisModule_CallReplyArrayElement(r, i);
    int t = RedisModule_CallReplyType(e);
    bool present = b->big.type == REDISMODULE_KEYTYPE_SET
                       ? t == REDISMODULE_REPLY_INTEGER && RedisModule_CallReplyInteger(e) == 1
                       : t == REDISMODULE_REPLY_STRING;
    if (!present) {
      removes.push_back(std::move(members[i]));
      continue;
    }
    adds.push_back(std::move(members[i]));
    if (b->big.type != REDISMODULE_KEYTYPE_SET) {
      size_t vlen = 0;
      const char* v = RedisModule_CallReplyStringPtr(e, &vlen);
      adds.emplace_back(v, vlen);  // hash value, or zset score (`member score`, as the chunks)
    }
  }
  RedisModule_FreeCallReply(r);
  b->progress.fixup_members += static_cast<long long>(members.size());
  if (!adds.empty()) {
    queue_message(b,
                  command({"SLOTSRESTORE-ASYNC", element_op(b->big.type), name, temp_ttl(b), std::to_string(len)},
                          &adds),
                  Expect::kAck);
  }
  if (!removes.empty()) {
    queue_message(b, command({"SLOTSRESTORE-ASYNC", "remove", name}, &removes), Expect::kAck, OnAck::kRemove,
                  b->big.key);
  }
}

// The next message(s) of the big key being sent.
void continue_key(RedisModuleCtx* ctx, Batch* b) {
  switch (b->big.phase) {
    case Phase::kStream:
      stream_chunk(ctx, b);
      return;
    case Phase::kDrain: {
      // Every chunk and earlier fix-up ACKed: the locked round below then
      // lasts one round trip, not the delivery of a backlog.
      if (!b->link.expect.empty()) {
        b->big.waiting_drain = true;
        return;
      }
      long long len = 0;
      if (!current_key_exists(ctx, b, &len)) return;
      b->big.round.swap(b->big.dirty);  // round is empty here
      if (static_cast<long long>(b->big.round.size()) > b->spec.maxbulks && b->big.rounds < kMaxFixupRounds) {
        ++b->big.rounds;
        b->big.phase = Phase::kRound;  // writes still run; members written meanwhile go to the next round
      } else {
        b->table.states[b->big.key] = KeyState::kLocked;  // from here on writes get [1]
        b->big.phase = Phase::kFinal;
      }
      return;
    }
    case Phase::kRound:
    case Phase::kFinal: {
      if (!b->big.round.empty()) {
        send_fixups(ctx, b);
        return;
      }
      if (b->big.phase == Phase::kRound) {
        b->big.phase = Phase::kDrain;
        return;
      }
      long long len = 0, abs_expire = -1;
      if (!current_key_exists(ctx, b, &len, &abs_expire)) return;
      queue_message(b,
                    command({"SLOTSRESTORE-ASYNC", "expire", b->table.names[b->big.key], std::to_string(real_ttl(abs_expire))}),
                    Expect::kAck, OnAck::kComplete, b->big.key);
      b->big.active = false;
      return;
    }
  }
}

void step_timer(RedisModuleCtx* ctx, void* data) {
  Batch* b = static_cast<Batch*>(data);
  b->step_armed = false;
  RedisModule_SelectDb(ctx, b->spec.db);
  if (b->aborted) {
    end_batch(ctx, b);
    return;
  }
  uint64_t start = RedisModule_MonotonicMicroseconds();
  delete_completed(ctx, b);
  if (b->done()) {
    end_batch(ctx, b);
    return;
  }
  while (!b->aborted && !b->emission_done() && !b->big.waiting_drain &&
         b->link.inflight_bytes < static_cast<size_t>(b->spec.maxbytes) &&
         RedisModule_MonotonicMicroseconds() - start < kStepBudgetUs) {
    if (b->big.active) {
      continue_key(ctx, b);
    } else {
      start_key(ctx, b);
    }
  }
  // Try to write now; the writable handler takes what does not fit.
  if (!b->aborted && b->link.connected) flush_output(b);
  if (b->aborted) {
    end_batch(ctx, b);
    return;
  }
  update_write_interest(b);
  maybe_arm(b);
  uint64_t took = RedisModule_MonotonicMicroseconds() - start;
  if (took > b->progress.max_step_us) b->progress.max_step_us = took;
  b->progress.step_times.add(took);
}

void arm_step(Batch* b) {
  if (b->step_armed) return;
  b->step_armed = true;
  b->step_timer = RedisModule_CreateTimer(g.ctx, 0, step_timer, b);
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
  if (g.batches[db] != nullptr) {
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
    SlotSet* set = g.index->slot(db, SlotIndex::slot_of(k));
    std::string tag_copy(tag);
    if (set != nullptr) {
      set->for_each_with_tag(tag_copy, [&](std::string_view t) {
        if (seen.emplace(t).second) keys.emplace_back(t);
      });
    }
  };
  if (slot_mode) {
    SlotSet* set = g.index->slot(db, static_cast<uint32_t>(slot));
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
    return RedisModule_ReplyWithLongLong(ctx, g.index->slot_size(db, static_cast<uint32_t>(slot)));
  }
  std::string err;
  std::string host(view(argv[1]));
  int fd = connect_nonblocking(host, static_cast<int>(port), &err);
  if (fd < 0) return RedisModule_ReplyWithError(ctx, err.c_str());

  auto* b = new Batch();
  b->spec.db = db;
  b->spec.host = host;
  b->spec.port = static_cast<int>(port);
  b->spec.timeout_ms = timeout;
  b->spec.maxbulks = maxbulks;
  b->spec.maxbytes = maxbytes;
  b->spec.slot_reply = slot_mode;
  b->spec.slot = static_cast<uint32_t>(slot);
  b->spec.track_writes = g.no_remove_targets->count(b->target()) == 0;
  b->table.names = std::move(keys);
  b->table.states.assign(b->table.names.size(), KeyState::kPending);
  b->table.index.reserve(b->table.names.size());
  for (uint32_t i = 0; i < b->table.names.size(); ++i) b->table.index.emplace(b->table.names[i], i);
  b->link.fd = fd;
  b->link.last_progress_ms = now_ms();
  std::string pw = requirepass(ctx);
  if (!pw.empty()) queue_message(b, command({"AUTH", pw}), Expect::kStatus);
  queue_message(b, command({"SELECT", std::to_string(db)}), Expect::kStatus);
  g.batches[db] = b;
  RedisModule_EventLoopAdd(fd, REDISMODULE_EVENTLOOP_READABLE, on_readable, b);
  update_write_interest(b);
  b->caller = RedisModule_BlockClient(ctx, batch_reply, nullptr, batch_free, 0);
  b->watchdog = RedisModule_CreateTimer(g.ctx, 50, watchdog_timer, b);
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
  Batch* b = g.batch(db);
  if (b == nullptr) return RedisModule_ReplyWithSimpleString(ctx, "OK");
  if (RedisModule_GetContextFlags(ctx) & (REDISMODULE_CTX_FLAGS_MULTI | REDISMODULE_CTX_FLAGS_LUA |
                                          REDISMODULE_CTX_FLAGS_DENY_BLOCKING)) {
    return RedisModule_ReplyWithError(ctx, "ERR previous operation has not finished (call fence again)");
  }
  b->fences.push_back(RedisModule_BlockClient(ctx, batch_reply, nullptr, batch_free, 0));
  return REDISMODULE_OK;
}

// SLOTSMGRT-ASYNC-CANCEL: aborts this db's batch; replies how many were canceled.
// Keys already complete on the target are deleted here; the others stay.
int cmd_cancel(RedisModuleCtx* ctx, RedisModuleString**, int argc) {
  if (argc != 1) return RedisModule_WrongArity(ctx);
  int db = RedisModule_GetSelectedDb(ctx);
  Batch* b = g.batch(db);
  if (b == nullptr) return RedisModule_ReplyWithLongLong(ctx, 0);
  bool was_aborted = b->aborted;
  abort_batch(b, "interrupted: canceled");
  end_batch(ctx, b);
  return RedisModule_ReplyWithLongLong(ctx, was_aborted ? 0 : 1);
}

// SLOTSMGRT-ASYNC-STATUS: this db's batch as field/value pairs, or nil.
int cmd_status(RedisModuleCtx* ctx, RedisModuleString**, int argc) {
  if (argc != 1) return RedisModule_WrongArity(ctx);
  int db = RedisModule_GetSelectedDb(ctx);
  Batch* b = g.batch(db);
  if (b == nullptr) return RedisModule_ReplyWithNull(ctx);
  long long pending = 0;
  for (KeyState s : b->table.states) pending += s == KeyState::kPending;
  std::vector<std::pair<const char*, std::string>> f = {
      {"host", b->spec.host},
      {"port", std::to_string(b->spec.port)},
      {"db", std::to_string(b->spec.db)},
      {"timeout", std::to_string(b->spec.timeout_ms)},
      {"maxbulks", std::to_string(b->spec.maxbulks)},
      {"maxbytes", std::to_string(b->spec.maxbytes)},
      {"keys", std::to_string(b->table.names.size())},
      {"keys_pending", std::to_string(pending)},
      {"keys_sent", std::to_string(b->progress.completed)},
      {"keys_moved", std::to_string(b->progress.moved)},
      {"current_key", b->big.active ? b->table.names[b->big.key] : std::string()},
      {"current_key_writable", b->big.active && b->table.states[b->big.key] == KeyState::kTracked ? "1" : "0"},
      {"dirty_members", std::to_string(b->big.dirty.size() + b->big.round.size())},
      {"fixup_members", std::to_string(b->progress.fixup_members)},
      {"emitted_msgs", std::to_string(b->progress.emitted_msgs)},
      {"max_step_us", std::to_string(b->progress.max_step_us)},
      {"steps", std::to_string(b->progress.step_times.count())},
      {"step_p50_us", std::to_string(b->progress.step_times.quantile(0.50))},
      {"step_p99_us", std::to_string(b->progress.step_times.quantile(0.99))},
      {"pending_msgs", std::to_string(b->link.expect.size())},
      {"pending_bytes", std::to_string(b->link.inflight_bytes)},
      {"since_lastuse", std::to_string(now_ms() - b->link.last_progress_ms)},
      {"blocked_clients", std::to_string((b->caller ? 1 : 0) + b->fences.size())},
  };
  RedisModule_ReplyWithArray(ctx, f.size() * 2);
  for (auto& [k, v] : f) {
    RedisModule_ReplyWithSimpleString(ctx, k);
    RedisModule_ReplyWithStringBuffer(ctx, v.data(), v.size());
  }
  return REDISMODULE_OK;
}

// --- the wrapper's view -----------------------------------------------------

// Records the members a write to the tracked big key touches, when they are
// known from its arguments (argv[0] the command, argv[1] the key); false for
// any other command (it then gets [1]). Recording too much is harmless (a
// member's current state is sent again); too little would lose a write.
bool record_write(Batch* b, RedisModuleString** argv, int argc) {
  if (argc < 3) return false;
  std::string cmd = lower(view(argv[0]));
  int type = b->big.type;
  auto all_from = [&](int i) {
    for (; i < argc; ++i) b->big.dirty.emplace(view(argv[i]));
  };
  if (type == REDISMODULE_KEYTYPE_HASH) {
    if (cmd == "hset" || cmd == "hmset") {
      if ((argc - 2) % 2 != 0) return false;  // an arity error: nothing runs
      for (int i = 2; i < argc; i += 2) b->big.dirty.emplace(view(argv[i]));
      return true;
    }
    if (cmd == "hsetnx" || cmd == "hincrby" || cmd == "hincrbyfloat") {
      if (argc != 4) return false;
      b->big.dirty.emplace(view(argv[2]));
      return true;
    }
    if (cmd == "hdel") {
      all_from(2);
      return true;
    }
    return false;
  }
  if (type == REDISMODULE_KEYTYPE_SET) {
    if (cmd == "sadd" || cmd == "srem") {
      all_from(2);
      return true;
    }
    return false;
  }
  if (type == REDISMODULE_KEYTYPE_ZSET) {
    if (cmd == "zadd") {
      // ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
      int i = 2;
      while (i < argc) {
        std::string opt = lower(view(argv[i]));
        if (opt != "nx" && opt != "xx" && opt != "gt" && opt != "lt" && opt != "ch" && opt != "incr") break;
        ++i;
      }
      if (i >= argc || (argc - i) % 2 != 0) {
        all_from(2);  // not the syntax we know: every argument may be a member
        return true;
      }
      for (; i + 1 < argc; i += 2) b->big.dirty.emplace(view(argv[i + 1]));
      return true;
    }
    if (cmd == "zincrby") {
      if (argc != 4) return false;
      b->big.dirty.emplace(view(argv[3]));
      return true;
    }
    if (cmd == "zrem") {
      all_from(2);
      return true;
    }
    return false;
  }
  return false;
}

}  // namespace

bool async_key_locked(int db, std::string_view key) {
  if (db < 0 || db >= kMaxDbs || g.batches[db] == nullptr) return false;
  KeyState s = g.batches[db]->state_of(key);
  return s == KeyState::kPending || s == KeyState::kLocked || s == KeyState::kTracked;
}

// Where the command's keys are decides (S: on the source and part of the
// batch, T: moved to the target by the batch):
//  1. the hashkey is in flight but missing here (expired, emptied): [1] until
//     its fate is settled (moved, or the target's partial copy deleted);
//  2. keys on both sides (S and T): [1], until the S keys move too;
//  3. the hashkey is not here: [1] if another key is in S, else [0];
//  4. a key of the command was moved (T) while the hashkey is here: [1];
//  5. a write to the tracked big key whose members are known: recorded, run;
//  6. no key in flight, and every key of the command here (or, when none is
//     in the batch, as without a batch): run; keys not started yet are read
//     when they are sent;
//  7. else: reads run, writes (and scripts that may write) get [1]: a key of
//     the batch in flight, or one missing here that may be on the target.
WrapperGate async_wrapper_gate(RedisModuleCtx* ctx, RedisModuleString* hashkey, RedisModuleString** cmdv,
                               int cmdc) {
  bool exists = RedisModule_KeyExists(ctx, hashkey);
  int db = RedisModule_GetSelectedDb(ctx);
  Batch* b = g.batch(db);
  if (b == nullptr) return exists ? WrapperGate::kRun : WrapperGate::kNotHere;
  std::string_view hk = view(hashkey);
  KeyState hs = b->state_of(hk);
  bool any_src = false, any_moved = false, any_busy = false, any_batch = false, any_missing = false;
  bool only_hashkey = true;
  std::vector<RedisModuleString*> others;  // keys outside the batch (existence checked if needed)
  auto classify = [&](KeyState s, bool here) {
    switch (s) {
      case KeyState::kPending:
        any_batch = true;
        (here ? any_src : any_missing) = true;  // a missing pending key may be on the target
        break;
      case KeyState::kLocked:
      case KeyState::kTracked:
        any_batch = any_src = any_busy = true;
        break;
      case KeyState::kMoved:
        any_moved = true;
        break;
      default:
        break;
    }
  };
  classify(hs, exists);
  int nkeys = 0;
  int* pos = RedisModule_GetCommandKeys(ctx, cmdv, cmdc, &nkeys);
  if (pos != nullptr) {
    for (int i = 0; i < nkeys; ++i) {
      if (pos[i] <= 0 || pos[i] >= cmdc) continue;
      RedisModuleString* ks = cmdv[pos[i]];
      std::string_view k = view(ks);
      if (k == hk) continue;
      only_hashkey = false;
      KeyState s = b->state_of(k);
      if (s == KeyState::kOutside || s == KeyState::kDropped) {
        others.push_back(ks);
      } else {
        classify(s, s == KeyState::kPending && RedisModule_KeyExists(ctx, ks));
      }
    }
    RedisModule_Free(pos);
  }
  if (!exists && (hs == KeyState::kLocked || hs == KeyState::kTracked)) return WrapperGate::kRetry;
  if (any_src && any_moved) return WrapperGate::kRetry;
  if (!exists) return any_src ? WrapperGate::kRetry : WrapperGate::kNotHere;
  if (any_moved) return WrapperGate::kRetry;
  if (hs == KeyState::kTracked && b->big.active && b->table.names[b->big.key] == hk && only_hashkey && cmdc >= 2 &&
      view(cmdv[1]) == hk && record_write(b, cmdv, cmdc)) {
    return WrapperGate::kRun;
  }
  if (any_batch) {  // (without a key of the batch: as if there were no batch)
    for (RedisModuleString* ks : others) any_missing = any_missing || !RedisModule_KeyExists(ctx, ks);
  }
  if (!any_busy && !any_missing) return WrapperGate::kRun;
  // RM_Call's "W" cannot tell whether a script writes (EVAL is not flagged write).
  std::string cmd = lower(view(cmdv[0]));
  if (cmd == "eval" || cmd == "evalsha" || cmd == "fcall") return WrapperGate::kRetry;
  return WrapperGate::kRunReadOnly;
}

namespace {

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
  if (op == "remove") {
    // remove key member [member ...]: members deleted on the source while the
    // key was being sent (ours only; a Codis-fork target refuses it).
    if (argc < 4) return reply_ack(ctx, -1, "wrong number of arguments (cmd=remove)");
    auto* k = static_cast<RedisModuleKey*>(RedisModule_OpenKey(ctx, key, REDISMODULE_READ));
    int type = k ? RedisModule_KeyType(k) : REDISMODULE_KEYTYPE_EMPTY;
    if (k) RedisModule_CloseKey(k);
    const char* cmd = type == REDISMODULE_KEYTYPE_HASH  ? "HDEL"
                      : type == REDISMODULE_KEYTYPE_SET  ? "SREM"
                      : type == REDISMODULE_KEYTYPE_ZSET ? "ZREM"
                                                         : nullptr;
    if (type == REDISMODULE_KEYTYPE_EMPTY) return reply_ack(ctx, 0, "0");
    if (cmd == nullptr) {
      return reply_ack(ctx, -1, "WRONGTYPE remove needs a hash, set or sorted set (" + std::string(view(key)) + ")");
    }
    std::vector<RedisModuleString*> args(argv + 2, argv + argc);
    long long n = 0;
    if (!call_write(ctx, cmd, args, &err, &n)) return reply_ack(ctx, -1, err);
    return reply_ack(ctx, 0, std::to_string(n));
  }
  if (op == "delete") {
    if (argc != 3) return reply_ack(ctx, -1, "wrong number of arguments (cmd=delete)");
    std::vector<RedisModuleString*> args{key};
    long long n = 0;
    // UNLINK: a stale big copy (from an aborted batch) is freed off the main thread.
    if (!call_write(ctx, "UNLINK", args, &err, &n)) return reply_ack(ctx, -1, err);
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

int register_async_commands(RedisModuleCtx* ctx, SlotIndex* index) {
  g.index = index;
  if (g.ctx == nullptr) g.ctx = RedisModule_GetDetachedThreadSafeContext(ctx);
  if (g.no_remove_targets == nullptr) g.no_remove_targets = new std::unordered_set<std::string>();
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
      // deny-script: ACLs do not apply to a no-auth command, so a script (run through a proxy as the restricted
      // backend user) could otherwise call it in a loop to guess requirepass.
      {"slotsrestore-async-auth", restore_async_auth, "no-auth fast deny-script"},
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
