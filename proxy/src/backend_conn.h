// BackendConn: one pipelined connection from a worker thread to a Redis
// server (one database of it). Requests of all the worker's sessions are
// appended to one write buffer and flushed once per event-loop round; replies
// are matched to requests in FIFO order. On any failure every pending request
// is answered with an error, the connection backs off (doubling up to a
// second) and reconnects; a request arriving during the back-off is answered
// at once. The connection authenticates and selects its database before
// anything else it sends.
//
// Identity (docs/operations.md "Security"): client commands should run as the
// restricted ACL user backend_user, which the dashboard provisions on every
// server, so that a script cannot run what the proxy refuses. A connection
// sends AUTH product_auth (the default user), then AUTH backend_user, then a
// probe (CONFIG GET, which the restricted user may not run), all pipelined
// ahead of any request: if the user is missing (a server restarted and lost
// it, or nothing provisioned it) the second AUTH fails, Redis keeps the first
// identity, and no request is lost. The probe's answer says which identity
// the connection ended up with; an unrestricted one is warned about (bounded
// rate), shown in /metrics, and retried on the live connection with a growing
// period until the user exists. Nothing of this is on the request path.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>

#include "codis/resp.h"
#include "io_buffer.h"
#include "request.h"
#include "stats.h"
#include "tls_conn.h"

namespace codis::proxy {

class Worker;

class BackendConn {
 public:
  BackendConn(Worker& worker, std::string addr, int db);
  BackendConn(const BackendConn&) = delete;
  BackendConn& operator=(const BackendConn&) = delete;
  ~BackendConn();

  const std::string& addr() const { return addr_; }
  int db() const { return db_; }
  bool usable() const { return state_ != State::kBackoff; }
  bool connected() const { return state_ == State::kReady; }

  // Queues `encoded` (one RESP command); the reply goes to Worker::on_backend_reply
  // with `use`. Never blocks; may answer `req` with an error at once.
  void send(const RequestPtr& req, ReplyUse use, std::string_view encoded);

  // Pub/sub: every reply (confirmations and messages alike) goes to `on_push`
  // instead of being matched with a request; `on_fail` runs when the
  // connection is lost. Commands are then sent with send_push().
  void set_push_handlers(std::function<void(std::string_view)> on_push, std::function<void()> on_fail) {
    push_ = std::move(on_push);
    push_fail_ = std::move(on_fail);
  }
  bool send_push(std::string_view encoded);  // false: the connection is backing off

  // Queues a command whose reply nobody waits for (ReplyUse::kDiscard).
  void send_untracked(std::string_view encoded);

  // Called by the worker's flush step: writes what was queued in this round.
  void flush();
  // Called every second by the worker: health ping, reply timeout, reconnect.
  void tick(int64_t now_ms);
  void close(const char* why = "proxy is shutting down");
  BackendState state() const;

  bool flush_scheduled = false;  // owned by Worker's dirty list

  // A connection owned by one session (blocking commands, WATCH/MULTI/EXEC):
  // no health pings and no reply timeout, since a blocked command may
  // legitimately wait for minutes.
  void set_dedicated() { dedicated_ = true; }
  // The admin identity (product_auth, the servers' default user), before the first send: for the
  // cluster-wide administration of +@admin proxy users only (Worker::admin_backend). No backend_user,
  // no probe, never counted as unrestricted.
  void set_admin_identity() { admin_ = true; }
  // Connections made so far; a change means server-side state (WATCH) was lost.
  uint64_t connections() const { return reconnects_; }
  // For deferred deletion: closed, and no Asio handler refers to it any more.
  bool can_delete() const { return state_ == State::kIdle && pending_ops_ == 0; }

 private:
  enum class State : uint8_t { kIdle, kConnecting, kReady, kBackoff };
  // What a kInternal reply answers.
  enum class Step : uint8_t { kOther, kAuthDefault, kAuthUser, kProbe };
  struct Pending {
    RequestPtr req;  // null for the connection's own commands
    ReplyUse use;
    int64_t sent_ms;
    Step step = Step::kOther;
  };

  void connect();
  void on_connected();
  // backend_tls: the handshake after the TCP connect, then on_connected().
  void tls_handshake(uint64_t gen);
  void tls_read();
  void tls_flush();
  // Waits for the readiness OpenSSL asked for, then runs `then` (unless the connection changed).
  void tls_wait(bool for_write_side, TlsConn::Io want, void (BackendConn::*then)());
  void start_read();
  void read_now();
  void on_read(size_t n);
  void fail(const std::string& why);
  void queue_internal(std::string_view encoded, Step step = Step::kOther);
  // Appends AUTH backend_user + the probe to `out`; returns how many replies they owe.
  size_t append_user_auth(std::string& out) const;
  // A reply to one of the identity steps; false: the connection failed.
  bool on_identity_reply(Step step, std::string_view reply);
  void report_identity();
  void mark_dirty();

  Worker& worker_;
  std::string addr_;
  std::string host_;
  std::string port_;
  std::string bad_addr_;  // why addr_ is not host:port, if it is not
  int db_;
  boost::asio::ip::tcp::socket socket_;
  std::unique_ptr<TlsConn> tls_;  // backend_tls: this connection's OpenSSL side
  State state_ = State::kIdle;
  std::deque<Pending> pending_;
  std::string out_;      // queued, not yet handed to the socket
  std::string sending_;  // being written
  bool writing_ = false;
  bool reading_ = false;
  IoBuffer in_;
  resp::ReplyScanner scanner_;
  std::function<void(std::string_view)> push_;
  std::function<void()> push_fail_;
  uint32_t pending_ops_ = 0;   // Asio operations whose handlers have not run yet
  bool dedicated_ = false;
  bool admin_ = false;
  uint64_t generation_ = 0;  // bumps on every (re)connect; stale handlers compare it
  int64_t backoff_until_ms_ = 0;
  int64_t backoff_ms_ = 0;
  int64_t last_io_ms_ = 0;
  int64_t connect_started_ms_ = 0;
  uint64_t reconnects_ = 0;
  uint64_t errors_ = 0;
  std::string last_error_;
  // Identity of the current connection (see the top comment).
  bool restricted_ = false;
  std::string default_auth_error_;  // AUTH product_auth failed: fatal unless the user's AUTH works
  std::string user_auth_error_;     // why AUTH backend_user failed, for the warning
  bool warned_ = false;             // this connection's unrestricted state was reported
  int64_t upgrade_at_ms_ = 0;       // next AUTH backend_user on a live unrestricted connection
  int64_t upgrade_every_ms_ = 0;
};

}  // namespace codis::proxy
