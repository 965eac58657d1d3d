// Session: one client connection, pinned to one worker thread. It reads as
// many requests as arrived, dispatches each (proxy-local, one slot, or split
// over groups), and writes replies strictly in request order, batched into
// one write per event-loop round. Replies that are ready while earlier ones
// are not wait in their Request; a session stops reading while
// session_max_pipeline requests are waiting on backends, so a fast writer
// cannot make the proxy buffer without bound.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>

#include "codis/resp.h"
#include "io_buffer.h"
#include "request.h"
#include "request_queue.h"
#include "tls_conn.h"

namespace codis::proxy {

namespace acl {
struct User;
}
class Worker;
class BackendConn;

class Session {
 public:
  // `tls`: the client came in on proxy_tls_addr; the session does the TLS handshake first.
  Session(Worker& worker, boost::asio::ip::tcp::socket socket, uint64_t id, bool tls = false);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session();

  void start();
  void close(const char* why);
  // A request of this session got its reply.
  void on_done(Request* req, std::string_view reply);
  void flush();  // called by the worker's flush step
  uint64_t id() const { return id_; }
  bool subscribed() const { return pubsub_ != nullptr; }
  void resubscribe();  // after a routing change: follow channels whose slot moved
  int64_t last_active_ms() const { return last_active_ms_; }
  // Subject to session_recv_timeout: nothing in flight (a blocked BLPOP is not
  // idle) and not subscribed (as Redis exempts pub/sub clients).
  bool idle() const { return waiting_ == 0 && !pubsub_; }
  // When the command now arriving began to arrive (worker clock), 0 if none is half-read: subject to
  // session_request_timeout. Not while the proxy itself stops reading (pipeline full, AUTH held).
  int64_t partial_since_ms() const { return read_paused_ || auth_hold_ ? 0 : partial_since_ms_; }
  // The source address counted against proxy_max_clients_per_source ("" if not counted).
  std::string counted_source;
  // Still in its TLS handshake (closed by the worker after a few seconds).
  bool tls_handshaking() const { return tls_ && !tls_->handshake_done(); }
  // session_break_on_failure: stop reading; close once the replies owed are written.
  void close_after_reply();
  bool closed() const { return closed_; }
  bool flush_scheduled = false;  // owned by Worker's dirty list
  const std::string& peer() const { return peer_; }

  // Client memory (docs/design.md §8.5): the bytes of this session's buffers
  // counted in its worker's total. Brought up to date where a buffer may have
  // changed size: where the input buffer grows or is freed, where the output
  // strings are freed, and before each write if out_ grew.
  size_t client_memory() const { return counted_; }
  void account() {
    out_counted_ = out_.capacity();
    const size_t now = in_.capacity() + out_counted_ + sending_.capacity();
    if (now != counted_) recount(now);
  }
  // A quiet session frees its buffers, its parser and its queue's ring (client_memory.cpp);
  // returns the bytes freed besides its buffers.
  size_t release_idle_memory();

 private:
  void start_read();
  void read_now();
  // TLS (tls_ set): the same steps over OpenSSL, waiting for whichever readiness it wants.
  void tls_handshake();
  void tls_read();
  void tls_flush();
  void all_written();  // after out_ went out whole
  void tls_wait(bool for_write_side, TlsConn::Io want, void (Session::*then)());
  void process_input() { process_input(in_); }
  void process_input(IoBuffer& in);  // in_, or the worker's buffer (input_buffer())
  IoBuffer& input_buffer();
  char* prepare_input(IoBuffer& buf);
  char* grow_input();
  void keep_input(IoBuffer& shared);
  void recount(size_t now);
  void dispatch(std::span<const std::string_view> args, std::string_view raw, bool is_inline);
  RequestPtr enqueue(const struct CommandInfo* cmd);
  void reply_now(const RequestPtr& req, std::string_view resp, bool proxy_error);
  void error_now(const RequestPtr& req, std::string_view message);
  void forward_single(const RequestPtr& req, std::span<const std::string_view> args,
                      std::string_view raw, bool is_inline, const std::vector<int>& keys);
  void split(const RequestPtr& req, std::span<const std::string_view> args, const std::vector<int>& keys);
  void handle_local(const RequestPtr& req, std::span<const std::string_view> args);
  void local_info(const RequestPtr& req, std::span<const std::string_view> args);
  void local_config_get(const RequestPtr& req, std::span<const std::string_view> args);
  void handle_cluster(const RequestPtr& req, std::span<const std::string_view> args, std::string_view raw,
                      bool is_inline);
  void forward_keyless(const RequestPtr& req, std::span<const std::string_view> args, std::string_view raw,
                       bool is_inline);
  // Sends `encoded` to each address (in the session's db) and answers with finish(parts' replies).
  // `admin_identity`: over the worker's admin connections (cluster_admin.cpp), not the client ones.
  void fan_out(const RequestPtr& req, std::string_view encoded, const std::vector<std::string>& targets,
               std::function<std::string(SplitState&)> finish, bool admin_identity = false);
  void local_command(const RequestPtr& req, std::span<const std::string_view> args);
  void local_hello(const RequestPtr& req, std::span<const std::string_view> args);
  void local_slotsmapping(const RequestPtr& req, std::span<const std::string_view> args);
  // AUTH / HELLO AUTH, throttled (auth_throttle.h): a wrong password's answer is held back.
  bool check_auth(std::string_view user, std::string_view pass, const RequestPtr& req);
  // Users (session_acl.cpp).
  void acl_start();     // the default user, logged in when it needs no password
  bool acl_refresh();   // after a reload: this session's user's new rules; false if it was removed
  bool acl_default_nopass() const;
  bool acl_login(std::string_view user, std::string_view password);
  // The permission check before dispatch; on a denial answers NOPERM and returns false.
  bool acl_allows(const RequestPtr& req, const struct CommandInfo& cmd, std::span<const std::string_view> args);
  void local_acl(const RequestPtr& req, std::span<const std::string_view> args);
  // Cluster-wide CONFIG for users allowed to (cluster_admin.cpp); false: not such a request.
  bool cluster_admin(const RequestPtr& req, const struct CommandInfo& cmd, std::span<const std::string_view> args,
                     std::string_view raw, bool is_inline);
  // `encoded` to every server of every group as the admin identity (cluster_admin.cpp).
  void fan_out_everywhere(const RequestPtr& req, std::string encoded, std::function<std::string(SplitState&)> finish);
  // Holds every reply and stops reading until `until_ms` (worker clock).
  void hold_until(int64_t until_ms);
  // Blocking commands and transactions (transaction.cpp).
  void forward_blocking(const RequestPtr& req, std::string_view encoded, uint32_t slot);
  void queue_in_multi(const RequestPtr& req, std::span<const std::string_view> args, std::string_view raw,
                      bool is_inline);
  void handle_transaction(const RequestPtr& req, std::span<const std::string_view> args, std::string_view raw,
                          bool is_inline);
  void abort_transaction_on_error() {
    if (tx_.active) tx_.aborted = true;
  }
  // Pub/sub (pubsub.cpp).
  void handle_pubsub(const RequestPtr& req, std::span<const std::string_view> args);
  void on_push(BackendConn* from, std::string_view msg);
  void release_pubsub();
  void issue_wait(const RequestPtr& req);
  BackendConn* dedicated_for(const std::string& addr);
  void release_dedicated();
  void maybe_retire();

  Worker& worker_;
  boost::asio::ip::tcp::socket socket_;
  std::unique_ptr<TlsConn> tls_;  // null: plain TCP
  bool tls_wanted_ = false;
  // The flags together (an idle session's size counts: docs/design.md §8.5).
  bool authed_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool closed_ = false;
  bool close_after_write_ = false;  // QUIT or a protocol error: close once replies are out
  bool read_paused_ = false;
  bool acl_logged_in_ = false;      // AUTH / HELLO AUTH succeeded
  bool auth_hold_ = false;          // replies held back and input paused after a failed AUTH
  bool hold_timer_pending_ = false;
  int db_ = 0;
  uint64_t id_;
  RequestQueue queue_;            // requests not yet written, in arrival order
  size_t waiting_ = 0;            // of those, still waiting for a reply
  IoBuffer in_;
  std::unique_ptr<resp::RequestParser> parser_;  // made on first input, freed when idle
  std::string out_;
  std::string sending_;
  size_t counted_ = 0;            // see client_memory()
  size_t out_counted_ = 0;        // out_.capacity() when counted
  int64_t last_active_ms_ = 0;
  int64_t partial_since_ms_ = 0;
  std::string name_;  // CLIENT SETNAME / HELLO SETNAME
  // Connections of this session alone, per (group master, db): blocking
  // commands wait on them and WATCH/MULTI/EXEC run on them.
  std::vector<BackendConn*> dedicated_;
  struct Transaction {
    bool active = false;   // between MULTI and EXEC/DISCARD
    bool aborted = false;  // a command was rejected while queueing: EXEC answers EXECABORT
    int slot = -1;         // the one slot of every key queued so far
    size_t count = 0;
    std::string queued;    // the queued commands, encoded
    std::vector<size_t> ends;  // where each queued command ends in `queued`
  } tx_;
  struct PubSubOp {              // a (P|S)(UN)SUBSCRIBE waiting for the backends to confirm
    RequestPtr req;
    std::string reply;           // the confirmations the client gets, computed when sent
    uint32_t remaining = 0;      // backend confirmations still to come
  };
  struct SubConn {
    BackendConn* conn;
    std::deque<std::shared_ptr<PubSubOp>> expect;  // one entry per confirmation this connection owes
  };
  struct PubSub {
    std::set<std::string> channels, patterns, shard_channels;
    std::map<std::string, std::string> where;  // "c:"/"s:" + channel -> master it is subscribed on
    std::set<std::string> pattern_groups;       // masters the patterns are subscribed on
    std::vector<SubConn> conns;  // one per group master
    std::string held;            // messages that must wait behind earlier replies
  };
  std::unique_ptr<PubSub> pubsub_;
  bool pubsub_send(const std::string& addr, std::string_view command, const std::vector<std::string>& names,
                   const std::shared_ptr<PubSubOp>& op);

  RequestPtr deferred_wait_;  // WAIT, sent once every earlier request is answered
  BackendConn* watch_conn_ = nullptr;  // where WATCH ran; its keys' slot is watch_slot_
  int watch_slot_ = -1;
  uint64_t watch_connection_ = 0;      // which connection of watch_conn_ carries the WATCH
  std::string peer_;
  std::shared_ptr<const acl::User> user_;  // this session's user, as of acl_generation_
  std::string user_name_;
  uint64_t acl_generation_ = 0;
  std::string_view peer_ip() const {  // the throttle's source key
    return std::string_view(peer_).substr(0, peer_.rfind(':'));
  }
  uint32_t auth_failures_ = 0;      // failed AUTHs on this connection
  std::unique_ptr<boost::asio::steady_timer> hold_timer_;
};

}  // namespace codis::proxy
