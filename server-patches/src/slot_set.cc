#include "slot_set.h"

#include <cstdlib>
#include <cstring>

#include "codis/slot_hash.h"

namespace codis::slots {
namespace {

SlotSetAllocator g_alloc{&std::malloc, &std::realloc, &std::free};

size_t varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

char* put_varint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

uint64_t load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

uint64_t mix(uint64_t a, uint64_t b) {
  __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

}  // namespace

void set_slot_set_allocator(const SlotSetAllocator& a) { g_alloc = a; }
void* slot_alloc(size_t n) { return g_alloc.alloc(n); }
void slot_free(void* p) {
  if (p != nullptr) g_alloc.free(p);
}

uint64_t SlotSet::hash_bytes(std::string_view s) {
  // A small multiply-mix hash; the slot's keys already share crc32 % 1024,
  // and tagged keys share all of it, so the tables need an independent hash.
  constexpr uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull;
  const char* p = s.data();
  size_t n = s.size();
  uint64_t h = k0 ^ (n * k1);
  while (n >= 8) {
    h = mix(h ^ load64(p), k1);
    p += 8;
    n -= 8;
  }
  uint64_t tail = 0;
  for (size_t i = 0; i < n; ++i) tail |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  h = mix(h ^ tail, k0);
  return mix(h, k1 ^ s.size());
}

std::string_view SlotSet::tag_of(std::string_view key) {
  size_t taglen = 0;
  const char* tag = codis_hash_tag(key.data(), key.size(), &taglen);
  if (tag == key.data()) return {};
  return {tag, taglen};
}

SlotSet::Record SlotSet::record_at(uint32_t off) const {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(arena_) + off;
  uint64_t v = 0;
  int shift = 0;
  uint32_t n = 0;
  for (;;) {
    unsigned char b = p[n++];
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) break;
    shift += 7;
  }
  uint32_t len = static_cast<uint32_t>(v >> 1);
  return Record{std::string_view(arena_ + off + n, len), (v & 1) != 0, off + n + len};
}

uint32_t SlotSet::find(std::string_view key, uint64_t h) const {
  if (cap_ == 0) return UINT32_MAX;
  for (uint32_t i = bucket(h, cap_), n = 0; n < cap_; ++n, i = (i + 1 == cap_ ? 0 : i + 1)) {
    uint32_t e = table_[i];
    if (e == kEmpty) return UINT32_MAX;
    if (e == kTomb || !fingerprint_matches(e, h)) continue;
    if (record_at(entry_offset(e)).name == key) return i;
  }
  return UINT32_MAX;
}

bool SlotSet::contains(std::string_view key) const { return find(key, hash_bytes(key)) != UINT32_MAX; }

// A table size that puts `live` keys at about 60% load; tables grow at 85%.
// Linear probing stays cheap that full because a probe compares fingerprints
// and reads the arena only on a match.
uint32_t SlotSet::grown_capacity(uint32_t live) {
  uint64_t want = (static_cast<uint64_t>(live) + 1) * 5 / 3 + 1;
  return static_cast<uint32_t>(want < 8 ? 8 : want);
}

bool SlotSet::reserve_arena(size_t extra) {
  size_t need = static_cast<size_t>(arena_len_) + extra;
  if (need > UINT32_MAX - 16) return false;
  if (need <= arena_cap_) return true;
  // Grow by 1.25x: the arena is most of the index, so slack costs memory.
  size_t cap = arena_cap_ < 64 ? 64 : arena_cap_ + arena_cap_ / 4;
  if (cap < need) cap = need;
  if (cap > UINT32_MAX - 16) cap = UINT32_MAX - 16;
  char* p = static_cast<char*>(g_alloc.realloc(arena_, cap));
  if (p == nullptr) return false;
  arena_ = p;
  arena_cap_ = static_cast<uint32_t>(cap);
  if (!wide_ && cap > kNarrowLimit) {
    // Offsets now need all 32 bits: rebuild the tables without fingerprints.
    wide_ = true;
    if (cap_ != 0) rehash(cap_);
    if (tag_cap_ != 0) rehash_tags(tag_cap_);
  }
  return true;
}

bool SlotSet::insert(std::string_view key, uint64_t h) {
  if (find(key, h) != UINT32_MAX) return false;
  uint64_t header = static_cast<uint64_t>(key.size()) << 1;
  size_t rec = varint_size(header) + key.size();
  if (!reserve_arena(rec)) return false;
  if (cap_ == 0 || static_cast<uint64_t>(live_ + tombs_ + 1) * 20 > static_cast<uint64_t>(cap_) * 17) {
    rehash(grown_capacity(live_));
  }
  uint32_t off = arena_len_;
  char* p = put_varint(arena_ + off, header);
  std::memcpy(p, key.data(), key.size());
  arena_len_ = static_cast<uint32_t>(off + rec);

  for (uint32_t i = bucket(h, cap_);; i = (i + 1 == cap_ ? 0 : i + 1)) {
    if (table_[i] == kEmpty || table_[i] == kTomb) {
      if (table_[i] == kTomb) --tombs_;
      table_[i] = make_entry(off, h);
      break;
    }
  }
  ++live_;
  std::string_view tag = tag_of(key);
  if (tag.data() != nullptr) tag_insert(tag, off);
  return true;
}

bool SlotSet::erase(std::string_view key, uint64_t h) {
  uint32_t i = find(key, h);
  if (i == UINT32_MAX) return false;
  uint32_t off = entry_offset(table_[i]);
  Record r = record_at(off);
  table_[i] = kTomb;
  ++tombs_;
  --live_;
  arena_[off] = static_cast<char>(arena_[off] | 1);  // the varint's lowest bit is the dead flag
  dead_bytes_ += r.next - off;
  std::string_view tag = tag_of(r.name);
  if (tag.data() != nullptr) tag_erase(tag, off);
  if (live_ == 0) {
    clear();
  } else if (dead_bytes_ > 4096 && dead_bytes_ * 2 > arena_len_) {
    compact();
  }
  return true;
}

// Both rehashes walk the arena in order (sequential reads) rather than the
// old table (a random arena read per entry).
void SlotSet::rehash(uint32_t new_cap) {
  uint32_t* t = static_cast<uint32_t*>(g_alloc.alloc(sizeof(uint32_t) * new_cap));
  std::memset(t, 0, sizeof(uint32_t) * new_cap);
  slot_free(table_);
  table_ = t;
  cap_ = new_cap;
  tombs_ = 0;
  for (uint32_t off = 0; off < arena_len_;) {
    Record r = record_at(off);
    if (!r.dead) {
      uint64_t h = hash_bytes(r.name);
      for (uint32_t i = bucket(h, cap_);; i = (i + 1 == cap_ ? 0 : i + 1)) {
        if (t[i] == kEmpty) {
          t[i] = make_entry(off, h);
          break;
        }
      }
    }
    off = r.next;
  }
}

void SlotSet::rehash_tags(uint32_t new_cap) {
  uint32_t* t = static_cast<uint32_t*>(g_alloc.alloc(sizeof(uint32_t) * new_cap));
  std::memset(t, 0, sizeof(uint32_t) * new_cap);
  slot_free(tag_table_);
  tag_table_ = t;
  tag_cap_ = new_cap;
  tag_used_ = tag_live_;
  for (uint32_t off = 0; off < arena_len_;) {
    Record r = record_at(off);
    std::string_view tag = r.dead ? std::string_view() : tag_of(r.name);
    if (tag.data() != nullptr) {
      uint64_t h = hash_bytes(tag);
      for (uint32_t i = bucket(h, tag_cap_);; i = (i + 1 == tag_cap_ ? 0 : i + 1)) {
        if (t[i] == kEmpty) {
          t[i] = make_entry(off, h);
          break;
        }
      }
    }
    off = r.next;
  }
}

void SlotSet::tag_insert(std::string_view tag, uint32_t off) {
  if (tag_cap_ == 0 || static_cast<uint64_t>(tag_used_ + 1) * 20 > static_cast<uint64_t>(tag_cap_) * 17) {
    // The new key is already in the arena, so the rebuild indexes it too.
    rehash_tags(grown_capacity(tag_live_ + 1));
    ++tag_live_;
    tag_used_ = tag_live_;
    return;
  }
  uint64_t h = hash_bytes(tag);
  for (uint32_t i = bucket(h, tag_cap_);; i = (i + 1 == tag_cap_ ? 0 : i + 1)) {
    if (tag_table_[i] == kEmpty || tag_table_[i] == kTomb) {
      if (tag_table_[i] == kEmpty) ++tag_used_;
      tag_table_[i] = make_entry(off, h);
      break;
    }
  }
  ++tag_live_;
}

void SlotSet::tag_erase(std::string_view tag, uint32_t off) {
  if (tag_cap_ == 0) return;
  uint64_t h = hash_bytes(tag);
  for (uint32_t i = bucket(h, tag_cap_), n = 0; n < tag_cap_; ++n, i = (i + 1 == tag_cap_ ? 0 : i + 1)) {
    uint32_t e = tag_table_[i];
    if (e == kEmpty) return;
    if (e != kTomb && entry_offset(e) == off) {
      tag_table_[i] = kTomb;
      --tag_live_;
      return;
    }
  }
}

void SlotSet::compact() {
  // Copy the live records into a right-sized arena, then rebuild both tables.
  size_t live_bytes = arena_len_ - dead_bytes_;
  size_t cap = live_bytes + live_bytes / 8 + 16;
  char* a = static_cast<char*>(g_alloc.alloc(cap));
  uint32_t len = 0;
  uint32_t tagged = 0;
  for (uint32_t off = 0; off < arena_len_;) {
    Record r = record_at(off);
    if (!r.dead) {
      std::memcpy(a + len, arena_ + off, r.next - off);
      len += r.next - off;
      if (tag_of(r.name).data() != nullptr) ++tagged;
    }
    off = r.next;
  }
  slot_free(arena_);
  arena_ = a;
  arena_len_ = len;
  arena_cap_ = static_cast<uint32_t>(cap);
  wide_ = cap > kNarrowLimit;
  dead_bytes_ = 0;
  first_hint_ = 0;
  ++generation_;
  rehash(grown_capacity(live_));
  if (tagged == 0) {
    slot_free(tag_table_);
    tag_table_ = nullptr;
    tag_cap_ = tag_used_ = tag_live_ = 0;
  } else {
    tag_live_ = tagged;
    rehash_tags(grown_capacity(tagged));
  }
}

void SlotSet::clear() {
  slot_free(arena_);
  slot_free(table_);
  slot_free(tag_table_);
  arena_ = nullptr;
  table_ = tag_table_ = nullptr;
  arena_len_ = arena_cap_ = cap_ = live_ = tombs_ = 0;
  tag_cap_ = tag_used_ = tag_live_ = 0;
  dead_bytes_ = first_hint_ = 0;
  wide_ = false;
  ++generation_;
}

size_t SlotSet::memory() const {
  return static_cast<size_t>(arena_cap_) + sizeof(uint32_t) * (static_cast<size_t>(cap_) + tag_cap_);
}

bool SlotSet::first(std::string_view* key) {
  for (uint32_t off = first_hint_; off < arena_len_;) {
    Record r = record_at(off);
    if (!r.dead) {
      first_hint_ = off;
      *key = r.name;
      return true;
    }
    off = r.next;
  }
  return false;
}

}  // namespace codis::slots
