// codis_slots: the Redis module entry point, its event handlers and the
// SLOTS* commands (Codis 3.2's syntax and replies).
//
// Keyspace and server events keep a SlotIndex equal to the keyspace of every
// db; commands read it. Every keyspace write this module makes goes through
// RedisModule_Call with "!" (so replicas and the AOF see it) and is made from
// a command or a blocked client's reply callback, never from an event-loop
// callback (see docs/design.md §6.1). The sync migrations block only their
// caller: keys are serialized here, shipped by the TargetLink worker, and
// deleted here when the target has acknowledged them unchanged.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "redismodule.h"
#include "async_migration.h"
#include "slot_index.h"
#include "target_link.h"

namespace codis::slots {
namespace {

SlotIndex* g_index = nullptr;

std::string_view view(RedisModuleString* s) {
  size_t len = 0;
  const char* p = RedisModule_StringPtrLen(s, &len);
  return {p, len};
}

int reply_error(RedisModuleCtx* ctx, const std::string& msg) { return RedisModule_ReplyWithError(ctx, msg.c_str()); }

bool parse_ll(RedisModuleCtx* ctx, RedisModuleString* s, long long lo, long long hi, const char* what,
              long long* out) {
  long long v = 0;
  if (RedisModule_StringToLongLong(s, &v) != REDISMODULE_OK) {
    reply_error(ctx, std::string("ERR invalid ") + what + " '" + std::string(view(s)) + "': not an integer");
    return false;
  }
  if (v < lo || v > hi) {
    reply_error(ctx, std::string("ERR invalid ") + what + " = " + std::to_string(v) + " (must be " +
                         std::to_string(lo) + ".." + std::to_string(hi) + ")");
    return false;
  }
  *out = v;
  return true;
}

bool parse_slot(RedisModuleCtx* ctx, RedisModuleString* s, uint32_t* slot) {
  long long v = 0;
  if (!parse_ll(ctx, s, 0, SlotIndex::kSlots - 1, "slot number", &v)) return false;
  *slot = static_cast<uint32_t>(v);
  return true;
}

// ---------------------------------------------------------------------------
// Events

int on_keyspace_event(RedisModuleCtx* ctx, int type, const char* event, RedisModuleString* key) {
  int db = RedisModule_GetSelectedDb(ctx);
  std::string_view k = view(key);
  switch (type) {
    case REDISMODULE_NOTIFY_NEW:
    case REDISMODULE_NOTIFY_LOADED:
      g_index->add(db, k);
      break;
    case REDISMODULE_NOTIFY_EXPIRED:
    case REDISMODULE_NOTIFY_EVICTED:
      g_index->remove(db, k);
      break;
    case REDISMODULE_NOTIFY_GENERIC:
      if (std::strcmp(event, "del") == 0 || std::strcmp(event, "rename_from") == 0 ||
          std::strcmp(event, "move_from") == 0) {
        g_index->remove(db, k);
      } else if (std::strcmp(event, "rename_to") == 0 || std::strcmp(event, "move_to") == 0 ||
                 std::strcmp(event, "copy_to") == 0 || std::strcmp(event, "restore") == 0) {
        g_index->add(db, k);  // `new` already did; adds are idempotent
      }
      break;
    default:
      break;
  }
  return REDISMODULE_OK;
}

void on_flushdb(RedisModuleCtx*, RedisModuleEvent, uint64_t subevent, void* data) {
  if (subevent != REDISMODULE_SUBEVENT_FLUSHDB_START) return;
  auto* info = static_cast<RedisModuleFlushInfo*>(data);
  g_index->flush(info->dbnum);  // -1: every db
}

void on_swapdb(RedisModuleCtx*, RedisModuleEvent, uint64_t, void* data) {
  auto* info = static_cast<RedisModuleSwapDbInfo*>(data);
  g_index->swap(info->dbnum_first, info->dbnum_second);
}

void on_info(RedisModuleInfoCtx* ctx, int) {
  RedisModule_InfoAddSection(ctx, "index");
  RedisModule_InfoAddFieldULongLong(ctx, "index_bytes", g_index->memory());
}

// ---------------------------------------------------------------------------
// Read commands

// SLOTSHASHKEY [key ...]
int cmd_slotshashkey(RedisModuleCtx* ctx, RedisModuleString** argv, int argc) {
  RedisModule_ReplyWithArray(ctx, argc - 1);
  for (int i = 1; i < argc; ++i) RedisModule_ReplyWithLongLong(ctx, SlotIndex::slot_of(view(argv[i])));
  return REDISMODULE_OK;
}

// SLOTSINFO [start] [count] -> [[slot, size], ...] for the non-empty slots
int cmd_slotsinfo(RedisModuleCtx* ctx, RedisModuleString** argv, int argc) {
  if (argc > 3) return RedisModule_WrongArity(ctx);
  uint32_t begin = 0, end = SlotIndex::kSlots;
  if (argc >= 2 && !parse_slot(ctx, argv[1], &begin)) return REDISMODULE_OK;
  if (argc >= 3) {
    long long count = 0;
    if (!parse_ll(ctx, argv[2], 0, INT32_MAX, "slot count", &count)) return REDISMODULE_OK;
    if (begin + count < end) end = static_cast<uint32_t>(begin + count);
  }
  int db = RedisModule_GetSelectedDb(ctx);
  long n = 0;
  RedisModule_ReplyWithArray(ctx, REDISMODULE_POSTPONED_LEN);
  for (uint32_t s = begin; s < end; ++s) {
    uint32_t size = g_index->slot_size(db, s);
    if (size == 0) continue;
    RedisModule_ReplyWithArray(ctx, 2);
    RedisModule_ReplyWithLongLong(ctx, s);
    RedisModule_ReplyWithLongLong(ctx, size);
    ++n;
  }
  RedisModule_ReplySetArrayLength(ctx, n);
  return REDISMODULE_OK;
}

// SLOTSSCAN slot cursor [COUNT count] -> [next-cursor, [key, ...]]
int cmd_slotsscan(RedisModuleCtx* ctx, RedisModuleString** argv, int argc) {
  if (argc != 3 && argc != 5) return RedisModule_WrongArity(ctx);
  uint32_t slot = 0;
  if (!parse_slot(ctx, argv[1], &slot)) return REDISMODULE_OK;
  std::string cur(view(argv[2]));
  char* endp = nullptr;
  errno = 0;
  unsigned long long cursor = std::strtoull(cur.c_str(), &endp, 10);
  if (cur.empty() || *endp != '\0' || errno != 0) return reply_error(ctx, "ERR invalid cursor");
  long long count = 10;
  if (argc == 5) {
    std::string opt(view(argv[3]));
    if (strcasecmp(opt.c_str(), "count") != 0) return reply_error(ctx, "ERR syntax error");
    if (!parse_ll(ctx, argv[4], 1, INT32_MAX, "COUNT", &count)) return REDISMODULE_OK;
  }
  SlotSet* set = g_index->slot(RedisModule_GetSelectedDb(ctx), slot);
  std::vector<std::string_view> keys;
  uint64_t next = 0;
  if (set != nullptr) next = set->scan(cursor, static_cast<size_t>(count), [&](std::string_view k) { keys.push_back(k); });
  RedisModule_ReplyWithArray(ctx, 2);
  std::string next_s = std::to_string(next);
  RedisModule_ReplyWithStringBuffer(ctx, next_s.data(), next_s.size());
  RedisModule_ReplyWithArray(ctx, keys.size());
  for (std::string_view k : keys) RedisModule_ReplyWithStringBuffer(ctx, k.data(), k.size());
  return REDISMODULE_OK;
}

// ---------------------------------------------------------------------------
// Deletion (through DEL, so replicas and the AOF follow)

void delete_keys(RedisModuleCtx* ctx, const std::vector<std::string>& keys) {
  constexpr size_t kBatch = 256;
  std::vector<RedisModuleString*> args;
  for (size_t i = 0; i < keys.size(); i += kBatch) {
    args.clear();
    for (size_t j = i; j < keys.size() && j < i + kBatch; ++j) {
      args.push_back(RedisModule_CreateString(ctx, keys[j].data(), keys[j].size()));
    }
    RedisModuleCallReply* r = RedisModule_Call(ctx, "DEL", "!v", args.data(), args.size());
    if (r != nullptr) RedisModule_FreeCallReply(r);
    for (RedisModuleString* s : args) RedisModule_FreeString(ctx, s);
  }
}

// SLOTSDEL slot [slot ...] -> [[slot, remaining], ...]
int cmd_slotsdel(RedisModuleCtx* ctx, RedisModuleString** argv, int argc) {
  if (argc < 2) return RedisModule_WrongArity(ctx);
  std::vector<uint32_t> slots;
  for (int i = 1; i < argc; ++i) {
    uint32_t s = 0;
    if (!parse_slot(ctx, argv[i], &s)) return REDISMODULE_OK;
    slots.push_back(s);
  }
  int db = RedisModule_GetSelectedDb(ctx);
  for (uint32_t s : slots) {
    SlotSet* set = g_index->slot(db, s);
    if (set == nullptr || set->empty()) continue;
    std::vector<std::string> keys;
    keys.reserve(set->size());
    set->for_each([&](std::string_view k) { keys.emplace_back(k); });
    delete_keys(ctx, keys);
  }
  RedisModule_ReplyWithArray(ctx, slots.size());
  for (uint32_t s : slots) {
    RedisModule_ReplyWithArray(ctx, 2);
    RedisModule_ReplyWithLongLong(ctx, s);
    RedisModule_ReplyWithLongLong(ctx, g_index->slot_size(db, s));
  }
  return REDISMODULE_OK;
}

// ---------------------------------------------------------------------------
// SLOTSCHECK: rebuild each db's index from RM_Scan and report the drift

void scan_into(RedisModuleCtx*, RedisModuleString* keyname, RedisModuleKey*, void* privdata) {
  static_cast<SlotIndex*>(privdata)->add(0, view(keyname));
}

int cmd_slotscheck(RedisModuleCtx* ctx, RedisModuleString**, int argc) {
  if (argc != 1) return RedisModule_WrongArity(ctx);
  int original = RedisModule_GetSelectedDb(ctx);
  std::string report;
  for (int db = 0; RedisModule_SelectDb(ctx, db) == REDISMODULE_OK; ++db) {
    SlotIndex fresh;
    RedisModuleScanCursor* cursor = RedisModule_ScanCursorCreate();
    while (RedisModule_Scan(ctx, cursor, scan_into, &fresh)) {
    }
    RedisModule_ScanCursorDestroy(cursor);
    uint64_t missing = 0, stale = 0;
    std::string example;
    for (uint32_t s = 0; s < SlotIndex::kSlots; ++s) {
      SlotSet* now = g_index->slot(db, s);
      SlotSet* want = fresh.slot(0, s);
      uint32_t want_n = want ? want->size() : 0, now_n = now ? now->size() : 0;
      uint64_t miss_here = 0;
      if (want != nullptr) {
        want->for_each([&](std::string_view k) {
          if (now == nullptr || !now->contains(k)) {
            ++miss_here;
            if (example.empty()) example = "missing '" + std::string(k) + "'";
          }
        });
      }
      uint64_t stale_here = now_n - (want_n - miss_here);
      if (stale_here > 0 && example.empty() && now != nullptr) {
        now->for_each([&](std::string_view k) {
          if (example.empty() && (want == nullptr || !want->contains(k))) example = "stale '" + std::string(k) + "'";
        });
      }
      missing += miss_here;
      stale += stale_here;
    }
    if (missing + stale > 0) {
      g_index->flush(db);
      for (uint32_t s = 0; s < SlotIndex::kSlots; ++s) {
        SlotSet* want = fresh.slot(0, s);
        if (want != nullptr) want->for_each([&](std::string_view k) { g_index->add(db, k); });
      }
      report += (report.empty() ? "" : "; ") + std::string("db ") + std::to_string(db) + ": " +
                std::to_string(stale) + " stale, " + std::to_string(missing) + " missing (" + example + ")";
    }
  }
  RedisModule_SelectDb(ctx, original);
  if (report.empty()) return RedisModule_ReplyWithSimpleString(ctx, "OK");
  return reply_error(ctx, "ERR slot index drift repaired: " + report);
}

// ---------------------------------------------------------------------------
// SLOTSRESTORE key ttlms payload [key ttlms payload ...]

int cmd_slotsrestore(RedisModuleCtx* ctx, RedisModuleString** argv, int argc) {
  if (argc < 4 || (argc - 1) % 3 != 0) return RedisModule_WrongArity(ctx);
  std::vector<long long> ttls;
  for (int i = 1; i < argc; i += 3) {
    long long ttl = 0;
    if (!parse_ll(ctx, argv[i + 1], 0, INT64_MAX, "ttl", &ttl)) return REDISMODULE_OK;
    ttls.push_back(ttl);
  }
  for (int i = 1, n = 0; i < argc; i += 3, ++n) {
    RedisModuleCallReply* r =
        RedisModule_Call(ctx, "RESTORE", "!Eslsc", argv[i], ttls[n], argv[i + 2], "REPLACE");
    if (r == nullptr) {
      return reply_error(ctx, "ERR SLOTSRESTORE of key '" + std::string(view(argv[i])) +
                                  "' failed: " + std::strerror(errno));
    }
    if (RedisModule_CallReplyType(r) == REDISMODULE_REPLY_ERROR) {
      size_t len = 0;
      const char* p = RedisModule_CallReplyStringPtr(r, &len);
      std::string msg(p, len);
      RedisModule_FreeCallReply(r);
      return reply_error(ctx, "ERR SLOTSRESTORE of key '" + std::string(view(argv[i])) + "' failed: " + msg);
    }
    RedisModule_FreeCallReply(r);
  }
  return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

// ---------------------------------------------------------------------------
// Sync migration: SLOTSMGRTSLOT / SLOTSMGRTONE / SLOTSMGRTTAGSLOT / SLOTSMGRTTAGONE

struct KeyCopy {
  std::string name;
  std::string payload;     // DUMP
  long long abs_expire;    // -1: none
};

struct SyncMigration {
  MigrationRequest req;
  RedisModuleBlockedClient* bc = nullptr;
  bool slot_reply = false;  // [moved, remaining] instead of an integer
  uint32_t slot = 0;
  int db = 0;
  std::vector<KeyCopy> keys;
};

// DUMP and absolute expire of a key; false when the key does not exist.
bool snapshot(RedisModuleCtx* ctx, const std::string& name, KeyCopy* out) {
  RedisModuleString* k = RedisModule_CreateString(ctx, name.data(), name.size());
  RedisModuleCallReply* r = RedisModule_Call(ctx, "DUMP", "s", k);
  bool ok = r != nullptr && RedisModule_CallReplyType(r) == REDISMODULE_REPLY_STRING;
  if (ok) {
    size_t len = 0;
    const char* p = RedisModule_CallReplyStringPtr(r, &len);
    out->name = name;
    out->payload.assign(p, len);
    auto* key = static_cast<RedisModuleKey*>(RedisModule_OpenKey(ctx, k, REDISMODULE_READ));
    out->abs_expire = key ? RedisModule_GetAbsExpire(key) : -1;
    if (key) RedisModule_CloseKey(key);
  }
  if (r != nullptr) RedisModule_FreeCallReply(r);
  RedisModule_FreeString(ctx, k);
  return ok;
}

std::string bulk(std::string_view s) {
  std::string out = "$" + std::to_string(s.size()) + "\r\n";
  out.append(s);
  out += "\r\n";
  return out;
}

std::string requirepass(RedisModuleCtx* ctx) {
  std::string pw;
  RedisModuleCallReply* r = RedisModule_Call(ctx, "CONFIG", "cc", "GET", "requirepass");
  if (r != nullptr && RedisModule_CallReplyType(r) == REDISMODULE_REPLY_ARRAY &&
      RedisModule_CallReplyLength(r) == 2) {
    size_t len = 0;
    const char* p = RedisModule_CallReplyStringPtr(RedisModule_CallReplyArrayElement(r, 1), &len);
    if (p != nullptr) pw.assign(p, len);
  }
  if (r != nullptr) RedisModule_FreeCallReply(r);
  return pw;
}

void migration_done(MigrationRequest* req) {
  auto* job = static_cast<SyncMigration*>(req->owner);
  RedisModule_UnblockClient(job->bc, job);  // thread-safe; the reply runs on the main thread
}

void migration_free(RedisModuleCtx*, void* privdata) { delete static_cast<SyncMigration*>(privdata); }

int migration_reply(RedisModuleCtx* ctx, RedisModuleString**, int) {
  auto* job = static_cast<SyncMigration*>(RedisModule_GetBlockedClientPrivateData(ctx));
  if (!job->req.ok) {
    const std::string& e = job->req.error;
    return reply_error(ctx, e.rfind("IOERR", 0) == 0 ? e : "ERR " + e);
  }
  // The caller was blocked, not the server: delete only keys still equal to
  // what the target received, so a concurrent write is never lost.
  std::vector<std::string> unchanged;
  std::string changed;
  for (const KeyCopy& kc : job->keys) {
    KeyCopy now;
    if (!snapshot(ctx, kc.name, &now)) continue;  // already gone (e.g. migrated by another caller)
    if (now.payload == kc.payload && now.abs_expire == kc.abs_expire) {
      unchanged.push_back(kc.name);
    } else if (changed.empty()) {
      changed = kc.name;
    }
  }
  delete_keys(ctx, unchanged);
  if (!job->slot_reply) {
    if (!changed.empty()) {
      return reply_error(ctx, "ERR key '" + changed + "' was written during its migration; it stays here, retry");
    }
    return RedisModule_ReplyWithLongLong(ctx, static_cast<long long>(job->keys.size()));
  }
  RedisModule_ReplyWithArray(ctx, 2);
  RedisModule_ReplyWithLongLong(ctx, static_cast<long long>(unchanged.size()));
  return RedisModule_ReplyWithLongLong(ctx, g_index->slot_size(job->db, job->slot));
}

enum class MigrateWhat { kSlot, kOne, kTagSlot, kTagOne };

int migrate_generic(RedisModuleCtx* ctx, RedisModuleString** argv, int argc, MigrateWhat what) {
  if (argc != 5) return RedisModule_WrongArity(ctx);
  int flags = RedisModule_GetContextFlags(ctx);
  if (flags & (REDISMODULE_CTX_FLAGS_MULTI | REDISMODULE_CTX_FLAGS_LUA | REDISMODULE_CTX_FLAGS_DENY_BLOCKING)) {
    return reply_error(ctx, "ERR SLOTSMGRT* commands cannot run inside MULTI or scripts");
  }
  long long port = 0, timeout = 0;
  if (!parse_ll(ctx, argv[2], 1, 65535, "port", &port)) return REDISMODULE_OK;
  if (!parse_ll(ctx, argv[3], 0, INT32_MAX, "timeout", &timeout)) return REDISMODULE_OK;
  if (timeout == 0) timeout = 100;  // Codis's default
  int db = RedisModule_GetSelectedDb(ctx);
  bool slot_mode = what == MigrateWhat::kSlot || what == MigrateWhat::kTagSlot;
  bool tag_mode = what == MigrateWhat::kTagSlot || what == MigrateWhat::kTagOne;

  std::string first;
  uint32_t slot = 0;
  if (slot_mode) {
    if (!parse_slot(ctx, argv[4], &slot)) return REDISMODULE_OK;
    SlotSet* set = g_index->slot(db, slot);
    std::string_view k;
    if (set == nullptr || !set->first(&k)) {
      RedisModule_ReplyWithArray(ctx, 2);
      RedisModule_ReplyWithLongLong(ctx, 0);
      return RedisModule_ReplyWithLongLong(ctx, 0);
    }
    first.assign(k);
  } else {
    first.assign(view(argv[4]));
    slot = SlotIndex::slot_of(first);
  }
  std::vector<std::string> names;
  std::string_view tag = SlotSet::tag_of(first);
  SlotSet* set = g_index->slot(db, slot);
  if (tag_mode && tag.data() != nullptr && set != nullptr) {
    std::string tag_copy(tag);
    set->for_each_with_tag(tag_copy, [&](std::string_view k) { names.emplace_back(k); });
  }
  if (names.empty()) names.push_back(first);
  for (const std::string& n : names) {
    if (async_key_locked(db, n)) {
      return reply_error(ctx, "ERR key '" + n + "' is in a running SLOTSMGRT*-ASYNC batch (SLOTSMGRT-ASYNC-FENCE waits for it)");
    }
  }

  auto* job = new SyncMigration();
  job->slot_reply = slot_mode;
  job->slot = slot;
  job->db = db;
  for (const std::string& n : names) {
    KeyCopy kc;
    if (snapshot(ctx, n, &kc)) job->keys.push_back(std::move(kc));
  }
  if (job->keys.empty()) {
    delete job;
    if (!slot_mode) return RedisModule_ReplyWithLongLong(ctx, 0);
    RedisModule_ReplyWithArray(ctx, 2);
    RedisModule_ReplyWithLongLong(ctx, 0);
    return RedisModule_ReplyWithLongLong(ctx, g_index->slot_size(db, slot));
  }
  std::string& body = job->req.body;
  body = "*" + std::to_string(1 + 3 * job->keys.size()) + "\r\n" + bulk("SLOTSRESTORE");
  long long now_ms = RedisModule_Milliseconds();
  for (const KeyCopy& kc : job->keys) {
    long long ttl = 0;
    if (kc.abs_expire >= 0) ttl = kc.abs_expire - now_ms < 1 ? 1 : kc.abs_expire - now_ms;
    body += bulk(kc.name);
    body += bulk(std::to_string(ttl));
    body += bulk(kc.payload);
  }
  job->req.host.assign(view(argv[1]));
  job->req.port = static_cast<int>(port);
  job->req.timeout_ms = static_cast<int>(timeout);
  job->req.db = db;
  job->req.password = requirepass(ctx);
  job->req.done = migration_done;
  job->req.owner = job;
  job->bc = RedisModule_BlockClient(ctx, migration_reply, nullptr, migration_free, 0);
  target_link_submit(&job->req);
  return REDISMODULE_OK;
}

int cmd_slotsmgrtslot(RedisModuleCtx* c, RedisModuleString** v, int n) { return migrate_generic(c, v, n, MigrateWhat::kSlot); }
int cmd_slotsmgrtone(RedisModuleCtx* c, RedisModuleString** v, int n) { return migrate_generic(c, v, n, MigrateWhat::kOne); }
int cmd_slotsmgrttagslot(RedisModuleCtx* c, RedisModuleString** v, int n) {
  return migrate_generic(c, v, n, MigrateWhat::kTagSlot);
}
int cmd_slotsmgrttagone(RedisModuleCtx* c, RedisModuleString** v, int n) {
  return migrate_generic(c, v, n, MigrateWhat::kTagOne);
}

// ---------------------------------------------------------------------------
// SLOTSMGRT-EXEC-WRAPPER hashkey command [arg ...]
//   [-1, error] bad call, [0, error] key not here, [2, reply] executed.
//   [1, error] the key is being migrated right now (a write to a key in
//   flight; see async_wrapper_gate for the exact rules): ask again shortly.

int cmd_exec_wrapper(RedisModuleCtx* ctx, RedisModuleString** argv, int argc) {
  RedisModule_ReplyWithArray(ctx, 2);
  if (argc < 3) {
    RedisModule_ReplyWithLongLong(ctx, -1);
    return reply_error(ctx, "ERR wrong number of arguments for SLOTSMGRT-EXEC-WRAPPER");
  }
  WrapperGate gate = async_wrapper_gate(ctx, argv[1], argv + 2, argc - 2);
  if (gate == WrapperGate::kNotHere) {
    RedisModule_ReplyWithLongLong(ctx, 0);
    return reply_error(ctx, "ERR the specified key doesn't exist");
  }
  if (gate == WrapperGate::kRetry) {
    RedisModule_ReplyWithLongLong(ctx, 1);
    return reply_error(ctx, "ERR the specified key is being migrated");
  }
  std::string cmd(view(argv[2]));
  // A key in flight stays readable; "W" makes RM_Call refuse a write command
  // before running it.
  bool locked = gate == WrapperGate::kRunReadOnly;
  RedisModuleCallReply* r =
      RedisModule_Call(ctx, cmd.c_str(), locked ? "!CEWv" : "!CEv", argv + 3, static_cast<size_t>(argc - 3));
  if (locked && r != nullptr && RedisModule_CallReplyType(r) == REDISMODULE_REPLY_ERROR) {
    size_t len = 0;
    const char* p = RedisModule_CallReplyStringPtr(r, &len);
    if (std::string_view(p, len).find("Write command") != std::string_view::npos) {
      RedisModule_FreeCallReply(r);
      RedisModule_ReplyWithLongLong(ctx, 1);
      return reply_error(ctx, "ERR the specified key is being migrated");
    }
  }
  if (r == nullptr) {
    RedisModule_ReplyWithLongLong(ctx, -1);
    if (errno == ENOENT) return reply_error(ctx, "ERR invalid command specified (" + cmd + ")");
    if (errno == EINVAL) return reply_error(ctx, "ERR wrong number of arguments for command (" + cmd + ")");
    if (errno == EACCES) return reply_error(ctx, "NOPERM this user has no permissions to run (" + cmd + ")");
    return reply_error(ctx, "ERR cannot run (" + cmd + "): " + std::strerror(errno));
  }
  if (RedisModule_CallReplyType(r) == REDISMODULE_REPLY_ERROR) {
    // Errors RM_Call finds before running the command are Codis's -1 cases.
    size_t len = 0;
    const char* p = RedisModule_CallReplyStringPtr(r, &len);
    std::string_view msg(p, len);
    if (msg.starts_with("ERR unknown command") || msg.starts_with("ERR wrong number of arguments") ||
        msg.starts_with("NOPERM")) {
      RedisModule_ReplyWithLongLong(ctx, -1);
      RedisModule_ReplyWithCallReply(ctx, r);
      RedisModule_FreeCallReply(r);
      return REDISMODULE_OK;
    }
  }
  RedisModule_ReplyWithLongLong(ctx, 2);
  RedisModule_ReplyWithCallReply(ctx, r);
  RedisModule_FreeCallReply(r);
  return REDISMODULE_OK;
}

struct CommandSpec {
  const char* name;
  RedisModuleCmdFunc fn;
  const char* flags;
  int first_key, last_key, step;
};

const CommandSpec kCommands[] = {
    {"slotshashkey", cmd_slotshashkey, "readonly fast", 0, 0, 0},
    {"slotsinfo", cmd_slotsinfo, "readonly", 0, 0, 0},
    {"slotsscan", cmd_slotsscan, "readonly", 0, 0, 0},
    {"slotsdel", cmd_slotsdel, "write", 0, 0, 0},
    {"slotscheck", cmd_slotscheck, "readonly", 0, 0, 0},
    {"slotsrestore", cmd_slotsrestore, "write deny-oom", 1, -1, 3},
    {"slotsmgrtslot", cmd_slotsmgrtslot, "write", 0, 0, 0},
    {"slotsmgrtone", cmd_slotsmgrtone, "write", 4, 4, 1},
    {"slotsmgrttagslot", cmd_slotsmgrttagslot, "write", 0, 0, 0},
    {"slotsmgrttagone", cmd_slotsmgrttagone, "write", 4, 4, 1},
    {"slotsmgrt-exec-wrapper", cmd_exec_wrapper, "write deny-oom", 1, 1, 1},
};

}  // namespace
}  // namespace codis::slots

extern "C" __attribute__((visibility("default"))) int RedisModule_OnLoad(RedisModuleCtx* ctx, RedisModuleString**,
                                                                          int) {
  using namespace codis::slots;
  if (RedisModule_Init(ctx, "codis_slots", 1, REDISMODULE_APIVER_1) == REDISMODULE_ERR) return REDISMODULE_ERR;
  // Index memory is counted by Redis (INFO memory, maxmemory).
  set_slot_set_allocator(SlotSetAllocator{
      [](size_t n) { return RedisModule_Alloc(n); },
      [](void* p, size_t n) { return RedisModule_Realloc(p, n); },
      [](void* p) { RedisModule_Free(p); },
  });
  if (g_index == nullptr) g_index = new SlotIndex();
  // `new` is not part of NOTIFY_ALL; `loaded` covers keys read from an RDB.
  int events = REDISMODULE_NOTIFY_NEW | REDISMODULE_NOTIFY_LOADED | REDISMODULE_NOTIFY_GENERIC |
               REDISMODULE_NOTIFY_EXPIRED | REDISMODULE_NOTIFY_EVICTED;
  if (RedisModule_SubscribeToKeyspaceEvents(ctx, events, on_keyspace_event) != REDISMODULE_OK) {
    RedisModule_Log(ctx, "warning", "codis_slots: cannot subscribe to keyspace events");
    return REDISMODULE_ERR;
  }
  if (RedisModule_SubscribeToServerEvent(ctx, RedisModuleEvent_FlushDB, on_flushdb) != REDISMODULE_OK ||
      RedisModule_SubscribeToServerEvent(ctx, RedisModuleEvent_SwapDB, on_swapdb) != REDISMODULE_OK) {
    RedisModule_Log(ctx, "warning", "codis_slots: cannot subscribe to FlushDB/SwapDB events (needs Redis 7.0+)");
    return REDISMODULE_ERR;
  }
  for (const CommandSpec& c : kCommands) {
    if (RedisModule_CreateCommand(ctx, c.name, c.fn, c.flags, c.first_key, c.last_key, c.step) == REDISMODULE_ERR) {
      RedisModule_Log(ctx, "warning", "codis_slots: cannot register command %s", c.name);
      return REDISMODULE_ERR;
    }
  }
  if (register_async_commands(ctx, g_index) != REDISMODULE_OK) return REDISMODULE_ERR;
  RedisModule_RegisterInfoFunc(ctx, on_info);
  target_link_start();
  // Keys already in memory (MODULE LOAD at run time) are indexed by SLOTSCHECK.
  return REDISMODULE_OK;
}
