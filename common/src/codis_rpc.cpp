#include "codis/codis_rpc.h"

namespace codis::rpc {

namespace {

// None of these bytes can occur outside a string in JSON text, so escaping
// them everywhere is exact.
std::string go_escape(const std::string& raw) {
  std::string out;
  out.reserve(raw.size() + 16);
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c == '&') {
      out += "\\u0026";
    } else if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '\xE2' && i + 2 < raw.size() && raw[i + 1] == '\x80' &&
               (raw[i + 2] == '\xA8' || raw[i + 2] == '\xA9')) {
      out += raw[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string go_json(const nlohmann::json& v) {
  return go_escape(v.dump(4, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string go_json(const nlohmann::ordered_json& v) {
  return go_escape(v.dump(4, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
}

std::string error_body(std::string_view cause) {
  nlohmann::ordered_json e = nlohmann::ordered_json::object();
  e["Cause"] = cause;  // our errors carry no Go stack, as Codis's errors.New ones did not either
  e["Stack"] = nullptr;
  return go_json(e);
}


}  // namespace codis::rpc
