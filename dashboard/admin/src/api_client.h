// ApiClient: Codis's rpc convention over HttpClient, for codis-admin.
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

#include "codis/status.h"
#include "http_client.h"

namespace codis::admin {

using Json = nlohmann::ordered_json;

class ApiClient {
public:
  // `bearer`: the admin secret, sent as "Authorization: Bearer ..." ("" = none).
  ApiClient(std::string addr, std::chrono::milliseconds timeout, std::string bearer = {})
      : addr_(std::move(addr)), bearer_(std::move(bearer)), http_(timeout) {}

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
  std::string bearer_;
  HttpClient http_;
};

// The body of a reply with status `status` as Codis's rpc client reads it:
// the JSON value for 200, the Cause for 800/1500, the status and body text
// otherwise. Exposed for unit tests.
Result<Json> decode_reply(unsigned status, const std::string &body);

} // namespace codis::admin
