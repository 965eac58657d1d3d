#include "slot_index.h"

#include <cstring>
#include <new>

namespace codis::slots {

SlotIndex::~SlotIndex() {
  flush(-1);
  slot_free(dbs_);
}

SlotIndex::Db* SlotIndex::db_for_write(int db) {
  if (db < 0) return nullptr;
  if (db >= ndbs_) {
    int n = db + 1 < 16 ? 16 : db + 1;
    Db** grown = static_cast<Db**>(slot_alloc(sizeof(Db*) * n));
    std::memset(grown, 0, sizeof(Db*) * n);
    if (ndbs_ > 0) std::memcpy(grown, dbs_, sizeof(Db*) * ndbs_);
    slot_free(dbs_);
    dbs_ = grown;
    ndbs_ = n;
  }
  if (dbs_[db] == nullptr) dbs_[db] = new (slot_alloc(sizeof(Db))) Db();
  return dbs_[db];
}

void SlotIndex::add(int db, std::string_view key) {
  Db* d = db_for_write(db);
  if (d != nullptr) d->slots[slot_of(key)].insert(key);
}

void SlotIndex::remove(int db, std::string_view key) {
  if (db < 0 || db >= ndbs_ || dbs_[db] == nullptr) return;
  dbs_[db]->slots[slot_of(key)].erase(key);
}

void SlotIndex::flush(int db) {
  for (int i = 0; i < ndbs_; ++i) {
    if ((db < 0 || i == db) && dbs_[i] != nullptr) {
      dbs_[i]->~Db();
      slot_free(dbs_[i]);
      dbs_[i] = nullptr;
    }
  }
}

void SlotIndex::swap(int a, int b) {
  if (a < 0 || b < 0 || a == b) return;
  db_for_write(a > b ? a : b);  // makes both positions exist
  Db* t = dbs_[a];
  dbs_[a] = dbs_[b];
  dbs_[b] = t;
}

SlotSet* SlotIndex::slot(int db, uint32_t slot) const {
  if (db < 0 || db >= ndbs_ || dbs_[db] == nullptr || slot >= kSlots) return nullptr;
  return &dbs_[db]->slots[slot];
}

uint32_t SlotIndex::slot_size(int db, uint32_t s) const {
  SlotSet* set = slot(db, s);
  return set == nullptr ? 0 : set->size();
}

size_t SlotIndex::memory() const {
  size_t n = sizeof(Db*) * ndbs_;
  for (int i = 0; i < ndbs_; ++i) {
    if (dbs_[i] == nullptr) continue;
    n += sizeof(Db);
    for (const SlotSet& s : dbs_[i]->slots) n += s.memory();
  }
  return n;
}

}  // namespace codis::slots
