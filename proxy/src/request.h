// Request: one client command on its way through the proxy. The session
// keeps requests in arrival order and writes each reply once every earlier
// one is written; backend connections keep them in send order until their
// reply arrives. Requests are reference counted without atomics: a request
// never leaves the worker thread that created it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace codis::proxy {

class Session;
struct CommandInfo;

struct Request;

// How a backend reply is to be used; see Worker::on_backend_reply.
enum class ReplyUse : uint8_t {
  kClient,        // the reply is the answer
  kWrapper,       // reply of SLOTSMGRT-EXEC-WRAPPER: [code, reply]
  kMigrateOne,    // reply of SLOTSMGRTTAGONE: then send the command to the target
  kInternal,      // AUTH / SELECT / PING of the connection itself
  kDiscard,       // a reply nobody waits for (MULTI's +OK and +QUEUED inside a transaction)
};

// Only as many as a request needs: most requests use none of the optional parts.
struct SplitState {
  enum class Merge : uint8_t { kArray, kOk, kSum, kCustom } merge = Merge::kArray;
  uint32_t parts_pending = 0;
  std::vector<std::string> values;  // kArray: one RESP value per key, in key order
  int64_t sum = 0;
  std::string error;                // first error seen in any part
  // kCustom: every part's reply (errors too) lands in values[part]; finish builds the answer.
  std::function<std::string(SplitState&)> finish;
};

struct Request {
  uint32_t refs = 0;
  bool done = false;
  bool counted_fail = false;
  bool internal = false;           // the proxy's own (no client, no stats)
  uint8_t db = 0;
  uint16_t slot = 0;
  uint16_t attempts = 0;           // wrapper retries while a key is being migrated
  const CommandInfo* cmd = nullptr;
  Session* session = nullptr;      // null once the client is gone
  Request* parent = nullptr;       // set for the parts of a split command; holds a reference
  std::vector<uint32_t> positions; // a part: where its keys sit in the parent's key list
  std::string reply;               // RESP reply once done
  std::string encoded;             // the command as sent to a backend (kept while it may be resent)
  std::string hashkey;             // first key, for the migration commands
  SplitState* split = nullptr;
  int64_t start_ns = 0;

  ~Request() { delete split; }
};

// Intrusive pointer over Request; single-threaded by design.
class RequestPtr {
 public:
  RequestPtr() = default;
  explicit RequestPtr(Request* r) : r_(r) { if (r_) ++r_->refs; }
  RequestPtr(const RequestPtr& o) : r_(o.r_) { if (r_) ++r_->refs; }
  RequestPtr(RequestPtr&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  RequestPtr& operator=(RequestPtr o) noexcept { std::swap(r_, o.r_); return *this; }
  ~RequestPtr() { release(); }
  Request* get() const { return r_; }
  Request* operator->() const { return r_; }
  Request& operator*() const { return *r_; }
  explicit operator bool() const { return r_ != nullptr; }

 private:
  void release();
  Request* r_ = nullptr;
};

// Recycles Request objects per thread (the request path allocates nothing in steady state).
Request* new_request();
void free_request(Request* r);
// Frees recycled requests beyond `keep` (once a second: a burst's requests are not kept for good).
void trim_request_pool(size_t keep);

inline void RequestPtr::release() {
  if (r_ && --r_->refs == 0) free_request(r_);
  r_ = nullptr;
}

}  // namespace codis::proxy
