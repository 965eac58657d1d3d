// ClientMemory: proxy_max_client_memory, one budget for the buffers of every
// client session of every worker (docs/design.md §8.5). Each worker publishes
// its sessions' total and the size of its biggest session, in its own cache
// line, with relaxed stores made only when a session's buffers change size
// (never per request); a worker whose session grows reads the sum. Over the
// budget, the worker holding the biggest session closes it (client_memory.cpp).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

namespace codis::proxy {

class Worker;

class ClientMemory {
 public:
  // Before any worker starts. (A worker index past it is ignored: nothing counted.)
  void init(size_t workers) {
    slots_ = std::make_unique<Slot[]>(workers);
    n_ = workers;
  }
  void attach(size_t worker, Worker* w) {
    if (worker < n_) slots_[worker].worker.store(w, std::memory_order_release);
  }

  void set_total(size_t worker, int64_t bytes) {
    if (worker < n_) slots_[worker].total.store(bytes, std::memory_order_relaxed);
  }
  void set_biggest(size_t worker, int64_t bytes) {
    if (worker < n_) slots_[worker].biggest.store(bytes, std::memory_order_relaxed);
  }
  int64_t total() const {
    int64_t sum = 0;
    for (size_t i = 0; i < n_; ++i) sum += slots_[i].total.load(std::memory_order_relaxed);
    return sum;
  }
  // The other worker with the biggest session (as last published) and that size; -1 if none.
  std::pair<int, int64_t> biggest_elsewhere(size_t self) const {
    std::pair<int, int64_t> best{-1, 0};
    for (size_t i = 0; i < n_; ++i) {
      const int64_t b = slots_[i].biggest.load(std::memory_order_relaxed);
      if (i != self && b > best.second) best = {static_cast<int>(i), b};
    }
    return best;
  }
  Worker* worker(size_t i) const { return slots_[i].worker.load(std::memory_order_acquire); }
  // A request to `worker` to close its biggest session: true for the first
  // caller until that worker took it (answered), so requests do not pile up.
  bool ask(size_t worker) { return worker < n_ && !slots_[worker].asked.exchange(true, std::memory_order_relaxed); }
  void answered(size_t worker) {
    if (worker < n_) slots_[worker].asked.store(false, std::memory_order_relaxed);
  }

 private:
  struct alignas(64) Slot {
    std::atomic<int64_t> total{0};
    std::atomic<int64_t> biggest{0};
    std::atomic<bool> asked{false};
    std::atomic<Worker*> worker{nullptr};
  };
  std::unique_ptr<Slot[]> slots_;
  size_t n_ = 0;
};

}  // namespace codis::proxy
