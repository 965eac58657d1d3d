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

void SlotIndex::enqueue(int db, std::string_view key, bool add) {
  if (db < 0) return;
  Op& op = pending_[npending_++];
  op.db = db;
  op.add = add;
  op.key.assign(key.data(), key.size());
  if (npending_ == kPending) drain();
}

void SlotIndex::drain() {
  if (npending_ == 0) return;
  // Pass 1: hash, find the slot and prefetch its SlotSet header.
  for (int i = 0; i < npending_; ++i) {
    Op& op = pending_[i];
    op.slot = slot_of(op.key);
    op.hash = SlotSet::hash_bytes(op.key);
    Db* d = op.add ? db_for_write(op.db) : (op.db < ndbs_ ? dbs_[op.db] : nullptr);
    op.set = d != nullptr ? &d->slots[op.slot] : nullptr;
    if (op.set != nullptr) __builtin_prefetch(op.set);
  }
  // Pass 2: prefetch the table lines the probes start at.
  for (int i = 0; i < npending_; ++i) {
    if (pending_[i].set != nullptr) pending_[i].set->prefetch(pending_[i].hash);
  }
  // Pass 3: apply in order.
  for (int i = 0; i < npending_; ++i) {
    Op& op = pending_[i];
    if (op.set == nullptr) continue;
    if (op.add) {
      op.set->insert(op.key, op.hash);
    } else {
      op.set->erase(op.key, op.hash);
    }
  }
  npending_ = 0;
}

void SlotIndex::flush(int db) {
  drain();
  for (int i = 0; i < ndbs_; ++i) {
    if ((db < 0 || i == db) && dbs_[i] != nullptr) {
      dbs_[i]->~Db();
      slot_free(dbs_[i]);
      dbs_[i] = nullptr;
    }
  }
}

void SlotIndex::swap(int a, int b) {
  drain();
  if (a < 0 || b < 0 || a == b) return;
  int hi = a > b ? a : b;
  if (hi >= ndbs_) {
    db_for_write(hi);  // grows the array (and allocates db hi, which stays empty)
  }
  Db* t = dbs_[a];
  dbs_[a] = dbs_[b];
  dbs_[b] = t;
}

SlotSet* SlotIndex::slot(int db, uint32_t slot) {
  drain();
  if (db < 0 || db >= ndbs_ || dbs_[db] == nullptr || slot >= kSlots) return nullptr;
  return &dbs_[db]->slots[slot];
}

uint32_t SlotIndex::slot_size(int db, uint32_t s) {
  SlotSet* set = slot(db, s);
  return set == nullptr ? 0 : set->size();
}

size_t SlotIndex::memory() {
  drain();
  size_t n = sizeof(Db*) * ndbs_;
  for (int i = 0; i < ndbs_; ++i) {
    if (dbs_[i] == nullptr) continue;
    n += sizeof(Db);
    for (const SlotSet& s : dbs_[i]->slots) n += s.memory();
  }
  return n;
}

}  // namespace codis::slots
