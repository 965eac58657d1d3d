// SHA-256 (FIPS 180-4) and the tokens Codis derives from it.
//
// The admin APIs of Codis put an "xauth" in every mutating path; both our
// daemons and our codis-admin compute it here so they agree with Codis's
// (pkg/utils/rpc NewXAuth). Also the random tokens that name a proxy or
// dashboard instance.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace codis {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest sha256(std::string_view data);

// Lowercase hex of the 32-byte digest (64 chars).
std::string sha256_hex(std::string_view data);

// Codis's rpc.NewXAuth(segs...): sha256("Codis-XAuth" + "-[" seg "]"...),
// hex of the first 16 bytes (32 chars). The dashboard uses {product_name};
// a proxy uses {product_name, product_auth, token}.
std::string codis_xauth(std::initializer_list<std::string_view> segments);

// 32 lowercase hex chars (128 bits) from std::random_device.
std::string random_token();

// Lowercase hex of arbitrary bytes.
std::string to_hex(const uint8_t* data, size_t len);

}  // namespace codis
