#include "api_client.h"

namespace codis::admin {

namespace {

std::string one_line(std::string s, size_t limit = 300) {
  for (auto &c : s) {
    if (c == '\n' || c == '\r' || c == '\t')
      c = ' ';
  }
  while (!s.empty() && s.back() == ' ')
    s.pop_back();
  if (s.size() > limit)
    s = s.substr(0, limit) + "...";
  return s;
}

} // namespace

Result<Json> decode_reply(unsigned status, const std::string &body) {
  if (status == 200) {
    if (body.find_first_not_of(" \t\r\n") == std::string::npos)
      return Json();
    auto v = Json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (v.is_discarded())
      return Result<Json>::Error("the reply is not JSON: " + one_line(body));
    return v;
  }
  if (status == 800 || status == 1500) {
    auto v = Json::parse(body, nullptr, false);
    if (!v.is_discarded() && v.is_object() && v.contains("Cause") &&
        v["Cause"].is_string()) {
      return Result<Json>::Error(v["Cause"].get<std::string>());
    }
    return Result<Json>::Error("error reply: " + one_line(body));
  }
  if (status == 401) {
    auto v = Json::parse(body, nullptr, false);
    std::string cause = !v.is_discarded() && v.is_object() && v.contains("Cause") && v["Cause"].is_string()
                            ? v["Cause"].get<std::string>()
                            : one_line(body);
    return Result<Json>::Error(
        "not authorized (" + cause +
        "); give the admin secret with --auth-file=FILE, CODIS_ADMIN_AUTH_FILE or CODIS_ADMIN_AUTH (the daemon "
        "logs where it keeps it; see codis-admin --help)");
  }
  std::string msg = "HTTP " + std::to_string(status);
  if (status == 404)
    msg += " (this daemon does not serve the call: is it the right address, "
           "and the right version?)";
  if (body.find_first_not_of(" \t\r\n") != std::string::npos)
    msg += ": " + one_line(body);
  return Result<Json>::Error(msg, status == 404 ? Code::kNotFound : Code::kError);
}

std::string ApiClient::path(std::initializer_list<std::string_view> segments) {
  std::string out;
  for (auto s : segments) {
    out += '/';
    out += escape_path_segment(s);
  }
  return out.empty() ? "/" : out;
}

Result<Json>
ApiClient::get(std::initializer_list<std::string_view> segments) const {
  return call("GET", path(segments), {});
}

Result<Json> ApiClient::put(std::initializer_list<std::string_view> segments,
                            const std::string &body) const {
  return call("PUT", path(segments), body);
}

Result<Json> ApiClient::call(std::string_view method, const std::string &target,
                             const std::string &body) const {
  auto rep = http::request(addr_, method, target, body, options_);
  if (!rep)
    return rep.status();
  auto v = decode_reply(rep->status, rep->body);
  if (!v)
    return Result<Json>::Error(v.message() + " (" + std::string(method) + " " +
                               target + " on " + addr_ + ")");
  return v;
}

std::string escape_path_segment(std::string_view segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(segment.size());
  for (const unsigned char c : segment) {
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                            c == '_' || c == '~';
    const bool sub_delim_or_pchar =
        c == '!' || c == '$' || c == '&' || c == '\'' || c == '(' || c == ')' ||
        c == '*' || c == '+' || c == ',' || c == ';' || c == '=' || c == ':' ||
        c == '@';
    if (unreserved || sub_delim_or_pchar) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

} // namespace codis::admin
