// RESP2 codec: incremental parsers for client requests and backend replies, a
// tree parser for replies the proxy must look inside, and allocation-light
// writers. The proxy's sessions and backend connections call it on their read
// buffers; the dashboard uses it to talk to Redis. It does no I/O, never
// throws on input, and never reads past the buffer it is given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace codis::resp {

struct Limits {
  size_t max_bulk_len = 512 * 1024 * 1024;  // bytes in one bulk string
  size_t max_array_len = 1024 * 1024;       // elements in one array
  size_t max_inline_len = 64 * 1024;        // length of one inline command line
  int max_depth = 16;                       // nesting of arrays in replies
};

enum class ParseStatus : uint8_t { kOk, kIncomplete, kError };

// Parses client requests: RESP arrays of bulk strings, or inline commands split
// with Redis's sdssplitargs quoting rules. Resumable: after kIncomplete call
// parse() again with the same request start and more bytes appended; the parser
// keeps offsets (not pointers), so the buffer may move in between, and work
// already done is not repeated (total cost stays linear in the request size).
class RequestParser {
 public:
  explicit RequestParser(Limits limits = {});

  // Tries to parse one request starting at data[0].
  // kOk: consumed() is the request's length, args() its arguments (zero args for
  // an empty inline line, "*0" or "*-1": the caller skips it).
  // kError: error() says what, in Redis's wording ("Protocol error: ...").
  ParseStatus parse(std::string_view data);

  size_t consumed() const { return consumed_; }
  // Valid after kOk until the next parse()/reset() and while `data` is unchanged.
  std::span<const std::string_view> args() const { return args_; }
  bool is_inline() const { return inline_; }
  const std::string& error() const { return error_; }
  void reset();

  // Bytes of input the parser has looked at over its lifetime (bulk payloads
  // are skipped, not examined). Lets tests prove resumption is linear.
  uint64_t bytes_examined() const { return examined_; }

  // After kIncomplete inside a bulk payload: the length the request reaches at
  // least (through the end of that bulk), so a reader can size its buffer to it
  // instead of doubling past it; 0 otherwise.
  size_t known_length() const { return !done_ && state_ == State::kBulkPayload ? pos_ + bulk_len_ + 2 : 0; }

 private:
  enum class State : uint8_t { kStart, kInline, kBulkHeader, kBulkPayload };
  struct Piece {  // an argument not yet turned into a view
    bool in_storage;
    size_t offset;
    size_t length;
  };

  ParseStatus fail(std::string_view message);
  bool parse_complete(std::string_view data);
  ParseStatus finish(std::string_view data, size_t consumed, bool in_line);
  ParseStatus parse_inline(std::string_view data);
  ParseStatus split_inline(std::string_view data, size_t line_len);

  Limits limits_;
  State state_ = State::kStart;
  bool done_ = false;       // the last parse() returned kOk or kError
  size_t pos_ = 0;          // next unparsed byte of the current request
  size_t scan_ = 0;         // inline: bytes already searched for '\n'
  size_t remaining_ = 0;    // bulks still expected in the current array
  size_t bulk_len_ = 0;     // payload length of the bulk being read
  std::vector<Piece> pieces_;
  std::vector<std::string_view> args_;
  std::string storage_;     // unescaped inline arguments
  size_t consumed_ = 0;
  bool inline_ = false;
  std::string error_;
  uint64_t examined_ = 0;
};

// Finds where one complete reply ends (+simple, -error, :integer, $bulk incl.
// $-1, *array incl. *-1, arrays nested up to max_depth). Resumable like
// RequestParser; max_array_len applies to each array.
class ReplyScanner {
 public:
  explicit ReplyScanner(Limits limits = {});

  ParseStatus scan(std::string_view data);  // kOk: consumed() is the reply's length
  size_t consumed() const { return consumed_; }
  char type() const { return type_; }  // first byte of the last complete reply
  const std::string& error() const { return error_; }
  void reset();

  uint64_t bytes_examined() const { return examined_; }

 private:
  ParseStatus fail(std::string_view message);
  bool element_done();  // true when the whole reply is complete

  Limits limits_;
  bool done_ = false;
  bool in_bulk_ = false;     // a bulk header was read, waiting for its payload
  size_t pos_ = 0;           // start of the next unparsed element
  size_t line_scan_ = 0;     // simple/error line: bytes already searched for '\n'
  size_t bulk_len_ = 0;
  std::vector<size_t> stack_;  // elements still expected by each open array
  size_t consumed_ = 0;
  char type_ = 0;
  std::string error_;
  uint64_t examined_ = 0;
};

// A parsed reply, for replies the proxy must look inside (merging split MGET
// replies, INFO, ...).
struct Value {
  enum class Type : uint8_t { kSimple, kError, kInteger, kBulk, kNullBulk, kArray, kNullArray };
  Type type = Type::kNullBulk;
  std::string str;              // kSimple, kError (without '-'), kBulk
  int64_t integer = 0;          // kInteger
  std::vector<Value> elements;  // kArray

  bool operator==(const Value& other) const;
};

// Parses one complete reply at data[0]. Not resumable: callers use it on a span
// ReplyScanner accepted (kIncomplete means the span was cut short).
ParseStatus parse_value(std::string_view data, Value& out, size_t& consumed,
                        const Limits& limits = {});

// Writers: append RESP2 to `out`.
void append_simple(std::string& out, std::string_view s);   // "+s\r\n"; CR/LF become spaces
void append_error(std::string& out, std::string_view msg);  // "-msg\r\n"; CR/LF become spaces
void append_integer(std::string& out, int64_t v);
void append_bulk(std::string& out, std::string_view s);
void append_null_bulk(std::string& out);   // "$-1\r\n"
void append_null_array(std::string& out);  // "*-1\r\n"
void append_array_header(std::string& out, size_t n);
void append_command(std::string& out, std::span<const std::string_view> args);  // array of bulks
void append_value(std::string& out, const Value& v);

}  // namespace codis::resp
