// SHA-256 against FIPS 180-4 vectors; Codis's xauth against values computed
// with Python's hashlib (hashlib.sha256(text).hexdigest()[:32]).
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "codis/sha256.h"

TEST_CASE("sha256 standard vectors", "[sha256]") {
  CHECK(codis::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(codis::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(codis::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(codis::sha256_hex(std::string(1000000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256 padding boundaries", "[sha256]") {
  // 55 bytes: length fits the first block; 56: needs a second; 64: full block.
  CHECK(codis::sha256_hex(std::string(55, 'x')) ==
        "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072");
  CHECK(codis::sha256_hex(std::string(56, 'x')) ==
        "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e");
  CHECK(codis::sha256_hex(std::string(64, 'x')) ==
        "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c");
}

TEST_CASE("codis xauth", "[sha256]") {
  // hashlib.sha256(b"Codis-XAuth-[codis-demo]").hexdigest()[:32]
  CHECK(codis::codis_xauth({"codis-demo"}) == "95b62887719520f17e312eaa76d28f2b");
  // Proxy: product name, product auth (empty), proxy token.
  CHECK(codis::codis_xauth({"codis-demo", "", "c6f1a2b3d4e5f60718293a4b5c6d7e8f"}) ==
        "91a1228f9dab408e40f4c51e4b093544");
  CHECK(codis::codis_xauth({}) == "f7b2b2c3b6d3bf653b5cc104d905c2c3");
}

TEST_CASE("random tokens", "[sha256]") {
  std::set<std::string> seen;
  for (int i = 0; i < 64; i++) {
    const auto t = codis::random_token();
    REQUIRE(t.size() == 32);
    CHECK(t.find_first_not_of("0123456789abcdef") == std::string::npos);
    seen.insert(t);
  }
  CHECK(seen.size() == 64);
}
