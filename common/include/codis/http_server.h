// http::Server and http::Router: the one small HTTP/1.1 server of our daemons'
// admin endpoints: the proxy's Codis admin API and /metrics (on the proxy's
// control thread) and the dashboard's Codis API and web UI. Protocol details
// (limits, keep-alive, Expect: 100-continue, bad requests, graceful stop,
// HTTPS, and the timeouts and connection cap that keep a flood of idle or
// slow clients from locking operators out) live here once; what a path means
// lives in the caller's route table.
// Codis's conventions (JSON, status 800 errors, xauth) are a layer above, in
// codis/codis_api.h.
//
// Beast, Asio and OpenSSL stay in http_server.cpp, so this header is cheap to
// include. The client side is codis/http_client.h.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "codis/status.h"

namespace boost::asio {
class io_context;
}

namespace codis::http {

inline constexpr std::string_view kTextType = "text/plain; charset=utf-8";

// What a handler answers. Any status from 100 to 999 goes out; one without a
// standard reason phrase (Codis's 800) is sent as "800 status code 800", as
// Go's server does.
struct Reply {
  unsigned status = 200;
  std::string body;
  std::string content_type = std::string(kTextType);
  std::string location;                                      // a Location header when not empty (redirects)
  std::vector<std::pair<std::string, std::string>> headers;  // more headers: Allow, Cache-Control, ...
  std::string error;  // why the request failed, for the caller's log; never sent
};

// A reply of `status` with `body` as text (or as `content_type`).
Reply text(unsigned status, std::string body, std::string_view content_type = kTextType);

using Headers = std::vector<std::pair<std::string, std::string>>;

// What a handler gets.
struct Request {
  std::string method;  // as sent: "GET", "PUT", ... ("HEAD" on a GET route, see Router::Options)
  std::string path;    // percent-decoded, without query or fragment
  std::string body;
  std::string remote;  // "ip:port", plus " [ip]" when X-Real-IP / X-Forwarded-For names the client
  std::vector<std::pair<std::string, std::string>> params;  // the matched route's ":name" segments
  Headers headers;      // the request's header fields (names as sent)
  bool secure = false;  // it came over TLS (cookies then get the Secure attribute)
  std::string user;     // who the admin layer authenticated (codis_api.h); "" = anonymous

  // The value of ":name" in the matched pattern; "" when there is none.
  std::string_view param(std::string_view name) const;
  // The first header field of that name (case-insensitive); "" when absent.
  std::string_view header(std::string_view name) const;
};

using Handler = std::function<Reply(const Request&)>;

// Maps method + path to a handler. Patterns are "/"-separated segments, a
// segment ":name" matching any one non-empty segment of the request path
// ("/api/proxy/fillslots/:xauth"); the request path may end with one extra
// "/". Answers, in this order:
//   400  a malformed request target (bad percent-encoding, not a path);
//   the first route (in the order added) whose method and path match;
//   the first fallback whose method and path match;
//   405  with Allow: a route has this path, but with other methods;
//   404  nothing serves this path.
// Usable without sockets (tests dispatch directly); immutable once built, so
// handlers may run on several threads at once.
class Router {
 public:
  struct Options {
    // HEAD is served by the GET route of a path, without the body.
    bool head_as_get = true;
  };

  Router() = default;
  explicit Router(Options options) : options_(options) {}

  void add(std::string method, std::string_view pattern, Handler handler);
  // A catch-all such as the web UI's "GET /:file": tried after every route,
  // it serves only its own method and claims no path, so another method on a
  // path that only a fallback matches is 404 (the handler decides what
  // exists, the router cannot), not 405.
  void add_fallback(std::string method, std::string_view pattern, Handler handler);

  // Routes one request; never throws (a handler's exception becomes a 500).
  Reply dispatch(std::string_view method, std::string_view target, std::string body, std::string remote,
                 Headers headers = {}, bool secure = false) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
    bool fallback = false;
  };

  Options options_;
  std::vector<Route> routes_;  // routes, then fallbacks, each in the order added
};

class Server {
 public:
  // Defaults suit production; tests shrink them to exercise the limits.
  // A connection is "waiting" while it is idle, in its TLS handshake or still
  // receiving its request, and "busy" while its handler runs or its reply is
  // written. Waiting connections are what a flood of idle or slow clients
  // holds; they are the ones closed by the timeouts, by stop(), and to make
  // room at max_connections.
  struct Limits {
    std::size_t max_body_bytes = 16 * 1024 * 1024;  // a proxy's fillslots for 1024 slots is ~300 KB
    std::size_t max_header_bytes = 64 * 1024;
    // At this many open connections a new one closes the oldest waiting
    // connection to make room; only when all of them are busy is it answered
    // 503 and closed. listen() raises the soft open-files limit to fit.
    std::size_t max_connections = 4096;
    // From a request's first byte (for HTTPS: from the accept, as the TLS
    // handshake comes first) until all of it, headers and body, has arrived.
    std::chrono::milliseconds request_timeout = std::chrono::seconds(10);
    // Waiting for the first byte of a connection's next request (or of its first).
    std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
    // Writing one reply.
    std::chrono::milliseconds write_timeout = std::chrono::seconds(30);
  };
  struct Options {
    std::string name = "http";  // in log lines and errors: "admin", "api"
    Limits limits;
    // 0: handlers run on the io thread, between network events (they must
    // not block). N > 0: on a pool of N threads, for handlers that block on
    // peers; the io thread keeps serving other connections meanwhile.
    int handler_threads = 0;
    // HTTPS (TLS 1.2 or later) when both are set: a PEM certificate chain and
    // its private key (without a passphrase), loaded by listen(). Requests
    // then have Request::secure set.
    std::string tls_cert_file;
    std::string tls_key_file;
  };

  // `io` must outlive this object. Nothing is served until the caller runs
  // `io`, in one thread (the server is not meant for a pool of io threads).
  Server(boost::asio::io_context& io, Router router, Options options);
  ~Server();  // stop()s; waits for handlers running on the pool
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Loads the TLS certificate and key (if any) and binds and listens now, so
  // a bad certificate or a taken port is reported to the caller at once.
  // addr: "host:port", "[v6]:port" or ":port" (all interfaces); port 0 picks
  // a free port (see port()).
  Status listen(const std::string& addr);

  // Serving HTTPS (after a successful listen() with TLS options).
  bool secure() const;

  // The bound port (useful after listen(":0")); 0 before listen().
  uint16_t port() const;

  // Stops accepting, closes idle connections and lets requests in progress
  // finish their reply; `io.run()` then returns once nothing is left.
  // Thread-safe and idempotent; may be called from a handler, which still
  // gets its reply out.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Loads a server certificate and key as Server::listen() would, for a daemon
// to report bad files at start-up before it listens.
Status check_server_tls(const std::string& cert_file, const std::string& key_file);

}  // namespace codis::http
