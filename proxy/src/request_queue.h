// RequestQueue: a session's requests in arrival order (a ring of requests,
// each holding one reference). Unlike std::deque, which allocates a map and a
// 512-byte block as soon as it is constructed, it holds no memory until the
// first request, and release() gives it back once the session is idle
// (docs/design.md §8.5).
#pragma once

#include <cstddef>
#include <memory>

#include "request.h"

namespace codis::proxy {

class RequestQueue {
 public:
  RequestQueue() = default;
  RequestQueue(const RequestQueue&) = delete;
  RequestQueue& operator=(const RequestQueue&) = delete;
  ~RequestQueue() { clear(); }

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  size_t capacity() const { return cap_; }
  Request* front() const { return buf_[head_]; }

  void push_back(const RequestPtr& r) {
    if (size_ == cap_) grow();
    ++r->refs;
    buf_[(head_ + size_) & (cap_ - 1)] = r.get();
    ++size_;
  }
  void pop_front() {
    Request* r = buf_[head_];
    head_ = (head_ + 1) & (cap_ - 1);
    --size_;
    unref(r);
  }
  void clear() {
    while (size_) pop_front();
    head_ = 0;
  }
  // Frees the ring of an empty queue.
  void release() {
    if (size_ == 0) {
      buf_.reset();
      cap_ = 0;
      head_ = 0;
    }
  }

  template <typename F>
  void for_each(F f) const {
    for (size_t i = 0; i < size_; ++i) f(buf_[(head_ + i) & (cap_ - 1)]);
  }

 private:
  static void unref(Request* r) {
    if (--r->refs == 0) free_request(r);
  }
  void grow() {
    const size_t ncap = cap_ ? cap_ * 2 : 8;
    std::unique_ptr<Request*[]> n(new Request*[ncap]);
    for (size_t i = 0; i < size_; ++i) n[i] = buf_[(head_ + i) & (cap_ - 1)];
    buf_ = std::move(n);
    cap_ = ncap;
    head_ = 0;
  }

  std::unique_ptr<Request*[]> buf_;
  size_t cap_ = 0;  // a power of two
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace codis::proxy
