// Fuzzes the RESP2 codec. Beyond "no crash, no out-of-bounds read", it checks
// the properties the proxy relies on:
//  - parsing a buffer whole and in arbitrary pieces gives the same result;
//  - ReplyScanner and parse_value agree on where a reply ends;
//  - what parse_value accepts, append_value writes back in a form that parses
//    to the same tree (modulo CR/LF in status lines, which writers blank out).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "codis/resp.h"

namespace {

using codis::resp::Limits;
using codis::resp::ParseStatus;

void check(bool ok) {
  if (!ok) std::abort();
}

struct RequestResult {
  ParseStatus status = ParseStatus::kIncomplete;
  size_t consumed = 0;
  std::vector<std::string> args;
  bool is_inline = false;
  std::string error;
};

RequestResult take(codis::resp::RequestParser& p, ParseStatus st) {
  RequestResult r;
  r.status = st;
  if (st == ParseStatus::kOk) {
    r.consumed = p.consumed();
    for (std::string_view a : p.args()) r.args.emplace_back(a);
    r.is_inline = p.is_inline();
  } else if (st == ParseStatus::kError) {
    r.error = p.error();
  }
  return r;
}

bool same(const RequestResult& a, const RequestResult& b) {
  return a.status == b.status && a.consumed == b.consumed && a.args == b.args &&
         a.is_inline == b.is_inline && a.error == b.error;
}

// Chunk sizes come from the input itself so the fuzzer explores the split points.
size_t next_step(uint8_t seed, size_t i) { return 1 + ((seed + i * 7) % 13); }

void fuzz_requests(std::string_view data, const Limits& limits, uint8_t seed) {
  codis::resp::RequestParser whole(limits);
  size_t off = 0;
  // Walk the pipelined requests; for each, re-parse it in pieces from a copy.
  for (int n = 0; n < 64 && off < data.size(); ++n) {
    const std::string_view rest = data.substr(off);
    const RequestResult w = take(whole, whole.parse(rest));
    check(w.consumed <= rest.size());

    codis::resp::RequestParser pieces(limits);
    RequestResult inc;
    size_t have = 0;
    for (size_t i = 0;; ++i) {
      have = std::min(rest.size(), have + next_step(seed, i));
      const std::string copy(rest.substr(0, have));  // the buffer moves every call
      const ParseStatus st = pieces.parse(copy);
      if (st != ParseStatus::kIncomplete) {
        inc = take(pieces, st);
        if (st == ParseStatus::kOk) check(have >= inc.consumed);
        break;
      }
      if (have == rest.size()) break;
    }
    check(same(w, inc));
    if (w.status != ParseStatus::kOk) break;
    if (!w.is_inline) {
      // A RESP request written back with append_command parses to the same args.
      std::vector<std::string_view> views(w.args.begin(), w.args.end());
      std::string wire;
      codis::resp::append_command(wire, views);
      codis::resp::RequestParser again(limits);
      if (!views.empty()) {
        check(again.parse(wire) == ParseStatus::kOk);
        check(again.consumed() == wire.size());
        check(again.args().size() == views.size());
        for (size_t i = 0; i < views.size(); ++i) check(again.args()[i] == views[i]);
      }
    }
    check(w.consumed > 0);
    off += w.consumed;
  }
}

bool has_crlf(const codis::resp::Value& v) {
  using T = codis::resp::Value::Type;
  if ((v.type == T::kSimple || v.type == T::kError) &&
      v.str.find_first_of("\r\n") != std::string::npos) {
    return true;
  }
  for (const auto& e : v.elements) {
    if (has_crlf(e)) return true;
  }
  return false;
}

void fuzz_replies(std::string_view data, const Limits& limits, uint8_t seed) {
  codis::resp::ReplyScanner whole(limits);
  const ParseStatus ws = whole.scan(data);
  codis::resp::Value v;
  size_t consumed = 0;
  const ParseStatus ps = codis::resp::parse_value(data, v, consumed, limits);
  check(ws == ps);
  if (ws == ParseStatus::kOk) {
    check(whole.consumed() == consumed);
    check(consumed <= data.size());
    check(whole.type() == data[0]);
  }

  codis::resp::ReplyScanner pieces(limits);
  ParseStatus is = ParseStatus::kIncomplete;
  size_t have = 0;
  for (size_t i = 0;; ++i) {
    have = std::min(data.size(), have + next_step(seed, i));
    const std::string copy(data.substr(0, have));
    is = pieces.scan(copy);
    if (is != ParseStatus::kIncomplete || have == data.size()) break;
  }
  check(is == ws);
  if (is == ParseStatus::kOk) check(pieces.consumed() == whole.consumed());
  if (is == ParseStatus::kError) check(pieces.error() == whole.error());

  if (ps == ParseStatus::kOk) {
    std::string wire;
    codis::resp::append_value(wire, v);
    codis::resp::Value back;
    size_t back_consumed = 0;
    check(codis::resp::parse_value(wire, back, back_consumed, limits) == ParseStatus::kOk);
    check(back_consumed == wire.size());
    if (!has_crlf(v)) check(back == v);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size == 0) return 0;
  // First byte picks the chunking and tight limits, so limit paths get hit too.
  const uint8_t seed = bytes[0];
  const std::string_view data(reinterpret_cast<const char*>(bytes) + 1, size - 1);
  Limits limits;
  if (seed & 0x80) {
    limits.max_bulk_len = 64;
    limits.max_array_len = 8;
    limits.max_inline_len = 32;
    limits.max_depth = 3;
  }
  fuzz_requests(data, limits, seed);
  fuzz_replies(data, limits, seed);
  return 0;
}
