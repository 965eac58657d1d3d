// The proxy's client buffers (docs/design.md §8.5): IoBuffer's lazy
// allocation and bounded growth, the session's request ring, and the
// per-worker client memory figures.
#include <catch2/catch.hpp>

#include <string>

#include "client_memory.h"
#include "io_buffer.h"
#include "request_queue.h"

using codis::proxy::ClientMemory;
using codis::proxy::IoBuffer;
using codis::proxy::Request;
using codis::proxy::RequestPtr;
using codis::proxy::RequestQueue;

TEST_CASE("IoBuffer holds nothing until used, grows to a known end, and frees", "[buffers]") {
  IoBuffer b;
  CHECK(b.capacity() == 0);
  CHECK(b.empty());
  b.release();  // nothing to free
  char* p = b.prepare(16 * 1024);
  CHECK(b.capacity() == 16 * 1024);
  std::memcpy(p, "abc", 3);
  b.commit(3);
  CHECK(b.readable() == "abc");

  // Growth doubles, but stops at the expected end of the data when that is enough.
  b.commit(b.writable());
  b.prepare(16 * 1024, 40 * 1024);
  CHECK(b.capacity() == 32 * 1024);
  b.commit(b.writable());
  b.prepare(4 * 1024, 36 * 1024);
  CHECK(b.capacity() == 36 * 1024);  // not 64 KB
  CHECK(b.readable().substr(0, 3) == "abc");
  b.commit(b.writable());
  b.prepare(16 * 1024, 36 * 1024);  // more than expected is wanted: grows anyway
  CHECK(b.capacity() == 72 * 1024);

  b.release();  // not empty: kept
  CHECK(b.capacity() == 72 * 1024);
  b.consume(b.size());
  b.release();
  CHECK(b.capacity() == 0);
}

TEST_CASE("RequestQueue keeps order across wrap-around and growth, and holds references", "[buffers]") {
  RequestQueue q;
  CHECK(q.capacity() == 0);
  std::vector<RequestPtr> reqs;
  for (int i = 0; i < 40; ++i) reqs.emplace_back(new Request());
  size_t next_in = 0, next_out = 0;
  // Push 5, pop 3, repeatedly: the head moves around the ring while it grows.
  while (next_in < reqs.size()) {
    for (int i = 0; i < 5 && next_in < reqs.size(); ++i) q.push_back(reqs[next_in++]);
    for (int i = 0; i < 3; ++i) {
      REQUIRE(q.front() == reqs[next_out].get());
      CHECK(reqs[next_out]->refs == 2);
      q.pop_front();
      CHECK(reqs[next_out]->refs == 1);
      ++next_out;
    }
  }
  CHECK(q.size() == next_in - next_out);
  size_t seen = 0;
  q.for_each([&](Request* r) { CHECK(r == reqs[next_out + seen++].get()); });
  CHECK(seen == q.size());
  q.release();  // not empty: kept
  CHECK(q.capacity() > 0);
  q.clear();
  CHECK(reqs.back()->refs == 1);
  q.release();
  CHECK(q.capacity() == 0);
}

TEST_CASE("ClientMemory sums the workers and finds the biggest session elsewhere", "[buffers]") {
  ClientMemory m;
  m.init(3);
  m.set_total(0, 100);
  m.set_total(1, 50);
  m.set_total(2, 7);
  CHECK(m.total() == 157);
  m.set_biggest(0, 90);
  m.set_biggest(1, 40);
  m.set_biggest(2, 60);
  CHECK(m.biggest_elsewhere(0) == std::pair<int, int64_t>{2, 60});
  CHECK(m.biggest_elsewhere(2) == std::pair<int, int64_t>{0, 90});
  // One request at a time per worker until it is taken.
  CHECK(m.ask(1));
  CHECK_FALSE(m.ask(1));
  m.answered(1);
  CHECK(m.ask(1));
}
