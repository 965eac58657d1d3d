// Randomized check of SlotSet against std::unordered_set: inserts, erases,
// compactions, tag lookups, scan cursors, and the switch to wide entries
// (arenas over 16 MB). Plain main() so the module keeps no test dependency.
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "slot_set.h"

using codis::slots::SlotSet;

#define CHECK(cond)                                                    \
  do {                                                                 \
    if (!(cond)) {                                                     \
      std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
      std::exit(1);                                                    \
    }                                                                  \
  } while (0)

static void check_equal(SlotSet& s, const std::unordered_set<std::string>& ref) {
  CHECK(s.size() == ref.size());
  std::set<std::string> seen;
  s.for_each([&](std::string_view k) { CHECK(seen.insert(std::string(k)).second); });
  CHECK(seen.size() == ref.size());
  for (const auto& k : ref) CHECK(s.contains(k));
  // A scan in small steps returns everything.
  std::set<std::string> scanned;
  uint64_t cur = 0;
  do {
    cur = s.scan(cur, 7, [&](std::string_view k) { scanned.insert(std::string(k)); });
  } while (cur != 0);
  CHECK(scanned == seen);
}

static void randomized(uint32_t seed, int ops, int universe) {
  std::mt19937 rng(seed);
  SlotSet s;
  std::unordered_set<std::string> ref;
  for (int i = 0; i < ops; ++i) {
    int n = static_cast<int>(rng() % universe);
    std::string k = (n % 3 == 0) ? "{tag" + std::to_string(n % 17) + "}:" + std::to_string(n) : "key:" + std::to_string(n);
    if (rng() % 3 != 0) {
      CHECK(s.insert(k) == ref.insert(k).second);
    } else {
      CHECK(s.erase(k) == (ref.erase(k) == 1));
    }
    if (i % 5000 == 0) check_equal(s, ref);
  }
  check_equal(s, ref);
  for (int t = 0; t < 17; ++t) {
    std::string tag = "tag" + std::to_string(t);
    std::set<std::string> got, want;
    s.for_each_with_tag(tag, [&](std::string_view k) { got.insert(std::string(k)); });
    for (const auto& k : ref) {
      if (SlotSet::tag_of(k) == tag) want.insert(k);
    }
    CHECK(got == want);
  }
  std::string_view first;
  if (!ref.empty()) CHECK(s.first(&first) && ref.count(std::string(first)));
  for (const auto& k : ref) CHECK(s.erase(k));
  CHECK(s.size() == 0 && s.memory() == 0);
}

int main() {
  randomized(1, 200000, 3000);
  randomized(2, 100000, 100);
  // Over 16 MB of arena: entries lose their fingerprint byte.
  SlotSet big;
  std::vector<std::string> keys;
  for (int i = 0; i < 1100000; ++i) keys.push_back("a-rather-long-key:" + std::to_string(i));
  for (const auto& k : keys) CHECK(big.insert(k));
  CHECK(big.size() == keys.size());
  for (size_t i = 0; i < keys.size(); i += 2) CHECK(big.erase(keys[i]));
  for (size_t i = 0; i < keys.size(); ++i) CHECK(big.contains(keys[i]) == (i % 2 == 1));
  std::puts("slot_set_test: ok");
  return 0;
}
