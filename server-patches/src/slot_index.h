// SlotIndex: for every db, the keys of each of the 1024 slots.
//
// The module's event handlers keep it equal to the keyspace (add on `new`
// and `loaded`, remove on `del`/`expired`/`evicted`/`rename_from`/`move_from`,
// drop a db on FlushDB, swap two on SwapDB); the SLOTS* commands read it.
// A db's 1024 SlotSets are allocated on its first key and freed when it is
// flushed. Single-threaded: only Redis's main thread touches it.
#pragma once

#include <cstdint>
#include <string_view>

#include "codis/slot_hash.h"
#include "slot_set.h"

namespace codis::slots {

class SlotIndex {
 public:
  static constexpr uint32_t kSlots = CODIS_SLOT_COUNT;

  SlotIndex() = default;
  ~SlotIndex();
  SlotIndex(const SlotIndex&) = delete;
  SlotIndex& operator=(const SlotIndex&) = delete;

  void add(int db, std::string_view key);
  void remove(int db, std::string_view key);
  void flush(int db);  // db < 0: every db
  void swap(int a, int b);

  // The keys of a slot, or nullptr when the db has none at all.
  SlotSet* slot(int db, uint32_t slot) const;
  uint32_t slot_size(int db, uint32_t slot) const;
  size_t memory() const;

  static uint32_t slot_of(std::string_view key) { return codis_slot(key.data(), key.size()); }

 private:
  struct Db {
    SlotSet slots[kSlots];
  };
  Db* db_for_write(int db);

  Db** dbs_ = nullptr;
  int ndbs_ = 0;
};

}  // namespace codis::slots
