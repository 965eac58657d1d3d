// IoBuffer: a growable byte buffer with a read cursor, for socket reads.
// Sessions and backend connections read into the free tail, parse from the
// front, and consume what was parsed; the unparsed rest is moved to the front
// only when space runs out, so a pipelined burst is parsed in place.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace codis::proxy {

class IoBuffer {
 public:
  explicit IoBuffer(size_t initial = 16 * 1024) : data_(new char[initial]), cap_(initial) {}

  std::string_view readable() const { return {data_.get() + begin_, end_ - begin_}; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  void consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }

  // Free space at the tail, at least `min` bytes (compacting or growing).
  char* prepare(size_t min) {
    if (cap_ - end_ < min) {
      size_t used = end_ - begin_;
      if (begin_ > 0 && cap_ - used >= min && used <= cap_ / 2) {
        std::memmove(data_.get(), data_.get() + begin_, used);
      } else {
        size_t ncap = cap_;
        while (ncap - used < min) ncap *= 2;
        std::unique_ptr<char[]> n(new char[ncap]);
        std::memcpy(n.get(), data_.get() + begin_, used);
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
      data_.reset(new char[cap]);
      cap_ = cap;
      begin_ = end_ = 0;
    }
  }
  size_t capacity() const { return cap_; }

 private:
  std::unique_ptr<char[]> data_;
  size_t cap_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace codis::proxy
