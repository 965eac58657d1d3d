// The migration source's reader of its target's replies: AUTH/SELECT status
// lines and SLOTSRESTORE-ASYNC-ACK arrays (`*3 $SLOTSRESTORE-ASYNC-ACK $errno
// $message`). Incremental: parse_reply() consumes one whole reply or nothing,
// so bytes may arrive in any split. Header-only, no Redis dependency, so it is
// unit-tested byte by byte (test/reply_parser_test.cc).
#pragma once

#include <cstdlib>
#include <string>
#include <vector>

namespace codis::slots {

struct Reply {
  char kind = 0;                 // '+', '-', ':', '$', '*'
  std::string text;              // status/error/integer/bulk text
  std::vector<std::string> items;  // an array of bulk/simple items (one level)
};

enum class Parse { kOk, kIncomplete, kGarbage };

inline Parse parse_line(const std::string& in, size_t pos, size_t* eol) {
  size_t p = in.find("\r\n", pos);
  if (p == std::string::npos) return in.size() - pos > (1u << 16) ? Parse::kGarbage : Parse::kIncomplete;
  *eol = p;
  return Parse::kOk;
}

inline Parse parse_scalar(const std::string& in, size_t* pos, char* kind, std::string* text) {
  if (*pos >= in.size()) return Parse::kIncomplete;
  size_t eol = 0;
  Parse r = parse_line(in, *pos, &eol);
  if (r != Parse::kOk) return r;
  char k = in[*pos];
  std::string line = in.substr(*pos + 1, eol - *pos - 1);
  if (k == '+' || k == '-' || k == ':') {
    *kind = k;
    *text = std::move(line);
    *pos = eol + 2;
    return Parse::kOk;
  }
  if (k == '$') {
    char* end = nullptr;
    long n = std::strtol(line.c_str(), &end, 10);
    if (end == line.c_str() || n < -1 || n > (1L << 29)) return Parse::kGarbage;
    if (n < 0) {
      *kind = '$';
      text->clear();
      *pos = eol + 2;
      return Parse::kOk;
    }
    if (in.size() < eol + 2 + static_cast<size_t>(n) + 2) return Parse::kIncomplete;
    *kind = '$';
    *text = in.substr(eol + 2, static_cast<size_t>(n));
    *pos = eol + 2 + static_cast<size_t>(n) + 2;
    return Parse::kOk;
  }
  return Parse::kGarbage;
}

// Parses one reply at in[*pos]; advances *pos only when complete.
inline Parse parse_reply(const std::string& in, size_t* pos, Reply* out) {
  if (*pos >= in.size()) return Parse::kIncomplete;
  if (in[*pos] != '*') {
    size_t p = *pos;
    Parse r = parse_scalar(in, &p, &out->kind, &out->text);
    if (r == Parse::kOk) *pos = p;
    return r;
  }
  size_t eol = 0;
  Parse r = parse_line(in, *pos, &eol);
  if (r != Parse::kOk) return r;
  char* end = nullptr;
  std::string line = in.substr(*pos + 1, eol - *pos - 1);
  long n = std::strtol(line.c_str(), &end, 10);
  if (end == line.c_str() || n < -1 || n > 64) return Parse::kGarbage;
  size_t p = eol + 2;
  out->kind = '*';
  out->items.clear();
  for (long i = 0; i < n; ++i) {
    char k = 0;
    std::string t;
    r = parse_scalar(in, &p, &k, &t);
    if (r != Parse::kOk) return r;
    out->items.push_back(std::move(t));
  }
  *pos = p;
  return Parse::kOk;
}

}  // namespace codis::slots
