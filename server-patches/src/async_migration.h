// Async migration (Codis's SLOTSMGRT*-ASYNC protocol), source and target side; docs/design.md §6.4-§6.5.
//
// Source: SLOTSMGRTSLOT-ASYNC / SLOTSMGRTTAGSLOT-ASYNC / SLOTSMGRTONE-ASYNC /
// SLOTSMGRTTAGONE-ASYNC stream a batch of keys to the target over a
// non-blocking connection driven by Redis's event loop, in steps of at most
// ~1 ms run from timers (the only place, besides commands, where this module
// writes the keyspace). Per key: `delete`, then one `object` (DUMP payload) or,
// for a hash/set/zset/list with more than maxbulks elements, chunks of at most
// maxbulks elements carrying a temporary TTL and a last `expire` with the real
// one. Every message is ACKed; at most maxbytes are unacknowledged.
//
// A key is locked (writes through SLOTSMGRT-EXEC-WRAPPER get [1]) only while
// it is in flight: from its first message until the ACK of its last one, when
// it is UNLINKed here (replicated) and the wrapper sends its commands to the
// target. Keys not started yet take writes on the source (they are read when
// sent). A big hash/set/zset being streamed also takes the writes whose
// touched members are known from their arguments (HSET, HDEL, SADD, ZADD...):
// the members are recorded and sent again (current value, or `remove`) after
// the last chunk, in rounds, the last round under the lock. One batch per db
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

// True when key of db belongs to the running batch and has not been moved or
// dropped from it (sync migrations refuse such keys).
bool async_key_locked(int db, std::string_view key);

// How SLOTSMGRT-EXEC-WRAPPER runs a command for hashkey in the selected db.
enum class WrapperGate {
  kNotHere,       // [0]: the key is not here (the proxy goes to the target)
  kRetry,         // [1]: being migrated, ask again shortly
  kRun,           // run the command
  kRunReadOnly,   // run it only if it is not a write (else [1])
};

// cmdv[0] is the command, cmdv[1..] its arguments. Checks the existence of
// hashkey and, when this db has a running batch, where every key of the
// command is in it. A permitted write to a big key being streamed is recorded
// here (its members are sent again later), so the caller must run the command
// right after a kRun.
WrapperGate async_wrapper_gate(RedisModuleCtx* ctx, RedisModuleString* hashkey, RedisModuleString** cmdv, int cmdc);

}  // namespace codis::slots
