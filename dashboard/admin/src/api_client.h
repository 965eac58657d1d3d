// ApiClient: Codis's rpc convention over http::request (codis/http_client.h),
// for codis-admin: one connection per call, with codis-admin's deadline, its
// --tls-ca (HTTPS) and the bearer it sends.
//
// Both admin APIs (dashboard and proxy) answer 200 with a JSON value, or 800
// (1500 in older Codis) with {"Cause": "...", "Stack": ...}. A call returns
// the JSON value, or an error whose message is "cause (METHOD PATH on ADDR)".
// Keys keep the server's order (ordered_json) so that what codis-admin
// prints reads like what the daemon wrote.
#pragma once

#include <chrono>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "codis/http_client.h"
#include "codis/status.h"

namespace codis::admin {

using Json = nlohmann::ordered_json;

class ApiClient {
public:
  ApiClient(std::string addr, http::ClientOptions options)
      : addr_(std::move(addr)), options_(std::move(options)) {}

  const std::string &addr() const { return addr_; }

  // `segments` are joined under "/" and escaped one by one, e.g.
  // {"api", "topom", "group", "add", xauth, "1", "127.0.0.1:6379"}.
  Result<Json> get(std::initializer_list<std::string_view> segments) const;
  Result<Json> put(std::initializer_list<std::string_view> segments,
                   const std::string &body = {}) const;

  static std::string path(std::initializer_list<std::string_view> segments);

private:
  Result<Json> call(std::string_view method, const std::string &target,
                    const std::string &body) const;

  std::string addr_;
  http::ClientOptions options_;
};

// The body of a reply with status `status` as Codis's rpc client reads it:
// the JSON value for 200, the Cause for 800/1500, the status and body text
// otherwise. Exposed for unit tests.
Result<Json> decode_reply(unsigned status, const std::string &body);

// Percent-encodes one path segment the way Go's url.URL.EscapedPath does for
// Codis's rpc.EncodeURL: RFC 3986 pchar stays as is (so "127.0.0.1:6379" is
// sent unchanged), everything else becomes %XX.
std::string escape_path_segment(std::string_view segment);

} // namespace codis::admin
