// IoBuffer: a growable byte buffer with a read cursor, for socket reads.
// Sessions and backend connections read into the free tail, parse from the
// front, and consume what was parsed; the unparsed rest is moved to the front
// only when space runs out, so a pipelined burst is parsed in place.
// It holds no memory until the first prepare() (docs/design.md §8.5).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace codis::proxy {

class IoBuffer {
 public:
  IoBuffer() = default;

  std::string_view readable() const { return {data_.get() + begin_, end_ - begin_}; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  void consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }

  // Free space at the tail, at least `min` bytes (compacting or growing).
  // Growth doubles, but not past `expected` (the length the unparsed data
  // is known to reach, e.g. the end of a big bulk; 0: unknown) when that is
  // enough: a 500 MB value takes 500 MB, not 1 GB.
  char* prepare(size_t min, size_t expected = 0) {
    if (cap_ - end_ < min) {
      size_t used = end_ - begin_;
      if (begin_ > 0 && cap_ - used >= min && used <= cap_ / 2) {
        std::memmove(data_.get(), data_.get() + begin_, used);
      } else {
        size_t ncap = std::max(cap_ * 2, used + min);
        if (expected >= used + min) ncap = std::min(ncap, expected);
        std::unique_ptr<char[]> n(new char[ncap]);
        if (used) std::memcpy(n.get(), data_.get() + begin_, used);
        data_ = std::move(n);
        cap_ = ncap;
      }
      begin_ = 0;
      end_ = used;
    }
    return data_.get() + end_;
  }
  size_t writable() const { return cap_ - end_; }
  void commit(size_t n) { end_ += n; }

  // Gives memory back after a burst (called when the buffer is empty).
  void shrink_to(size_t cap) {
    if (cap_ > cap && empty()) {
      data_.reset(cap ? new char[cap] : nullptr);
      cap_ = cap;
      begin_ = end_ = 0;
    }
  }
  // Frees the memory of an empty buffer.
  void release() { shrink_to(0); }
  size_t capacity() const { return cap_; }

 private:
  std::unique_ptr<char[]> data_;
  size_t cap_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace codis::proxy
