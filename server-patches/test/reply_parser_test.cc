// reply_parser.h fed whole, then one byte at a time, then garbage.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "reply_parser.h"

using namespace codis::slots;

#define CHECK(cond)                                                                  \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
      std::exit(1);                                                                  \
    }                                                                                \
  } while (0)

static const std::string kStream =
    "+OK\r\n"
    "*3\r\n$22\r\nSLOTSRESTORE-ASYNC-ACK\r\n$1\r\n0\r\n$1\r\n1\r\n"
    "-ERR wrong password\r\n"
    "*3\r\n$22\r\nSLOTSRESTORE-ASYNC-ACK\r\n$2\r\n-1\r\n$16\r\nbad\r\n\r\npayload!!\r\n"
    ":42\r\n$-1\r\n";

static void check_replies(const std::vector<Reply>& r) {
  CHECK(r.size() == 6);
  CHECK(r[0].kind == '+' && r[0].text == "OK");
  CHECK(r[1].kind == '*' && r[1].items.size() == 3 && r[1].items[0] == "SLOTSRESTORE-ASYNC-ACK" &&
        r[1].items[1] == "0" && r[1].items[2] == "1");
  CHECK(r[2].kind == '-' && r[2].text == "ERR wrong password");
  CHECK(r[3].items.size() == 3 && r[3].items[1] == "-1" && r[3].items[2] == "bad\r\n\r\npayload!!");
  CHECK(r[4].kind == ':' && r[4].text == "42");
  CHECK(r[5].kind == '$' && r[5].text.empty());
}

int main() {
  // Whole buffer.
  {
    std::vector<Reply> out;
    size_t pos = 0;
    for (;;) {
      Reply r;
      Parse p = parse_reply(kStream, &pos, &r);
      if (p != Parse::kOk) {
        CHECK(p == Parse::kIncomplete);
        break;
      }
      out.push_back(r);
    }
    CHECK(pos == kStream.size());
    check_replies(out);
  }
  // One byte at a time: a reply is consumed only once complete.
  {
    std::string in;
    size_t pos = 0;
    std::vector<Reply> out;
    for (char c : kStream) {
      in += c;
      for (;;) {
        size_t before = pos;
        Reply r;
        Parse p = parse_reply(in, &pos, &r);
        CHECK(p != Parse::kGarbage);
        if (p == Parse::kIncomplete) {
          CHECK(pos == before);
          break;
        }
        out.push_back(r);
      }
    }
    check_replies(out);
  }
  // Garbage.
  for (const char* g : {"hello\r\n", "$abc\r\n", "*x\r\n", "*1\r\n*1\r\n", "$-7\r\n"}) {
    size_t pos = 0;
    Reply r;
    CHECK(parse_reply(g, &pos, &r) == Parse::kGarbage);
  }
  std::string endless(70000, 'a');
  endless[0] = '+';
  size_t pos = 0;
  Reply r;
  CHECK(parse_reply(endless, &pos, &r) == Parse::kGarbage);
  std::puts("reply_parser_test: ok");
  return 0;
}
