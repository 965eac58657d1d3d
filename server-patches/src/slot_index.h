// SlotIndex: for every db, the keys of each of the 1024 slots.
//
// The module's event handlers keep it equal to the keyspace (add on `new`
// and `loaded`, remove on `del`/`expired`/`evicted`/`rename_from`/`move_from`,
// drop a db on FlushDB, swap two on SwapDB); the SLOTS* commands read it.
// A db's 1024 SlotSets are allocated on its first key and freed when it is
// flushed. Single-threaded: only Redis's main thread touches it.
//
// Adds and removals are queued (up to kPending of them) and applied in a
// batch that first prefetches every slot table line it will probe: the table
// miss is most of an insert's cost, and a batch overlaps the misses. Every
// reader drains the queue first, so the queue is invisible from outside.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "codis/slot_hash.h"
#include "slot_set.h"

namespace codis::slots {

class SlotIndex {
 public:
  static constexpr uint32_t kSlots = CODIS_SLOT_COUNT;
  static constexpr int kPending = 32;

  SlotIndex() = default;
  ~SlotIndex();
  SlotIndex(const SlotIndex&) = delete;
  SlotIndex& operator=(const SlotIndex&) = delete;

  void add(int db, std::string_view key) { enqueue(db, key, true); }
  void remove(int db, std::string_view key) { enqueue(db, key, false); }
  void flush(int db);  // db < 0: every db
  void swap(int a, int b);

  // The keys of a slot, or nullptr when the db has none at all.
  SlotSet* slot(int db, uint32_t slot);
  uint32_t slot_size(int db, uint32_t slot);
  size_t memory();
  // Applies the queued adds and removals.
  void drain();

  static uint32_t slot_of(std::string_view key) { return codis_slot(key.data(), key.size()); }

 private:
  struct Db {
    SlotSet slots[kSlots];
  };
  struct Op {
    int db;
    bool add;
    uint32_t slot;
    uint64_t hash;
    SlotSet* set;
    std::string key;
  };
  void enqueue(int db, std::string_view key, bool add);
  Db* db_for_write(int db);

  Db** dbs_ = nullptr;
  int ndbs_ = 0;
  Op pending_[kPending];
  int npending_ = 0;
};

}  // namespace codis::slots
