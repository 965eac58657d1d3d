// Async migration (Codis's SLOTSMGRT*-ASYNC protocol), source and target side.
//
// Source: SLOTSMGRTSLOT-ASYNC / SLOTSMGRTTAGSLOT-ASYNC / SLOTSMGRTONE-ASYNC /
// SLOTSMGRTTAGONE-ASYNC stream a batch of keys to the target over a
// non-blocking connection driven by Redis's event loop, in steps of at most
// ~1 ms run from timers (the only place, besides commands, where this module
// writes the keyspace). Per key: `delete`, then one `object` (DUMP payload) or,
// for a hash/set/zset/list with more than maxbulks elements, chunks of at most
// maxbulks elements carrying a temporary TTL and a last `expire` with the real
// one. Every message is ACKed; at most maxbytes are unacknowledged. After the
// last ACK the batch is UNLINKed (big values freed off the main thread, the
// deletion replicated) and the blocked caller gets its reply. One batch per db
// at a time; SLOTSMGRT-ASYNC-FENCE / -CANCEL / -STATUS act on it.
//
// Target: SLOTSRESTORE-ASYNC, SLOTSRESTORE-ASYNC-AUTH, -SELECT, -ACK.
#pragma once

#include <string_view>

#include "redismodule.h"
#include "slot_index.h"

namespace codis::slots {

// Registers the async commands; index is the module's SlotIndex.
int register_async_commands(RedisModuleCtx* ctx, SlotIndex* index);

// True when key of db belongs to a batch being migrated (writes to it
// through SLOTSMGRT-EXEC-WRAPPER are refused).
bool async_key_locked(int db, std::string_view key);

}  // namespace codis::slots
