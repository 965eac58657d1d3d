// Client memory (docs/design.md §8.5): the proxy_max_client_memory budget over
// every session's buffers, idle sessions giving their buffers back, and the
// allocator giving freed memory back to the system.
#include <malloc.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "session.h"
#include "worker.h"

namespace codis::proxy {

namespace {
constexpr uint32_t kClosesLoggedPerTick = 10;
// After a worker freed this much, the allocator is asked (once a tick at most)
// to return free memory: glibc keeps freed buffers below its mmap threshold in
// the thread's arena otherwise, and RSS stays at the burst's peak.
constexpr uint64_t kTrimAfterBytes = 256 << 10;
constexpr size_t kRequestsKept = 256;  // recycled requests kept past a tick
}  // namespace

void Session::recount(size_t now) {
  if (closed_) return;  // close() took this session out of the count
  const size_t was = counted_;
  counted_ = now;
  worker_.client_memory_changed(was, now);
}

size_t Session::release_idle_memory() {
  if (closed_ || writing_ || !in_.empty() || !out_.empty() || !queue_.empty()) return 0;
  // What is freed besides the counted buffers (client_memory_changed adds those).
  const size_t freed = (parser_ ? sizeof(resp::RequestParser) : 0) + queue_.capacity() * sizeof(Request*);
  in_.release();
  parser_.reset();  // between requests (in_ is empty): it holds no state, only capacity
  std::string().swap(out_);
  std::string().swap(sending_);
  queue_.release();
  account();
  return freed;
}

void Worker::client_memory_changed(size_t was, size_t now) {
  client_bytes_ += static_cast<int64_t>(now) - static_cast<int64_t>(was);
  ClientMemory& mem = ctx_.client_memory;
  mem.set_total(static_cast<size_t>(index_), client_bytes_);
  if (now <= was) {
    freed_since_trim_ += was - now;
    return;
  }
  if (static_cast<int64_t>(now) > biggest_published_) {
    biggest_published_ = static_cast<int64_t>(now);
    mem.set_biggest(static_cast<size_t>(index_), biggest_published_);
  }
  const uint64_t budget = ctx_.config.proxy_max_client_memory;
  if (budget > 0 && mem.total() > static_cast<int64_t>(budget)) enforce_client_memory();
}

// Closes the biggest session of the proxy while the total is over the budget.
// This worker knows its own sessions exactly and the others' biggest as they
// last published it; when another worker's is bigger, that worker is asked
// (through its mailbox; it looks again at its own exact figure, and closes or
// passes the request on), and this one closes nothing.
void Worker::enforce_client_memory() {
  ClientMemory& mem = ctx_.client_memory;
  const size_t self = static_cast<size_t>(index_);
  mem.answered(self);
  const int64_t budget = static_cast<int64_t>(ctx_.config.proxy_max_client_memory);
  if (budget <= 0) return;
  for (int64_t total = mem.total(); total > budget; total = mem.total()) {
    Session* victim = nullptr;
    for (Session* s : sessions_)
      if (!s->closed() && (!victim || s->client_memory() > victim->client_memory())) victim = s;
    const int64_t mine = victim ? static_cast<int64_t>(victim->client_memory()) : 0;
    biggest_published_ = mine;
    mem.set_biggest(self, mine);
    const auto [other, theirs] = mem.biggest_elsewhere(self);
    if (mine == 0 || theirs > mine) {
      if (other < 0 || !mem.ask(static_cast<size_t>(other))) return;
      Worker* w = mem.worker(static_cast<size_t>(other));
      if (!w || !w->post([w] { w->enforce_client_memory(); })) mem.answered(static_cast<size_t>(other));
      return;
    }
    ++stats_.client_memory_closes;
    if (++memory_closes_logged_ <= kClosesLoggedPerTick)
      spdlog::warn("closing client {} (session {}): its buffers hold {} bytes, the most of any client, and all "
                   "clients' buffers ({} bytes) are over proxy_max_client_memory ({} bytes)",
                   victim->peer(), victim->id(), mine, total, budget);
    victim->close("client buffers over proxy_max_client_memory");
  }
}

void Worker::tick_client_memory(int64_t quiet_ms) {
  if (memory_closes_logged_ > kClosesLoggedPerTick)
    spdlog::warn("{} more clients closed over proxy_max_client_memory in the last second "
                 "(see codis_proxy_client_memory_closes_total)",
                 memory_closes_logged_ - kClosesLoggedPerTick);
  memory_closes_logged_ = 0;
  for (Session* s : sessions_)
    if (now_ms_ - s->last_active_ms() > quiet_ms) freed_since_trim_ += s->release_idle_memory();
  trim_request_pool(kRequestsKept);
  for (auto* keys : {&keys_scratch, &acl_keys_scratch})
    if (keys->capacity() > 1024) std::vector<int>().swap(*keys);
  if (freed_since_trim_ >= kTrimAfterBytes) {
    freed_since_trim_ = 0;
    ::malloc_trim(0);
  }
}

}  // namespace codis::proxy
