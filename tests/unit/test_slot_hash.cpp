// Slot hashing: CRC32 vectors, Codis's hash-tag rule, binary keys.
// Expected values computed with Python: zlib.crc32(k), zlib.crc32(k) % 1024.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "codis/slot_hash.h"

using namespace std::string_view_literals;

TEST_CASE("crc32 matches zlib", "[slot_hash]") {
  CHECK(codis_crc32("123456789", 9) == 0xCBF43926u);
  CHECK(codis_crc32("", 0) == 0u);
  CHECK(codis_crc32(nullptr, 0) == 0u);
  CHECK(codis_crc32("foo", 3) == 0x8c736521u);          // zlib.crc32(b"foo")
  CHECK(codis_crc32("hello world", 11) == 0x0d4a1185u);  // zlib.crc32(b"hello world")
}

TEST_CASE("slot of plain keys", "[slot_hash]") {
  CHECK(CODIS_SLOT_COUNT == 1024);
  CHECK(codis::slot_of("foo") == 289);        // 0x8c736521 % 1024
  CHECK(codis::slot_of("bar") == 170);        // 0x76ff8caa % 1024
  CHECK(codis::slot_of("123456789") == 294);  // 0xcbf43926 % 1024
  CHECK(codis::slot_of("") == 0);
  CHECK(codis_slot("foo", 3) == 289);
}

TEST_CASE("hash tags follow Codis's rule", "[slot_hash]") {
  // Tag "user1000": zlib.crc32(b"user1000") % 1024 == 870, while the whole
  // key would give 1007.
  CHECK(codis::hash_tag("{user1000}.following") == "user1000");
  CHECK(codis::slot_of("{user1000}.following") == 870);
  CHECK(codis::slot_of("{user1000}.followers") == 870);
  CHECK(codis::slot_of("user1000") == 870);

  // Empty tag hashes the empty string.
  CHECK(codis::hash_tag("foo{}bar").empty());
  CHECK(codis::slot_of("foo{}bar") == 0);
  CHECK(codis::slot_of("{}{x}") == 0);  // first '{' then first '}' after it

  // No closing brace: the whole key.
  CHECK(codis::hash_tag("foo{bar") == "foo{bar");
  CHECK(codis::slot_of("foo{bar") == codis_crc32("foo{bar", 7) % 1024);
  CHECK(codis::hash_tag("}{") == "}{");

  // A '}' before the first '{' does not count: tag is "c" (crc32 % 1024 == 879).
  CHECK(codis::hash_tag("a}b{c}") == "c");
  CHECK(codis::slot_of("a}b{c}") == 879);

  // Only the first '{' opens; later braces are part of the tag.
  CHECK(codis::hash_tag("x{a{b}c}") == "a{b");

  size_t n = 99;
  const char* key = "ab{cd}ef";
  const char* tag = codis_hash_tag(key, 8, &n);
  CHECK(tag == key + 3);
  CHECK(n == 2);
}

TEST_CASE("binary keys", "[slot_hash]") {
  const auto nul = "\0a\0"sv;  // zlib.crc32(b"\x00a\x00") % 1024 == 1012
  CHECK(nul.size() == 3);
  CHECK(codis::slot_of(nul) == 1012);
  const auto ff = "\xff\xfe"sv;  // zlib.crc32(b"\xff\xfe") % 1024 == 150
  CHECK(codis::slot_of(ff) == 150);
  // A NUL inside a tag is hashed like any byte; the tag ends at '}', not NUL.
  const auto tagged = "k{\0a\0}v"sv;
  CHECK(codis::hash_tag(tagged) == nul);
  CHECK(codis::slot_of(tagged) == 1012);
  // Bytes after a NUL still count when looking for braces.
  const auto late = "\0{foo}"sv;
  CHECK(codis::slot_of(late) == 289);
}
