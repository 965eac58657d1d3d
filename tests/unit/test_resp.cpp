// RESP2 codec: every parser case runs on the whole input and byte by byte
// (growing prefixes, each a fresh copy so the buffer "moves" between calls).
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "codis/resp.h"

using codis::resp::Limits;
using codis::resp::ParseStatus;
using codis::resp::ReplyScanner;
using codis::resp::RequestParser;
using codis::resp::Value;

namespace {

struct Outcome {
  ParseStatus status = ParseStatus::kIncomplete;
  size_t consumed = 0;
  std::vector<std::string> args;
  bool is_inline = false;
  char type = 0;
  std::string error;
};

Outcome request_outcome(RequestParser& p, ParseStatus st) {
  Outcome o;
  o.status = st;
  if (st == ParseStatus::kOk) {
    o.consumed = p.consumed();
    for (std::string_view a : p.args()) o.args.emplace_back(a);
    o.is_inline = p.is_inline();
  } else if (st == ParseStatus::kError) {
    o.error = p.error();
  }
  return o;
}

Outcome parse_whole(std::string_view input, Limits limits = {}) {
  RequestParser p(limits);
  return request_outcome(p, p.parse(input));
}

// Feeds growing prefixes; returns the first outcome that is not kIncomplete
// (or kIncomplete when the whole input never completes).
Outcome parse_bytewise(std::string_view input, size_t* finished_at, Limits limits = {}) {
  RequestParser p(limits);
  for (size_t k = 0; k <= input.size(); ++k) {
    const std::string prefix(input.substr(0, k));  // a fresh buffer every time
    const ParseStatus st = p.parse(prefix);
    if (st != ParseStatus::kIncomplete) {
      *finished_at = k;
      return request_outcome(p, st);
    }
  }
  *finished_at = input.size();
  return Outcome{};
}

// Checks that whole and byte-by-byte parsing agree, and returns the outcome.
Outcome parse_both(std::string_view input, Limits limits = {}) {
  const Outcome whole = parse_whole(input, limits);
  size_t at = 0;
  const Outcome bytewise = parse_bytewise(input, &at, limits);
  CHECK(static_cast<int>(bytewise.status) == static_cast<int>(whole.status));
  CHECK(bytewise.consumed == whole.consumed);
  CHECK(bytewise.args == whole.args);
  CHECK(bytewise.is_inline == whole.is_inline);
  CHECK(bytewise.error == whole.error);
  if (whole.status == ParseStatus::kOk) CHECK(at == whole.consumed);
  return whole;
}

void expect_request(std::string_view input, const std::vector<std::string>& args,
                    bool is_inline = false, Limits limits = {}) {
  INFO("input: " << std::string(input));
  const Outcome o = parse_both(input, limits);
  REQUIRE(o.status == ParseStatus::kOk);
  CHECK(o.consumed == input.size());
  CHECK(o.args == args);
  CHECK(o.is_inline == is_inline);
}

void expect_request_error(std::string_view input, std::string_view error, Limits limits = {}) {
  INFO("input: " << std::string(input));
  const Outcome o = parse_both(input, limits);
  REQUIRE(o.status == ParseStatus::kError);
  CHECK(o.error == error);
}

Outcome reply_outcome(ReplyScanner& s, ParseStatus st) {
  Outcome o;
  o.status = st;
  if (st == ParseStatus::kOk) {
    o.consumed = s.consumed();
    o.type = s.type();
  } else if (st == ParseStatus::kError) {
    o.error = s.error();
  }
  return o;
}

Outcome scan_both(std::string_view input, Limits limits = {}) {
  ReplyScanner whole_scanner(limits);
  const Outcome whole = reply_outcome(whole_scanner, whole_scanner.scan(input));
  ReplyScanner s(limits);
  Outcome bytewise;
  size_t at = input.size();
  for (size_t k = 0; k <= input.size(); ++k) {
    const std::string prefix(input.substr(0, k));
    const ParseStatus st = s.scan(prefix);
    if (st != ParseStatus::kIncomplete) {
      bytewise = reply_outcome(s, st);
      at = k;
      break;
    }
  }
  CHECK(static_cast<int>(bytewise.status) == static_cast<int>(whole.status));
  CHECK(bytewise.consumed == whole.consumed);
  CHECK(bytewise.type == whole.type);
  CHECK(bytewise.error == whole.error);
  if (whole.status == ParseStatus::kOk) CHECK(at == whole.consumed);
  return whole;
}

void expect_reply(std::string_view input, Limits limits = {}) {
  INFO("input: " << std::string(input));
  const Outcome o = scan_both(input, limits);
  REQUIRE(o.status == ParseStatus::kOk);
  CHECK(o.consumed == input.size());
  CHECK(o.type == input[0]);
  // parse_value agrees on the span.
  Value v;
  size_t consumed = 0;
  REQUIRE(codis::resp::parse_value(input, v, consumed, limits) == ParseStatus::kOk);
  CHECK(consumed == input.size());
}

void expect_reply_error(std::string_view input, Limits limits = {}) {
  INFO("input: " << std::string(input));
  const Outcome o = scan_both(input, limits);
  CHECK(o.status == ParseStatus::kError);
  CHECK_FALSE(o.error.empty());
  Value v;
  size_t consumed = 0;
  CHECK(codis::resp::parse_value(input, v, consumed, limits) == ParseStatus::kError);
}

std::string repeat(std::string_view s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out.append(s);
  return out;
}

}  // namespace

TEST_CASE("RESP requests: arrays of bulk strings", "[resp]") {
  expect_request("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", {"GET", "k"});
  expect_request("*1\r\n$4\r\nPING\r\n", {"PING"});
  expect_request("*3\r\n$3\r\nSET\r\n$0\r\n\r\n$4\r\na\r\nb\r\n", {"SET", "", "a\r\nb"});
  // Binary payload with NUL and '$' inside.
  expect_request(std::string("*1\r\n$5\r\na\0$\nb\r\n", 15), {std::string("a\0$\nb", 5)});
  // Empty requests: zero args, consumed.
  expect_request("*0\r\n", {});
  expect_request("*-1\r\n", {});
}

TEST_CASE("RESP request args point into the input", "[resp]") {
  const std::string input = "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
  RequestParser p;
  REQUIRE(p.parse(input) == ParseStatus::kOk);
  REQUIRE(p.args().size() == 2);
  CHECK(p.args()[1].data() == input.data() + 17);
  CHECK_FALSE(p.is_inline());
}

TEST_CASE("RESP request errors use Redis's wording", "[resp]") {
  const std::string bulk = "Protocol error: invalid bulk length";
  const std::string multibulk = "Protocol error: invalid multibulk length";
  expect_request_error("*1\r\n$-2\r\n", bulk);
  expect_request_error("*1\r\n$-1\r\n", bulk);
  expect_request_error("*1\r\n$abc\r\n", bulk);
  expect_request_error("*1\r\n$1x\r\n", bulk);
  expect_request_error("*1\r\n$+1\r\n", bulk);
  expect_request_error("*1\r\n$01\r\na\r\n", bulk);
  expect_request_error("*1\r\n$\r\n", bulk);
  expect_request_error("*1\r\n$1\n", bulk);  // bare LF is not a RESP line end
  expect_request_error("*1\r\n$1\rx", bulk);
  expect_request_error("*1\r\n$99999999999999999999999\r\n", bulk);
  expect_request_error("*1\r\n$18446744073709551616\r\n", bulk);  // 2^64
  expect_request_error("*-2\r\n", multibulk);
  expect_request_error("*abc\r\n", multibulk);
  expect_request_error("*1x\r\n", multibulk);
  expect_request_error("*+1\r\n", multibulk);
  expect_request_error("*\r\n", multibulk);
  expect_request_error("*2\n", multibulk);
  expect_request_error("*1\r\nx", "Protocol error: expected '$', got 'x'");
  expect_request_error("*2\r\n$1\r\na\r\n:1\r\n", "Protocol error: expected '$', got ':'");
  // A payload must be followed by exactly CRLF.
  expect_request_error("*1\r\n$1\r\nab\r\n", "Protocol error: bulk string not followed by CRLF");
  expect_request_error("*1\r\n$1\r\na\n\n", "Protocol error: bulk string not followed by CRLF");
  expect_request_error("*1\r\n$1\r\na\rx", "Protocol error: bulk string not followed by CRLF");
}

TEST_CASE("RESP request limits fail at the header, before any payload", "[resp]") {
  {
    RequestParser p;
    REQUIRE(p.parse("*10000000\r\n") == ParseStatus::kError);
    CHECK(p.error() == "Protocol error: invalid multibulk length");
  }
  {
    RequestParser p;
    REQUIRE(p.parse("*1\r\n$2147483648\r\n") == ParseStatus::kError);
    CHECK(p.error() == "Protocol error: invalid bulk length");
  }
  {
    Limits small;
    small.max_bulk_len = 10;
    small.max_array_len = 3;
    expect_request("*3\r\n$10\r\n0123456789\r\n$1\r\na\r\n$1\r\nb\r\n", {"0123456789", "a", "b"},
                   false, small);
    expect_request_error("*4\r\n", "Protocol error: invalid multibulk length", small);
    expect_request_error("*1\r\n$11\r\n", "Protocol error: invalid bulk length", small);
  }
  {
    // An endless number line is rejected without waiting for CRLF.
    RequestParser p;
    CHECK(p.parse("*1\r\n$" + std::string(40, '1')) == ParseStatus::kError);
  }
}

TEST_CASE("inline requests", "[resp]") {
  expect_request("GET k\r\n", {"GET", "k"}, true);
  expect_request("GET k\n", {"GET", "k"}, true);
  expect_request("  SET \t a   b  \r\n", {"SET", "a", "b"}, true);
  expect_request("PING\r\n", {"PING"}, true);
  expect_request("\r\n", {}, true);
  expect_request("\n", {}, true);
  expect_request("   \r\n", {}, true);
  // A lone CR inside the line separates arguments, as in sdssplitargs.
  expect_request("a\rb\r\n", {"a", "b"}, true);
}

TEST_CASE("inline requests: quoting as in sdssplitargs", "[resp]") {
  expect_request("SET \"hello world\" 'x y'\r\n", {"SET", "hello world", "x y"}, true);
  expect_request("SET k \"a\\nb\\r\\t\\b\\a\\\\\\\"c\"\r\n",
                 {"SET", "k", "a\nb\r\t\b\a\\\"c"}, true);
  expect_request("SET k \"\\x41\\x7a\\xff\\x4\"\r\n", {"SET", "k", "Az\xffx4"}, true);
  expect_request("SET k \"\\q\"\r\n", {"SET", "k", "q"}, true);
  expect_request("SET k 'it\\'s \\n'\r\n", {"SET", "k", "it's \\n"}, true);
  expect_request("SET k \"\"\r\n", {"SET", "k", ""}, true);
  expect_request("SET k ''\n", {"SET", "k", ""}, true);
  // A quote inside an unquoted word opens a quoted section of the same argument.
  expect_request("SET ab\"c d\"\r\n", {"SET", "abc d"}, true);
  expect_request("SET a'b c'\r\n", {"SET", "ab c"}, true);
  // Quoted and unquoted args mixed, several quoted args (storage must not move views).
  expect_request("MSET \"k1\" v1 \"k2\" 'v2' k3 \"v\\x333\"\r\n",
                 {"MSET", "k1", "v1", "k2", "v2", "k3", "v33"}, true);

  const std::string quotes = "Protocol error: unbalanced quotes in request";
  expect_request_error("SET \"abc\r\n", quotes);
  expect_request_error("SET 'abc\r\n", quotes);
  expect_request_error("SET \"abc\"def\r\n", quotes);
  expect_request_error("SET 'abc'def\r\n", quotes);
  expect_request_error("SET \"abc\\\"\r\n", quotes);
  expect_request_error("SET \"abc\\\r\n", quotes);
}

TEST_CASE("inline request length limit", "[resp]") {
  Limits small;
  small.max_inline_len = 16;
  expect_request(std::string(16, 'a') + "\r\n", {std::string(16, 'a')}, true, small);
  expect_request(std::string(16, 'a') + "\n", {std::string(16, 'a')}, true, small);
  expect_request_error(std::string(17, 'a') + "\r\n", "Protocol error: too big inline request",
                       small);
  // No newline at all: fails once the buffer can no longer hold a legal line.
  RequestParser p(small);
  CHECK(p.parse(std::string(17, 'a')) == ParseStatus::kIncomplete);
  CHECK(p.parse(std::string(18, 'a')) == ParseStatus::kError);
  CHECK(p.error() == "Protocol error: too big inline request");
  RequestParser big;
  CHECK(big.parse(std::string(100000, 'a')) == ParseStatus::kError);
  CHECK(big.error() == "Protocol error: too big inline request");
}

TEST_CASE("pipelined requests in one buffer", "[resp]") {
  const std::string buf =
      "*1\r\n$4\r\nPING\r\nGET a\r\n\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n*0\r\nSET 'x y' z\n*1\r\n$4\r\nQU";
  const std::vector<std::vector<std::string>> expected = {
      {"PING"}, {"GET", "a"}, {}, {"GET", "b"}, {}, {"SET", "x y", "z"}};
  RequestParser p;
  size_t off = 0;
  std::vector<std::vector<std::string>> got;
  for (;;) {
    const ParseStatus st = p.parse(std::string_view(buf).substr(off));
    if (st != ParseStatus::kOk) {
      CHECK(st == ParseStatus::kIncomplete);
      break;
    }
    std::vector<std::string> args;
    for (std::string_view a : p.args()) args.emplace_back(a);
    got.push_back(args);
    off += p.consumed();
  }
  CHECK(got == expected);
  // The tail completes once the rest arrives.
  const std::string rest = buf.substr(off) + "IT\r\n";
  REQUIRE(p.parse(rest) == ParseStatus::kOk);
  REQUIRE(p.args().size() == 1);
  CHECK(p.args()[0] == "QUIT");
}

TEST_CASE("request parser reset forgets partial state", "[resp]") {
  RequestParser p;
  CHECK(p.parse("*2\r\n$3\r\nGET\r\n") == ParseStatus::kIncomplete);
  p.reset();
  REQUIRE(p.parse("PING\r\n") == ParseStatus::kOk);
  CHECK(p.is_inline());
  // After an error the next parse starts fresh too.
  CHECK(p.parse("*x\r\n") == ParseStatus::kError);
  REQUIRE(p.parse("*1\r\n$1\r\na\r\n") == ParseStatus::kOk);
  CHECK(p.args().size() == 1);
}

TEST_CASE("replies: every type", "[resp]") {
  expect_reply("+OK\r\n");
  expect_reply("+\r\n");
  expect_reply("-ERR unknown command\r\n");
  expect_reply(":0\r\n");
  expect_reply(":-5\r\n");
  expect_reply(":9223372036854775807\r\n");
  expect_reply(":-9223372036854775808\r\n");
  expect_reply("$3\r\nfoo\r\n");
  expect_reply("$0\r\n\r\n");
  expect_reply("$-1\r\n");
  expect_reply("*-1\r\n");
  expect_reply("*0\r\n");
  expect_reply("*3\r\n$1\r\na\r\n$-1\r\n:7\r\n");
  expect_reply("*2\r\n*2\r\n+a\r\n-b\r\n*0\r\n");
  expect_reply("*3\r\n*-1\r\n*1\r\n*1\r\n:1\r\n$2\r\n\r\n\r\n");
}

TEST_CASE("reply errors", "[resp]") {
  expect_reply_error(":+5\r\n");
  expect_reply_error(":5x\r\n");
  expect_reply_error(":\r\n");
  expect_reply_error(":-0\r\n");
  expect_reply_error(":007\r\n");
  expect_reply_error(":9223372036854775808\r\n");
  expect_reply_error(":-9223372036854775809\r\n");
  expect_reply_error("$-2\r\n");
  expect_reply_error("$abc\r\n");
  expect_reply_error("$3\r\nfoox\r\n");
  expect_reply_error("$3\r\nfo\r\n\r\n");
  expect_reply_error("*-2\r\n");
  expect_reply_error("*1\r\n?\r\n");
  expect_reply_error("+OK\n");
  expect_reply_error("$1\n");
  expect_reply_error("!3\r\nabc\r\n");  // RESP3 types are not ours
  {
    ReplyScanner s;
    REQUIRE(s.scan("%1\r\n") == ParseStatus::kError);
    CHECK(s.error() == "Protocol error: unexpected reply type '%'");
  }
  {
    // Huge headers fail before the payload arrives.
    ReplyScanner s;
    CHECK(s.scan("$2147483648\r\n") == ParseStatus::kError);
    s.reset();
    CHECK(s.scan("*10000000\r\n") == ParseStatus::kError);
    Limits small;
    small.max_array_len = 2;
    ReplyScanner t(small);
    CHECK(t.scan("*1\r\n*3\r\n") == ParseStatus::kError);
  }
}

TEST_CASE("reply nesting depth limit", "[resp]") {
  const std::string ok = repeat("*1\r\n", 16) + ":1\r\n";
  const std::string deep = repeat("*1\r\n", 17) + ":1\r\n";
  expect_reply(ok);
  expect_reply_error(deep);
  {
    ReplyScanner s;
    REQUIRE(s.scan(deep) == ParseStatus::kError);
    CHECK(s.error() == "Protocol error: reply nested too deep");
  }
  // Empty and null arrays do not open a level.
  expect_reply(repeat("*1\r\n", 16) + "*0\r\n");
  expect_reply(repeat("*1\r\n", 16) + "*-1\r\n");
  Limits shallow;
  shallow.max_depth = 2;
  expect_reply("*1\r\n*1\r\n:1\r\n", shallow);
  expect_reply_error("*1\r\n*1\r\n*1\r\n:1\r\n", shallow);
  // Very deep input never recurses without bound.
  ReplyScanner s;
  CHECK(s.scan(repeat("*1\r\n", 100000)) == ParseStatus::kError);
  Value v;
  size_t consumed = 0;
  CHECK(codis::resp::parse_value(repeat("*1\r\n", 100000), v, consumed) == ParseStatus::kError);
}

TEST_CASE("pipelined replies and scanner reuse", "[resp]") {
  const std::string buf = "+OK\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n-ERR x\r\n$3\r\nab";
  ReplyScanner s;
  size_t off = 0;
  std::string types;
  while (s.scan(std::string_view(buf).substr(off)) == ParseStatus::kOk) {
    types.push_back(s.type());
    off += s.consumed();
  }
  CHECK(types == "+:*-");
  CHECK(buf.substr(off) == "$3\r\nab");
  const std::string rest = buf.substr(off) + "c\r\n";
  REQUIRE(s.scan(rest) == ParseStatus::kOk);
  CHECK(s.consumed() == rest.size());
  CHECK(s.type() == '$');
}

TEST_CASE("parse_value builds the tree", "[resp]") {
  const std::string in = "*5\r\n+OK\r\n-ERR bad\r\n:-42\r\n$-1\r\n*2\r\n$3\r\nfoo\r\n*-1\r\ntrailing";
  Value v;
  size_t consumed = 0;
  REQUIRE(codis::resp::parse_value(in, v, consumed) == ParseStatus::kOk);
  CHECK(consumed == in.size() - 8);
  REQUIRE(v.type == Value::Type::kArray);
  REQUIRE(v.elements.size() == 5);
  CHECK(v.elements[0].type == Value::Type::kSimple);
  CHECK(v.elements[0].str == "OK");
  CHECK(v.elements[1].type == Value::Type::kError);
  CHECK(v.elements[1].str == "ERR bad");
  CHECK(v.elements[2].type == Value::Type::kInteger);
  CHECK(v.elements[2].integer == -42);
  CHECK(v.elements[3].type == Value::Type::kNullBulk);
  REQUIRE(v.elements[4].elements.size() == 2);
  CHECK(v.elements[4].elements[0].str == "foo");
  CHECK(v.elements[4].elements[1].type == Value::Type::kNullArray);
  CHECK(codis::resp::parse_value("*2\r\n:1\r\n", v, consumed) == ParseStatus::kIncomplete);
  CHECK(codis::resp::parse_value("", v, consumed) == ParseStatus::kIncomplete);
  // A lying array header does not make parse_value reserve for it.
  CHECK(codis::resp::parse_value("*1000000\r\n:1\r\n", v, consumed) == ParseStatus::kIncomplete);
}

TEST_CASE("writers", "[resp]") {
  std::string out;
  codis::resp::append_simple(out, "OK");
  codis::resp::append_simple(out, "a\r\nb");
  codis::resp::append_error(out, "ERR bad\ncommand");
  codis::resp::append_integer(out, 0);
  codis::resp::append_integer(out, -5);
  codis::resp::append_integer(out, std::numeric_limits<int64_t>::min());
  codis::resp::append_integer(out, std::numeric_limits<int64_t>::max());
  codis::resp::append_bulk(out, "");
  codis::resp::append_bulk(out, std::string("a\0b", 3));
  codis::resp::append_null_bulk(out);
  codis::resp::append_null_array(out);
  codis::resp::append_array_header(out, 12);
  using namespace std::string_literals;
  CHECK(out == "+OK\r\n+a  b\r\n-ERR bad command\r\n:0\r\n:-5\r\n"
               ":-9223372036854775808\r\n:9223372036854775807\r\n$0\r\n\r\n"
               "$3\r\na\0b\r\n$-1\r\n*-1\r\n*12\r\n"s);

  std::string cmd;
  const std::vector<std::string_view> args = {"SET", "key", "value with spaces"};
  codis::resp::append_command(cmd, args);
  CHECK(cmd == "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$17\r\nvalue with spaces\r\n");
  expect_request(cmd, {"SET", "key", "value with spaces"});
}

namespace {

Value random_value(std::mt19937& rng, int depth) {
  std::uniform_int_distribution<int> kind(0, depth >= 4 ? 4 : 6);
  std::uniform_int_distribution<int> len(0, 20);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> letter('a', 'z');
  Value v;
  switch (kind(rng)) {
    case 0:
      v.type = Value::Type::kSimple;
      for (int i = len(rng); i > 0; --i) v.str.push_back(static_cast<char>(letter(rng)));
      break;
    case 1:
      v.type = Value::Type::kError;
      v.str = "ERR ";
      for (int i = len(rng); i > 0; --i) v.str.push_back(static_cast<char>(letter(rng)));
      break;
    case 2:
      v.type = Value::Type::kInteger;
      v.integer = static_cast<int64_t>(rng()) * static_cast<int64_t>(rng() % 3 == 0 ? -1 : 1);
      break;
    case 3:
      v.type = Value::Type::kBulk;
      for (int i = len(rng); i > 0; --i) v.str.push_back(static_cast<char>(byte(rng)));
      break;
    case 4:
      v.type = Value::Type::kNullBulk;
      break;
    case 5:
      v.type = Value::Type::kNullArray;
      break;
    default: {
      v.type = Value::Type::kArray;
      for (int i = len(rng) / 3; i > 0; --i) v.elements.push_back(random_value(rng, depth + 1));
      break;
    }
  }
  return v;
}

}  // namespace

TEST_CASE("round trip: writer -> scanner -> parse_value", "[resp]") {
  std::mt19937 rng(12345);
  for (int iter = 0; iter < 300; ++iter) {
    const Value v = random_value(rng, 0);
    std::string wire;
    codis::resp::append_value(wire, v);
    ReplyScanner s;
    REQUIRE(s.scan(wire) == ParseStatus::kOk);
    CHECK(s.consumed() == wire.size());
    Value back;
    size_t consumed = 0;
    REQUIRE(codis::resp::parse_value(wire, back, consumed) == ParseStatus::kOk);
    CHECK(consumed == wire.size());
    CHECK(back == v);
    if (iter < 40) scan_both(wire);  // byte by byte too, for a sample
  }
}

TEST_CASE("random garbage never crashes and whole == byte by byte", "[resp]") {
  std::mt19937 rng(20240601);
  const std::string alphabet = "*$+-:\r\n\r\n0123456789 \"'\\xaZ\t";
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::uniform_int_distribution<int> len(0, 40);
  std::uniform_int_distribution<int> byte(0, 255);
  const std::vector<std::string> seeds = {"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "*1\r\n*1\r\n:1\r\n",
                                          "SET \"a b\" 'c'\r\n", "$3\r\nabc\r\n"};
  int oks = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    std::string in;
    if (iter % 3 == 0) {
      // Mutate a valid input.
      in = seeds[static_cast<size_t>(iter / 3) % seeds.size()];
      const int edits = 1 + len(rng) % 3;
      for (int e = 0; e < edits && !in.empty(); ++e) {
        in[rng() % in.size()] = alphabet[pick(rng)];
      }
    } else {
      for (int i = len(rng); i > 0; --i) {
        in.push_back(iter % 7 == 0 ? static_cast<char>(byte(rng)) : alphabet[pick(rng)]);
      }
    }
    INFO("input: " << in);
    const Outcome req = parse_both(in);
    if (req.status == ParseStatus::kOk) {
      ++oks;
      CHECK(req.consumed <= in.size());
    }
    const Outcome rep = scan_both(in);
    Value v;
    size_t consumed = 0;
    const ParseStatus pv = codis::resp::parse_value(in, v, consumed);
    CHECK(static_cast<int>(pv) == static_cast<int>(rep.status));
    if (pv == ParseStatus::kOk) CHECK(consumed == rep.consumed);
  }
  CHECK(oks > 100);
}

TEST_CASE("resumption is linear: a 50 MB bulk in 64 KB reads", "[resp]") {
  const size_t payload = 50 * 1024 * 1024;
  std::string buf = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + std::to_string(payload) + "\r\n";
  const size_t header = buf.size();
  buf.append(payload, 'v');
  buf.append("\r\n");
  RequestParser p;
  size_t calls = 0;
  ParseStatus st = ParseStatus::kIncomplete;
  for (size_t have = 64 * 1024;; have += 64 * 1024) {
    have = std::min(have, buf.size());
    st = p.parse(std::string_view(buf).substr(0, have));
    ++calls;
    if (st != ParseStatus::kIncomplete || have == buf.size()) break;
    CHECK(p.known_length() == buf.size());  // inside the big bulk: where the request ends
  }
  REQUIRE(st == ParseStatus::kOk);
  CHECK(p.known_length() == 0);
  CHECK(p.consumed() == buf.size());
  REQUIRE(p.args().size() == 3);
  CHECK(p.args()[2].size() == payload);
  CHECK(calls > 700);
  // Headers once, plus the payload terminators; the payload is never scanned.
  CHECK(p.bytes_examined() <= header + 16);

  // The same bulk as a backend reply.
  const std::string reply_header = "$" + std::to_string(payload) + "\r\n";
  std::string reply = reply_header;
  reply.append(payload, 'v');
  reply.append("\r\n");
  ReplyScanner s;
  for (size_t have = 64 * 1024;; have += 64 * 1024) {
    have = std::min(have, reply.size());
    st = s.scan(std::string_view(reply).substr(0, have));
    if (st != ParseStatus::kIncomplete || have == reply.size()) break;
  }
  REQUIRE(st == ParseStatus::kOk);
  CHECK(s.consumed() == reply.size());
  CHECK(s.bytes_examined() <= reply_header.size() + 2);
}

TEST_CASE("resumption is linear: a 1M-element array and a long status line", "[resp]") {
  const size_t n = 1024 * 1024;
  std::string reply = "*" + std::to_string(n) + "\r\n";
  reply.reserve(reply.size() + n * 7);
  for (size_t i = 0; i < n; ++i) reply.append("$1\r\nx\r\n");
  ReplyScanner s;
  ParseStatus st = ParseStatus::kIncomplete;
  for (size_t have = 64 * 1024 + 3;; have += 64 * 1024 + 3) {  // cut mid-element
    have = std::min(have, reply.size());
    st = s.scan(std::string_view(reply).substr(0, have));
    if (st != ParseStatus::kIncomplete || have == reply.size()) break;
  }
  REQUIRE(st == ParseStatus::kOk);
  CHECK(s.consumed() == reply.size());
  CHECK(s.type() == '*');
  // Each byte once, plus a partial header re-read at each cut.
  CHECK(s.bytes_examined() <= reply.size() + 200 * 8);

  Value v;
  size_t consumed = 0;
  REQUIRE(codis::resp::parse_value(reply, v, consumed) == ParseStatus::kOk);
  CHECK(v.elements.size() == n);

  std::string line = "-ERR " + std::string(4 * 1024 * 1024, 'e') + "\r\n";
  ReplyScanner t;
  for (size_t have = 1000;; have += 1000) {
    have = std::min(have, line.size());
    st = t.scan(std::string_view(line).substr(0, have));
    if (st != ParseStatus::kIncomplete || have == line.size()) break;
  }
  REQUIRE(st == ParseStatus::kOk);
  CHECK(t.bytes_examined() <= line.size() + 1);

  // A long inline line arriving in pieces is searched once.
  Limits wide;
  wide.max_inline_len = 8 * 1024 * 1024;
  std::string in = "SET k " + std::string(4 * 1024 * 1024, 'v') + "\r\n";
  RequestParser p(wide);
  for (size_t have = 1000;; have += 1000) {
    have = std::min(have, in.size());
    st = p.parse(std::string_view(in).substr(0, have));
    if (st != ParseStatus::kIncomplete || have == in.size()) break;
  }
  REQUIRE(st == ParseStatus::kOk);
  CHECK(p.args().size() == 3);
  CHECK(p.bytes_examined() <= 2 * in.size());
}
