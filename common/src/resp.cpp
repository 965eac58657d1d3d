#include "codis/resp.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace codis::resp {
namespace {

constexpr std::string_view kCrlf = "\r\n";
// Longest digit string a header may carry: "-9223372036854775808" is 20 chars,
// and leading zeros are rejected, so anything longer is garbage.
constexpr size_t kMaxNumberChars = 20;

constexpr std::string_view kErrMultibulkLen = "Protocol error: invalid multibulk length";
constexpr std::string_view kErrBulkLen = "Protocol error: invalid bulk length";
constexpr std::string_view kErrInteger = "Protocol error: invalid integer";
constexpr std::string_view kErrBulkCrlf = "Protocol error: bulk string not followed by CRLF";
constexpr std::string_view kErrLineEnd = "Protocol error: line not terminated by CRLF";
constexpr std::string_view kErrTooBigInline = "Protocol error: too big inline request";
constexpr std::string_view kErrTooBigLine = "Protocol error: too big status line";
constexpr std::string_view kErrQuotes = "Protocol error: unbalanced quotes in request";
constexpr std::string_view kErrDepth = "Protocol error: reply nested too deep";

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Scans a header line "<type><number>\r\n" whose type byte is at data[start].
// kOk: `number` is the text between type byte and CRLF, `next` the offset after
// the LF. Fails as soon as a byte cannot belong to a number, so garbage is
// rejected without waiting for a line end that may never come.
ParseStatus scan_number_line(std::string_view data, size_t start, std::string_view& number,
                             size_t& next, uint64_t& examined) {
  const size_t limit = std::min(data.size(), start + 1 + kMaxNumberChars + 2);
  for (size_t i = start + 1; i < limit; ++i) {
    const char c = data[i];
    if (c == '\r') {
      if (i + 1 >= data.size()) {
        examined += i + 1 - start;
        return ParseStatus::kIncomplete;
      }
      examined += i + 2 - start;
      if (data[i + 1] != '\n') return ParseStatus::kError;
      number = data.substr(start + 1, i - start - 1);
      next = i + 2;
      return ParseStatus::kOk;
    }
    if ((!is_digit(c) && c != '-') || i - start > kMaxNumberChars) {
      examined += i + 1 - start;
      return ParseStatus::kError;
    }
  }
  examined += limit - start;
  return limit == data.size() ? ParseStatus::kIncomplete : ParseStatus::kError;
}

// The hot path of request parsing: "<digits>\r\n" at data[start + 1] (after
// the type byte), fused scan and conversion. Same rules as scan_number_line
// followed by parse_length: no sign, no leading zeros, at most `max`.
ParseStatus scan_length(std::string_view data, size_t start, uint64_t max, uint64_t& out, size_t& next,
                        uint64_t& examined) {
  const char* const base = data.data();
  const char* p = base + start + 1;
  const char* const end = base + std::min(data.size(), start + 1 + kMaxNumberChars + 2);
  uint64_t v = 0;
  for (; p < end; ++p) {
    const char c = *p;
    if (c >= '0' && c <= '9') {
      const size_t ndigits = static_cast<size_t>(p - (base + start + 1));
      if ((ndigits == 1 && v == 0) || ndigits >= 19) {  // leading zero / too long to be a length
        examined += ndigits + 2;
        return ParseStatus::kError;
      }
      v = v * 10 + static_cast<uint64_t>(c - '0');
      continue;
    }
    const size_t ndigits = static_cast<size_t>(p - (base + start + 1));
    if (c != '\r' || ndigits == 0) {
      examined += ndigits + 2;
      return ParseStatus::kError;
    }
    if (p + 1 >= base + data.size()) {
      examined += ndigits + 2;
      return ParseStatus::kIncomplete;
    }
    examined += ndigits + 3;
    if (p[1] != '\n' || v > max) return ParseStatus::kError;
    out = v;
    next = static_cast<size_t>(p + 2 - base);
    return ParseStatus::kOk;
  }
  examined += static_cast<size_t>(p - (base + start));
  return end == base + data.size() ? ParseStatus::kIncomplete : ParseStatus::kError;
}

// Unsigned decimal without sign or leading zeros, at most `max`.
bool parse_length(std::string_view s, uint64_t max, uint64_t& out) {
  if (s.empty() || s.size() > kMaxNumberChars) return false;
  if (s[0] == '0' && s.size() > 1) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (v > max) return false;
  out = v;
  return true;
}

// Signed 64-bit decimal as Redis writes it: optional '-', no '+', no leading zeros.
bool parse_int64(std::string_view s, int64_t& out) {
  bool negative = false;
  if (!s.empty() && s[0] == '-') {
    negative = true;
    s.remove_prefix(1);
  }
  uint64_t magnitude = 0;
  const uint64_t max = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  if (!parse_length(s, max, magnitude)) return false;
  if (negative && magnitude == 0) return false;  // "-0"
  out = negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
  return true;
}

// A length that may also be -1 (null bulk / null array). `value` is -1 or the length.
bool parse_nullable_length(std::string_view s, uint64_t max, int64_t& value) {
  if (s == "-1") {
    value = -1;
    return true;
  }
  uint64_t v = 0;
  if (!parse_length(s, max, v)) return false;
  value = static_cast<int64_t>(v);
  return true;
}

// sdssplitargs treats these as separators between arguments (isspace in C).
bool is_space(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f';
}

bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

void append_number(std::string& out, char type, int64_t v) {
  char buf[24];
  buf[0] = type;
  auto [end, ec] = std::to_chars(buf + 1, buf + sizeof(buf) - 2, v);
  (void)ec;  // 20 digits always fit
  *end++ = '\r';
  *end++ = '\n';
  out.append(buf, static_cast<size_t>(end - buf));
}

void append_length(std::string& out, char type, size_t n) {
  char buf[24];
  buf[0] = type;
  auto [end, ec] = std::to_chars(buf + 1, buf + sizeof(buf) - 2, n);
  (void)ec;
  *end++ = '\r';
  *end++ = '\n';
  out.append(buf, static_cast<size_t>(end - buf));
}

// Appends type + s + CRLF with CR and LF inside s replaced by spaces, so a
// caller's message can never break the framing.
void append_line(std::string& out, char type, std::string_view s) {
  out.push_back(type);
  const size_t start = out.size();
  out.append(s);
  for (size_t i = start; i < out.size(); ++i) {
    if (out[i] == '\r' || out[i] == '\n') out[i] = ' ';
  }
  out.append(kCrlf);
}

}  // namespace

// ---------------------------------------------------------------------------
// RequestParser

RequestParser::RequestParser(Limits limits) : limits_(limits) {}

void RequestParser::reset() {
  state_ = State::kStart;
  done_ = false;
  pos_ = 0;
  scan_ = 0;
  remaining_ = 0;
  bulk_len_ = 0;
  pieces_.clear();
  args_.clear();
  storage_.clear();
  consumed_ = 0;
  inline_ = false;
  error_.clear();
}

ParseStatus RequestParser::fail(std::string_view message) {
  error_.assign(message);
  done_ = true;
  return ParseStatus::kError;
}

ParseStatus RequestParser::finish(std::string_view data, size_t consumed, bool in_line) {
  args_.clear();
  args_.reserve(pieces_.size());
  for (const Piece& p : pieces_) {
    const std::string_view base = p.in_storage ? std::string_view(storage_) : data;
    args_.push_back(base.substr(p.offset, p.length));
  }
  consumed_ = consumed;
  inline_ = in_line;
  done_ = true;
  return ParseStatus::kOk;
}

namespace {
// "<digits>\r\n" at p for the fast path: a positive count/length without
// leading zeros, at most `max`. Returns the position after the LF, or null
// for anything else (incomplete, malformed, too big: the resumable path then
// decides and reports).
inline const char* fast_length(const char* p, const char* end, uint64_t max, uint64_t& out) {
  if (p >= end || *p < '1' || *p > '9') return (p < end && *p == '0' && end - p >= 3 && p[1] == '\r' && p[2] == '\n')
                                                   ? (out = 0, p + 3)
                                                   : nullptr;
  uint64_t v = static_cast<uint64_t>(*p++ - '0');
  const char* const digits_end = p + 17;
  while (p < end && *p >= '0' && *p <= '9' && p < digits_end) v = v * 10 + static_cast<uint64_t>(*p++ - '0');
  if (end - p < 2 || p[0] != '\r' || p[1] != '\n' || v > max) return nullptr;
  out = v;
  return p + 2;
}

// An integer reply's text as Redis writes it: optional '-', digits, no leading zeros.
inline bool is_integer_text(const char* p, const char* end) {
  std::string_view s(p, static_cast<size_t>(end - p));
  int64_t v = 0;
  return parse_int64(s, v);
}
}  // namespace

bool RequestParser::parse_complete(std::string_view data) {
  const char* const begin = data.data();
  const char* const end = begin + data.size();
  uint64_t n = 0;
  const char* p = fast_length(begin + 1, end, limits_.max_array_len, n);
  if (p == nullptr || n == 0) return false;
  args_.clear();
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t len = 0;
    if (p >= end || *p != '$') return false;
    p = fast_length(p + 1, end, limits_.max_bulk_len, len);
    if (p == nullptr || static_cast<uint64_t>(end - p) < len + 2 || p[len] != '\r' || p[len + 1] != '\n')
      return false;
    args_.emplace_back(p, static_cast<size_t>(len));
    p += len + 2;
  }
  examined_ += static_cast<uint64_t>(p - begin);
  consumed_ = static_cast<size_t>(p - begin);
  inline_ = false;
  done_ = true;
  return true;
}

ParseStatus RequestParser::parse(std::string_view data) {
  // A new request after a finished one, or a caller that handed us less than
  // we already looked at (misuse, but must not make us read out of bounds).
  if (done_ || data.size() < pos_ || data.size() < scan_) reset();
  // Fast path: a whole, well-formed request is already buffered (the usual
  // case). Tried once per request, so a request arriving in pieces still
  // costs linear time through the resumable path below.
  if (state_ == State::kStart && !data.empty() && data[0] == '*' && parse_complete(data)) return ParseStatus::kOk;
  if (state_ == State::kStart) {
    if (data.empty()) return ParseStatus::kIncomplete;
    if (data[0] != '*') {
      state_ = State::kInline;
      scan_ = 0;
    } else {
      size_t next = 0;
      int64_t count = 0;
      if (data.size() > 1 && data[1] != '-') {  // the usual case: a positive count
        uint64_t n = 0;
        const ParseStatus st = scan_length(data, 0, limits_.max_array_len, n, next, examined_);
        if (st == ParseStatus::kIncomplete) return st;
        if (st == ParseStatus::kError) return fail(kErrMultibulkLen);
        count = static_cast<int64_t>(n);
      } else {
        std::string_view number;
        const ParseStatus st = scan_number_line(data, 0, number, next, examined_);
        if (st == ParseStatus::kIncomplete) return st;
        if (st == ParseStatus::kError || !parse_nullable_length(number, limits_.max_array_len, count)) {
          return fail(kErrMultibulkLen);
        }
      }
      if (count <= 0) return finish(data, next, false);
      remaining_ = static_cast<size_t>(count);
      pieces_.reserve(std::min<size_t>(remaining_, 1024));
      pos_ = next;
      state_ = State::kBulkHeader;
    }
  }
  if (state_ == State::kInline) return parse_inline(data);

  for (;;) {
    if (state_ == State::kBulkHeader) {
      if (pos_ >= data.size()) return ParseStatus::kIncomplete;
      if (data[pos_] != '$') {
        ++examined_;
        std::string msg = "Protocol error: expected '$', got '";
        msg.push_back(data[pos_]);
        msg.push_back('\'');
        return fail(msg);
      }
      size_t next = 0;
      uint64_t len = 0;
      const ParseStatus st = scan_length(data, pos_, limits_.max_bulk_len, len, next, examined_);
      if (st == ParseStatus::kIncomplete) return st;
      if (st == ParseStatus::kError) return fail(kErrBulkLen);
      bulk_len_ = static_cast<size_t>(len);
      pos_ = next;
      state_ = State::kBulkPayload;
    }
    // kBulkPayload: the payload is not examined, only its terminator.
    if (data.size() - pos_ < bulk_len_ + 2) return ParseStatus::kIncomplete;
    examined_ += 2;
    if (data[pos_ + bulk_len_] != '\r' || data[pos_ + bulk_len_ + 1] != '\n') {
      return fail(kErrBulkCrlf);
    }
    pieces_.push_back({false, pos_, bulk_len_});
    pos_ += bulk_len_ + 2;
    if (--remaining_ == 0) return finish(data, pos_, false);
    state_ = State::kBulkHeader;
  }
}

ParseStatus RequestParser::parse_inline(std::string_view data) {
  // Search only as far as a legal line can reach, and never twice over the same bytes.
  const size_t limit = std::min(data.size(), limits_.max_inline_len + 2);
  const void* found = nullptr;
  if (scan_ < limit) {
    found = std::memchr(data.data() + scan_, '\n', limit - scan_);
  }
  if (found == nullptr) {
    examined_ += limit > scan_ ? limit - scan_ : 0;
    scan_ = std::max(scan_, limit);
    if (data.size() > limits_.max_inline_len + 1) return fail(kErrTooBigInline);
    return ParseStatus::kIncomplete;
  }
  const size_t nl = static_cast<size_t>(static_cast<const char*>(found) - data.data());
  examined_ += nl + 1 - scan_;
  scan_ = nl + 1;
  const size_t line_len = (nl > 0 && data[nl - 1] == '\r') ? nl - 1 : nl;
  if (line_len > limits_.max_inline_len) return fail(kErrTooBigInline);
  const ParseStatus st = split_inline(data, line_len);
  if (st != ParseStatus::kOk) return st;
  return finish(data, nl + 1, true);
}

// Splits data[0, line_len) into arguments exactly as Redis's sdssplitargs does.
// Unquoted arguments stay views into `data`; quoted ones are unescaped into storage_.
ParseStatus RequestParser::split_inline(std::string_view data, size_t line_len) {
  std::string_view line = data.substr(0, line_len);
  examined_ += line.size();
  // Redis splits a C string: a NUL byte ends the line.
  if (const void* nul = std::memchr(line.data(), '\0', line.size())) {
    line = line.substr(0, static_cast<size_t>(static_cast<const char*>(nul) - line.data()));
  }
  const size_t n = line.size();
  auto at = [&](size_t i) { return i < n ? line[i] : '\0'; };
  pieces_.clear();
  storage_.clear();
  size_t i = 0;
  for (;;) {
    while (i < n && is_space(line[i])) ++i;
    if (i >= n) break;
    const size_t start = i;
    bool in_dq = false;
    bool in_sq = false;
    bool copied = false;  // the argument lives in storage_ (it had quotes)
    size_t storage_start = 0;
    auto to_storage = [&](size_t upto) {
      if (copied) return;
      copied = true;
      storage_start = storage_.size();
      storage_.append(line.substr(start, upto - start));
    };
    for (;;) {
      const char c = at(i);
      if (in_dq) {
        if (c == '\\' && at(i + 1) == 'x' && is_hex(at(i + 2)) && is_hex(at(i + 3))) {
          storage_.push_back(static_cast<char>(hex_value(at(i + 2)) * 16 + hex_value(at(i + 3))));
          i += 4;
        } else if (c == '\\' && i + 1 < n) {
          char e = line[i + 1];
          switch (e) {
            case 'n': e = '\n'; break;
            case 'r': e = '\r'; break;
            case 't': e = '\t'; break;
            case 'b': e = '\b'; break;
            case 'a': e = '\a'; break;
            default: break;
          }
          storage_.push_back(e);
          i += 2;
        } else if (c == '"') {
          // The closing quote must be followed by a space or the end.
          if (i + 1 < n && !is_space(line[i + 1])) return fail(kErrQuotes);
          ++i;
          break;
        } else if (i >= n) {
          return fail(kErrQuotes);
        } else {
          storage_.push_back(c);
          ++i;
        }
      } else if (in_sq) {
        if (c == '\\' && at(i + 1) == '\'') {
          storage_.push_back('\'');
          i += 2;
        } else if (c == '\'') {
          if (i + 1 < n && !is_space(line[i + 1])) return fail(kErrQuotes);
          ++i;
          break;
        } else if (i >= n) {
          return fail(kErrQuotes);
        } else {
          storage_.push_back(c);
          ++i;
        }
      } else {
        if (i >= n || c == ' ' || c == '\n' || c == '\r' || c == '\t') break;
        if (c == '"' || c == '\'') {
          to_storage(i);
          (c == '"' ? in_dq : in_sq) = true;
        } else if (copied) {
          storage_.push_back(c);
        }
        ++i;
      }
    }
    if (copied) {
      pieces_.push_back({true, storage_start, storage_.size() - storage_start});
    } else {
      pieces_.push_back({false, start, i - start});
    }
  }
  return ParseStatus::kOk;
}

// ---------------------------------------------------------------------------
// ReplyScanner

ReplyScanner::ReplyScanner(Limits limits) : limits_(limits) {}

void ReplyScanner::reset() {
  done_ = false;
  in_bulk_ = false;
  pos_ = 0;
  line_scan_ = 0;
  bulk_len_ = 0;
  stack_.clear();
  consumed_ = 0;
  type_ = 0;
  error_.clear();
}

ParseStatus ReplyScanner::fail(std::string_view message) {
  error_.assign(message);
  done_ = true;
  return ParseStatus::kError;
}

bool ReplyScanner::element_done() {
  while (!stack_.empty()) {
    if (--stack_.back() > 0) return false;
    stack_.pop_back();
  }
  return true;
}

ParseStatus ReplyScanner::scan(std::string_view data) {
  if (done_ || data.size() < pos_ || data.size() < line_scan_) reset();
  // Fast path for the commonest replies, complete in the buffer: a bulk string
  // or a short status/integer line. Anything else takes the general path.
  if (pos_ == 0 && !in_bulk_ && stack_.empty() && data.size() >= 4) {
    const char* const begin = data.data();
    const char* const end = begin + data.size();
    if (data[0] == '$') {
      uint64_t len = 0;
      const char* p = fast_length(begin + 1, end, limits_.max_bulk_len, len);
      if (p != nullptr && static_cast<uint64_t>(end - p) >= len + 2 && p[len] == '\r' && p[len + 1] == '\n') {
        consumed_ = static_cast<size_t>(p - begin) + len + 2;
        examined_ += consumed_ - len;
        type_ = '$';
        done_ = true;
        return ParseStatus::kOk;
      }
    } else if (data[0] == '+' || data[0] == ':') {
      const size_t n = std::min<size_t>(data.size(), 64);
      const void* nl = std::memchr(begin + 1, '\n', n - 1);
      if (nl != nullptr) {
        const char* q = static_cast<const char*>(nl);
        if (q[-1] == '\r' && q - 1 > begin + 1 && (data[0] == '+' || is_integer_text(begin + 1, q - 1))) {
          consumed_ = static_cast<size_t>(q + 1 - begin);
          examined_ += consumed_;
          type_ = data[0];
          done_ = true;
          return ParseStatus::kOk;
        }
      }
    }
  }
  for (;;) {
    if (in_bulk_) {
      if (data.size() - pos_ < bulk_len_ + 2) return ParseStatus::kIncomplete;
      examined_ += 2;
      if (data[pos_ + bulk_len_] != '\r' || data[pos_ + bulk_len_ + 1] != '\n') {
        return fail(kErrBulkCrlf);
      }
      pos_ += bulk_len_ + 2;
      in_bulk_ = false;
      if (element_done()) break;
      continue;
    }
    if (pos_ >= data.size()) return ParseStatus::kIncomplete;
    const char type = data[pos_];
    bool complete = false;
    switch (type) {
      case '+':
      case '-': {
        // Status lines carry text, so they may be long; resume the search
        // for LF where the last call stopped.
        const size_t from = std::max(line_scan_, pos_ + 1);
        const size_t limit = std::min(data.size(), pos_ + 1 + limits_.max_bulk_len + 2);
        const void* found =
            from < limit ? std::memchr(data.data() + from, '\n', limit - from) : nullptr;
        if (found == nullptr) {
          examined_ += limit > from ? limit - from : 0;
          line_scan_ = std::max(from, limit);
          if (limit < data.size()) return fail(kErrTooBigLine);
          return ParseStatus::kIncomplete;
        }
        const size_t nl = static_cast<size_t>(static_cast<const char*>(found) - data.data());
        examined_ += nl + 1 - from;
        if (data[nl - 1] != '\r' || nl - 1 == pos_) return fail(kErrLineEnd);
        pos_ = nl + 1;
        line_scan_ = 0;
        complete = element_done();
        break;
      }
      case ':': {
        std::string_view number;
        size_t next = 0;
        const ParseStatus st = scan_number_line(data, pos_, number, next, examined_);
        if (st == ParseStatus::kIncomplete) return st;
        int64_t v = 0;
        if (st == ParseStatus::kError || !parse_int64(number, v)) return fail(kErrInteger);
        pos_ = next;
        complete = element_done();
        break;
      }
      case '$': {
        std::string_view number;
        size_t next = 0;
        const ParseStatus st = scan_number_line(data, pos_, number, next, examined_);
        if (st == ParseStatus::kIncomplete) return st;
        int64_t len = 0;
        if (st == ParseStatus::kError ||
            !parse_nullable_length(number, limits_.max_bulk_len, len)) {
          return fail(kErrBulkLen);
        }
        pos_ = next;
        if (len < 0) {
          complete = element_done();
        } else {
          bulk_len_ = static_cast<size_t>(len);
          in_bulk_ = true;
        }
        break;
      }
      case '*': {
        std::string_view number;
        size_t next = 0;
        const ParseStatus st = scan_number_line(data, pos_, number, next, examined_);
        if (st == ParseStatus::kIncomplete) return st;
        int64_t count = 0;
        if (st == ParseStatus::kError ||
            !parse_nullable_length(number, limits_.max_array_len, count)) {
          return fail(kErrMultibulkLen);
        }
        pos_ = next;
        if (count <= 0) {
          complete = element_done();
        } else {
          if (stack_.size() >= static_cast<size_t>(std::max(limits_.max_depth, 0))) {
            return fail(kErrDepth);
          }
          stack_.push_back(static_cast<size_t>(count));
        }
        break;
      }
      default: {
        ++examined_;
        std::string msg = "Protocol error: unexpected reply type '";
        msg.push_back(type);
        msg.push_back('\'');
        return fail(msg);
      }
    }
    if (complete) break;
  }
  consumed_ = pos_;
  type_ = data[0];
  done_ = true;
  return ParseStatus::kOk;
}

// ---------------------------------------------------------------------------
// Value

bool Value::operator==(const Value& other) const {
  return type == other.type && str == other.str && integer == other.integer &&
         elements == other.elements;
}

namespace {

ParseStatus parse_value_at(std::string_view data, size_t& pos, Value& out, int depth,
                           const Limits& limits) {
  uint64_t examined = 0;  // not reported by parse_value
  if (pos >= data.size()) return ParseStatus::kIncomplete;
  const char type = data[pos];
  out.str.clear();
  out.elements.clear();
  out.integer = 0;
  switch (type) {
    case '+':
    case '-': {
      const size_t limit = std::min(data.size(), pos + 1 + limits.max_bulk_len + 2);
      const void* found =
          limit > pos + 1 ? std::memchr(data.data() + pos + 1, '\n', limit - pos - 1) : nullptr;
      if (found == nullptr) {
        return limit < data.size() ? ParseStatus::kError : ParseStatus::kIncomplete;
      }
      const size_t nl = static_cast<size_t>(static_cast<const char*>(found) - data.data());
      if (nl - 1 == pos || data[nl - 1] != '\r') return ParseStatus::kError;
      out.type = type == '+' ? Value::Type::kSimple : Value::Type::kError;
      out.str.assign(data.substr(pos + 1, nl - 1 - (pos + 1)));
      pos = nl + 1;
      return ParseStatus::kOk;
    }
    case ':': {
      std::string_view number;
      size_t next = 0;
      const ParseStatus st = scan_number_line(data, pos, number, next, examined);
      if (st != ParseStatus::kOk) return st;
      if (!parse_int64(number, out.integer)) return ParseStatus::kError;
      out.type = Value::Type::kInteger;
      pos = next;
      return ParseStatus::kOk;
    }
    case '$': {
      std::string_view number;
      size_t next = 0;
      const ParseStatus st = scan_number_line(data, pos, number, next, examined);
      if (st != ParseStatus::kOk) return st;
      int64_t len = 0;
      if (!parse_nullable_length(number, limits.max_bulk_len, len)) return ParseStatus::kError;
      if (len < 0) {
        out.type = Value::Type::kNullBulk;
        pos = next;
        return ParseStatus::kOk;
      }
      const size_t n = static_cast<size_t>(len);
      if (data.size() - next < n + 2) return ParseStatus::kIncomplete;
      if (data[next + n] != '\r' || data[next + n + 1] != '\n') return ParseStatus::kError;
      out.type = Value::Type::kBulk;
      out.str.assign(data.substr(next, n));
      pos = next + n + 2;
      return ParseStatus::kOk;
    }
    case '*': {
      std::string_view number;
      size_t next = 0;
      const ParseStatus st = scan_number_line(data, pos, number, next, examined);
      if (st != ParseStatus::kOk) return st;
      int64_t count = 0;
      if (!parse_nullable_length(number, limits.max_array_len, count)) return ParseStatus::kError;
      pos = next;
      if (count < 0) {
        out.type = Value::Type::kNullArray;
        return ParseStatus::kOk;
      }
      out.type = Value::Type::kArray;
      if (count == 0) return ParseStatus::kOk;
      if (depth >= limits.max_depth) return ParseStatus::kError;
      // Every element takes at least 3 bytes ("+\r\n"): never reserve more
      // than the input can hold, whatever the header claims.
      const size_t n = static_cast<size_t>(count);
      out.elements.reserve(std::min(n, (data.size() - pos) / 3 + 1));
      for (size_t i = 0; i < n; ++i) {
        out.elements.emplace_back();
        const ParseStatus est = parse_value_at(data, pos, out.elements.back(), depth + 1, limits);
        if (est != ParseStatus::kOk) return est;
      }
      return ParseStatus::kOk;
    }
    default:
      return ParseStatus::kError;
  }
}

}  // namespace

ParseStatus parse_value(std::string_view data, Value& out, size_t& consumed, const Limits& limits) {
  size_t pos = 0;
  const ParseStatus st = parse_value_at(data, pos, out, 0, limits);
  if (st == ParseStatus::kOk) consumed = pos;
  return st;
}

// ---------------------------------------------------------------------------
// Writers

void append_simple(std::string& out, std::string_view s) { append_line(out, '+', s); }

void append_error(std::string& out, std::string_view msg) { append_line(out, '-', msg); }

void append_integer(std::string& out, int64_t v) { append_number(out, ':', v); }

void append_bulk(std::string& out, std::string_view s) {
  append_length(out, '$', s.size());
  out.append(s);
  out.append(kCrlf);
}

void append_null_bulk(std::string& out) { out.append("$-1\r\n"); }

void append_null_array(std::string& out) { out.append("*-1\r\n"); }

void append_array_header(std::string& out, size_t n) { append_length(out, '*', n); }

void append_command(std::string& out, std::span<const std::string_view> args) {
  size_t total = 16;
  for (std::string_view a : args) total += a.size() + 16;
  out.reserve(out.size() + total);
  append_array_header(out, args.size());
  for (std::string_view a : args) append_bulk(out, a);
}

void append_value(std::string& out, const Value& v) {
  switch (v.type) {
    case Value::Type::kSimple: append_simple(out, v.str); break;
    case Value::Type::kError: append_error(out, v.str); break;
    case Value::Type::kInteger: append_integer(out, v.integer); break;
    case Value::Type::kBulk: append_bulk(out, v.str); break;
    case Value::Type::kNullBulk: append_null_bulk(out); break;
    case Value::Type::kNullArray: append_null_array(out); break;
    case Value::Type::kArray:
      append_array_header(out, v.elements.size());
      for (const Value& e : v.elements) append_value(out, e);
      break;
  }
}

}  // namespace codis::resp
