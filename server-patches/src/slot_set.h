// SlotSet: the names of the keys of one slot of one db, compactly.
//
// Called by SlotIndex for every key creation and removal Redis reports, and by
// the SLOTS* commands to list, count and pick keys of a slot. Layout, chosen
// to stay under ~32 bytes per 15-20 byte key name:
//  - an arena of records `varint(len << 1 | dead) name`, appended in insertion
//    order (a removal sets the dead bit; compaction drops dead records once
//    they are half the arena);
//  - an open-addressing table of uint32 entries (linear probing, tombstones),
//    hashed on the whole name; an entry is the record's arena offset plus, while
//    the arena is under 16 MB, an 8-bit fingerprint of the name's hash in its
//    top byte, so a probe touches the arena only on a likely match;
//  - for keys with a hash tag only, a second multi-valued table hashed on the
//    tag, so all keys of one tag are found without walking the slot.
// Memory comes from the allocator installed with set_slot_set_allocator()
// (RedisModule_Alloc in the module, so INFO memory counts the index).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace codis::slots {

struct SlotSetAllocator {
  void* (*alloc)(size_t);
  void* (*realloc)(void*, size_t);
  void (*free)(void*);
};

// Installs the allocator for every SlotSet; call before the first insert.
void set_slot_set_allocator(const SlotSetAllocator& a);
void* slot_alloc(size_t n);
void slot_free(void* p);

class SlotSet {
 public:
  SlotSet() = default;
  ~SlotSet() { clear(); }
  SlotSet(const SlotSet&) = delete;
  SlotSet& operator=(const SlotSet&) = delete;

  // Adds key; returns false when it was already there (adds are idempotent).
  bool insert(std::string_view key) { return insert(key, hash_bytes(key)); }
  // Removes key; returns false when it was not there.
  bool erase(std::string_view key) { return erase(key, hash_bytes(key)); }
  // The same with h = hash_bytes(key) computed by the caller.
  bool insert(std::string_view key, uint64_t h);
  bool erase(std::string_view key, uint64_t h);
  // Hints the CPU to load the table line key's probe starts at (h = hash_bytes(key)).
  void prefetch(uint64_t h) const {
    if (cap_ != 0) __builtin_prefetch(&table_[bucket(h, cap_)]);
  }
  bool contains(std::string_view key) const;
  uint32_t size() const { return live_; }
  bool empty() const { return live_ == 0; }
  void clear();
  // Bytes allocated for this slot.
  size_t memory() const;

  // The oldest key still present (the arena's first live record).
  bool first(std::string_view* key);

  // Visits up to `count` keys from `cursor` (0 starts) in insertion order and
  // returns the cursor to continue from, 0 at the end. A cursor survives
  // inserts and removals; after a compaction it restarts from the beginning
  // (keys may then repeat, as SCAN allows, but none present throughout is
  // missed).
  template <typename F>
  uint64_t scan(uint64_t cursor, size_t count, F&& fn) const {
    uint32_t off = static_cast<uint32_t>(cursor);
    if ((cursor >> 32) != generation_ || off > arena_len_) off = 0;
    size_t seen = 0;
    while (off < arena_len_ && seen < count) {
      Record r = record_at(off);
      if (!r.dead) {
        fn(r.name);
        ++seen;
      }
      off = r.next;
    }
    if (off >= arena_len_) return 0;
    return (static_cast<uint64_t>(generation_) << 32) | off;
  }

  template <typename F>
  void for_each(F&& fn) const {
    for (uint32_t off = 0; off < arena_len_;) {
      Record r = record_at(off);
      if (!r.dead) fn(r.name);
      off = r.next;
    }
  }

  // Visits every key whose hash tag equals `tag` (keys with a `{tag}`).
  template <typename F>
  void for_each_with_tag(std::string_view tag, F&& fn) const {
    if (tag_cap_ == 0) return;
    uint64_t h = hash_bytes(tag);
    for (uint32_t i = bucket(h, tag_cap_), n = 0; n < tag_cap_; ++n, i = (i + 1 == tag_cap_ ? 0 : i + 1)) {
      uint32_t e = tag_table_[i];
      if (e == kEmpty) break;
      if (e == kTomb || !fingerprint_matches(e, h)) continue;
      Record r = record_at(entry_offset(e));
      if (tag_of(r.name) == tag && !r.dead) fn(r.name);
    }
  }

  static uint64_t hash_bytes(std::string_view s);
  // The hash tag of a key that has one, else a null view.
  static std::string_view tag_of(std::string_view key);

 private:
  static constexpr uint32_t kEmpty = 0;
  static constexpr uint32_t kTomb = 1;
  static constexpr uint32_t kBias = 2;  // entries hold arena offset + kBias
  // Arenas below this size leave the entries' top byte for a fingerprint.
  static constexpr uint32_t kNarrowLimit = (1u << 24) - kBias - 1;

  uint32_t make_entry(uint32_t off, uint64_t h) const {
    return wide_ ? off + kBias : ((static_cast<uint32_t>(h) & 0xffu) << 24) | (off + kBias);
  }
  uint32_t entry_offset(uint32_t e) const { return (wide_ ? e : (e & 0xffffffu)) - kBias; }
  bool fingerprint_matches(uint32_t e, uint64_t h) const {
    return wide_ || (e >> 24) == (static_cast<uint32_t>(h) & 0xffu);
  }

  struct Record {
    std::string_view name;
    bool dead;
    uint32_t next;  // offset of the following record
  };
  Record record_at(uint32_t off) const;
  static uint32_t bucket(uint64_t h, uint32_t cap) {
    return static_cast<uint32_t>(((h >> 32) * cap) >> 32);
  }
  // Index of key's entry in table_, or UINT32_MAX.
  uint32_t find(std::string_view key, uint64_t h) const;
  void rehash(uint32_t new_cap);
  void rehash_tags(uint32_t new_cap);
  void tag_insert(std::string_view tag, uint32_t off);
  void tag_erase(std::string_view tag, uint32_t off);
  static uint32_t grown_capacity(uint32_t live);
  void compact();
  bool reserve_arena(size_t extra);

  char* arena_ = nullptr;
  uint32_t arena_len_ = 0;
  uint32_t arena_cap_ = 0;
  uint32_t* table_ = nullptr;
  uint32_t cap_ = 0;
  uint32_t live_ = 0;
  uint32_t tombs_ = 0;
  uint32_t* tag_table_ = nullptr;
  uint32_t tag_cap_ = 0;
  uint32_t tag_used_ = 0;  // live + tombstones
  uint32_t tag_live_ = 0;
  uint32_t dead_bytes_ = 0;
  uint32_t first_hint_ = 0;  // every record before this offset is dead
  uint32_t generation_ = 0;  // bumped by compaction (invalidates scan cursors)
  bool wide_ = false;        // arena too big for fingerprints: entries are bare offsets
};

}  // namespace codis::slots
