// HttpClient: one blocking HTTP/1.1 request with a deadline, for codis-admin.
//
// codis-admin makes a handful of calls and exits, so a request is a whole
// connection (Connection: close). The call blocks the caller, but the I/O
// runs as Asio operations on a private io_context so that the deadline
// covers resolve, connect, write and read alike (Beast's timeouts apply only
// to asynchronous operations). Beast and Asio stay in http_client.cpp.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "codis/status.h"

namespace codis::admin {

struct HttpResponse {
  unsigned status = 0;
  std::string body;
};

class HttpClient {
public:
  explicit HttpClient(std::chrono::milliseconds timeout) : timeout_(timeout) {}

  // `addr` is "host:port"; `target` the already-encoded path. A non-2xx status
  // is a response, not an error: only connection and protocol failures are
  // errors, and their message names the address and the step that failed.
  // A non-empty `bearer` is sent as "Authorization: Bearer <bearer>".
  Result<HttpResponse> request(const std::string &addr, std::string_view method,
                               const std::string &target,
                               const std::string &body,
                               const std::string &bearer = {}) const;

private:
  std::chrono::milliseconds timeout_;
};

// Percent-encodes one path segment the way Go's url.URL.EscapedPath does for
// Codis's rpc.EncodeURL: RFC 3986 pchar stays as is (so "127.0.0.1:6379" is
// sent unchanged), everything else becomes %XX.
std::string escape_path_segment(std::string_view segment);

} // namespace codis::admin
