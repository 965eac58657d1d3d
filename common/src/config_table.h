// The table-driven TOML loading shared by the proxy's and the dashboard's
// configs (internal to codis_common): a config struct's keys are a table of
// Field{key, pointer to member, comment, range}, from which parsing (with
// line numbers in errors), range checks, the commented default file and
// describe() all follow.
#pragma once

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "codis/config.h"  // parse_duration, parse_bytesize and their formatters
#include "codis/status.h"

namespace codis::config_table {

using std::chrono::milliseconds;

inline std::string text_quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

template <class C>
using Member = std::variant<std::string C::*, bool C::*, int C::*, milliseconds C::*, uint64_t C::*>;

template <class C>
struct Field {
  const char* key;
  Member<C> member;
  const char* comment = nullptr;  // printed above the key in the default file
  int64_t min = 0;                // for integers and sizes
  int64_t max = INT64_MAX;
  bool secret = false;  // left out of describe()
};

using Lines = std::map<std::string, int64_t, std::less<>>;

inline std::string at(const Lines* lines, std::string_view key) {
  std::string s;
  if (lines) {
    if (auto it = lines->find(key); it != lines->end()) s = "line " + std::to_string(it->second) + ": ";
  }
  return s + "key '" + std::string(key) + "': ";
}

// The admin plane's security keys, the same in proxy.toml and dashboard.toml
// (both structs have these members). docs/operations.md, "Security".
template <class C>
void add_admin_security_fields(std::vector<Field<C>>& out) {
  const std::vector<Field<C>> fields = {
      {"admin_auth", &C::admin_auth,
       "The admin secret. Every admin API call that changes something, reads a secret or a token, or\n"
       "makes the daemon connect somewhere needs \"Authorization: Bearer <admin_auth>\" (codis-admin --auth,\n"
       "the web UI's sign-in). The dashboard and its proxies share one secret. Empty: read it from\n"
       "admin_auth_file, or generate one there on first start (there is no unauthenticated mode).",
       0, INT64_MAX, true},
      {"admin_auth_file", &C::admin_auth_file,
       "Where the admin secret is kept when admin_auth is empty (created 0600 if missing).\n"
       "Empty: \"admin_auth\" in the directory of the config file."},
      {"admin_compat_xauth", &C::admin_compat_xauth,
       "Accept Codis 3.2's xauth (derived from the product name: anyone can compute it) in place of\n"
       "the admin secret, and serve Codis's unauthenticated reads, so that real Codis tools work.\n"
       "Only on a trusted network: with it, whoever reaches the admin port owns the cluster."},
      {"metrics_auth", &C::metrics_auth,
       "GET /metrics needs \"Authorization: Bearer <metrics_auth>\" (or the admin secret) when set;\n"
       "empty: /metrics is open (it holds counters, no secrets).",
       0, INT64_MAX, true},
      {"admin_tls_cert_file", &C::admin_tls_cert_file,
       "HTTPS on admin_addr: a PEM certificate (chain) and its key; both empty: plain HTTP.\n"
       "admin_tls_ca_file verifies the HTTPS admin ports this daemon calls (the dashboard's calls to\n"
       "proxies, a proxy's calls to the dashboard); empty: those calls use plain HTTP."},
      {"admin_tls_key_file", &C::admin_tls_key_file},
      {"admin_tls_ca_file", &C::admin_tls_ca_file},
  };
  out.insert(out.end(), fields.begin(), fields.end());
}

template <class C>
Status check_admin_security(const C& c, const Lines* lines) {
  if (c.admin_tls_cert_file.empty() != c.admin_tls_key_file.empty()) {
    return Status::Error(at(lines, c.admin_tls_cert_file.empty() ? "admin_tls_cert_file" : "admin_tls_key_file") +
                         "admin_tls_cert_file and admin_tls_key_file go together (both set: HTTPS; both empty: HTTP)");
  }
  for (char ch : c.admin_auth) {
    if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f) {
      return Status::Error(at(lines, "admin_auth") + "may not contain blanks or control characters");
    }
  }
  return Status::Ok();
}

// The coordinator_tls_* keys (etcd only; in proxy.toml for --etcd and
// jodis_name = "etcd", where `coordinator` is empty): the client certificate
// and its key go together, and need the CA.
template <class C>
Status check_coordinator_tls(const C& c, std::string_view coordinator, const Lines* lines) {
  const bool any = !c.coordinator_tls_ca_file.empty() || !c.coordinator_tls_cert_file.empty() ||
                   !c.coordinator_tls_key_file.empty();
  if (any && !coordinator.empty() && coordinator != "etcd") {
    return Status::Error(at(lines, "coordinator_tls_ca_file") + "TLS to the coordinator is for etcd only, not " +
                         text_quoted(coordinator));
  }
  if (c.coordinator_tls_cert_file.empty() != c.coordinator_tls_key_file.empty()) {
    return Status::Error(at(lines, c.coordinator_tls_cert_file.empty() ? "coordinator_tls_cert_file"
                                                                       : "coordinator_tls_key_file") +
                         "coordinator_tls_cert_file and coordinator_tls_key_file go together");
  }
  if (any && c.coordinator_tls_ca_file.empty()) {
    return Status::Error(at(lines, "coordinator_tls_ca_file") +
                         "must be set for TLS to etcd (the CA its certificates chain to)");
  }
  return Status::Ok();
}

// `table` with the admin security keys inserted after the key `after`.
template <class C>
std::vector<Field<C>> with_admin_security(std::vector<Field<C>> table, std::string_view after) {
  std::vector<Field<C>> out;
  for (auto& f : table) {
    out.push_back(f);
    if (after == f.key) add_admin_security_fields(out);
  }
  return out;
}

template <class C>
Status check_range(const Field<C>& f, int64_t v, const Lines* lines) {
  if (v >= f.min && v <= f.max) return Status::Ok();
  std::string expect = "expected a value >= " + std::to_string(f.min);
  if (f.max != INT64_MAX) expect += " and <= " + std::to_string(f.max);
  return Status::Error(at(lines, f.key) + expect + ", got " + std::to_string(v));
}

inline const char* toml_type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "nothing";
  }
}

template <class C>
Status set_field(const Field<C>& f, const toml::node& node, C& out, const Lines* lines) {
  auto wrong = [&](const char* expected) {
    return Status::Error(at(lines, f.key) + "expected " + expected + ", got " + toml_type_name(node));
  };
  return std::visit(
      [&](auto m) -> Status {
        using T = std::remove_reference_t<decltype(out.*m)>;
        if constexpr (std::is_same_v<T, std::string>) {
          auto s = node.as_string();
          if (!s) return wrong("a string");
          out.*m = s->get();
        } else if constexpr (std::is_same_v<T, bool>) {
          auto b = node.as_boolean();
          if (!b) return wrong("true or false");
          out.*m = b->get();
        } else if constexpr (std::is_same_v<T, int>) {
          auto i = node.as_integer();
          if (!i) return wrong("an integer");
          Field<C> bounded = f;  // an int member holds no more than 32 bits whatever the table says
          bounded.min = std::max<int64_t>(f.min, INT_MIN);
          bounded.max = std::min<int64_t>(f.max, INT_MAX);
          if (auto st = check_range(bounded, i->get(), lines); !st.ok()) return st;
          out.*m = static_cast<int>(i->get());
        } else if constexpr (std::is_same_v<T, milliseconds>) {
          if (auto i = node.as_integer()) {  // a bare number of seconds, as Codis 3.1 wrote
            if (i->get() < 0 || i->get() > INT64_MAX / 1000000000) {
              return Status::Error(at(lines, f.key) + "expected a duration >= 0, got " + std::to_string(i->get()));
            }
            out.*m = std::chrono::seconds(i->get());
          } else if (auto s = node.as_string()) {
            auto d = parse_duration(s->get());
            if (!d.ok()) return Status::Error(at(lines, f.key) + d.message());
            out.*m = *d;
          } else {
            return wrong("a duration string (e.g. \"5s\")");
          }
        } else {
          static_assert(std::is_same_v<T, uint64_t>);
          uint64_t v = 0;
          if (auto i = node.as_integer()) {
            if (i->get() < 0) {
              return Status::Error(at(lines, f.key) + "expected a size >= 0, got " + std::to_string(i->get()));
            }
            v = static_cast<uint64_t>(i->get());
          } else if (auto s = node.as_string()) {
            auto b = parse_bytesize(s->get());
            if (!b.ok()) return Status::Error(at(lines, f.key) + b.message());
            v = *b;
          } else {
            return wrong("a size (e.g. \"128kb\" or a number of bytes)");
          }
          if (v > uint64_t(INT64_MAX)) return Status::Error(at(lines, f.key) + "size is too large");
          if (auto st = check_range(f, static_cast<int64_t>(v), lines); !st.ok()) return st;
          out.*m = v;
        }
        return Status::Ok();
      },
      f.member);
}

template <class C>
std::string format_value(const Field<C>& f, const C& c, bool toml) {
  return std::visit(
      [&](auto m) -> std::string {
        using T = std::remove_cvref_t<decltype(c.*m)>;
        if constexpr (std::is_same_v<T, std::string>) {
          if (!toml) return c.*m;
          std::string q = "\"";
          for (unsigned char ch : c.*m) {
            if (ch == '"' || ch == '\\') {
              q += '\\';
              q += static_cast<char>(ch);
            } else if (ch < 0x20 || ch == 0x7f) {
              char buf[8];
              std::snprintf(buf, sizeof(buf), "\\u%04x", ch);
              q += buf;
            } else {
              q += static_cast<char>(ch);
            }
          }
          return q + "\"";
        } else if constexpr (std::is_same_v<T, bool>) {
          return c.*m ? "true" : "false";
        } else if constexpr (std::is_same_v<T, int>) {
          return std::to_string(c.*m);
        } else if constexpr (std::is_same_v<T, milliseconds>) {
          return toml ? text_quoted(format_duration(c.*m)) : format_duration(c.*m);
        } else {
          const std::string s = format_bytesize(c.*m);
          return toml && s.find_first_not_of("0123456789") != std::string::npos ? text_quoted(s) : s;
        }
      },
      f.member);
}

template <class C>
Result<C> parse_with_table(std::string_view text, const std::vector<Field<C>>& fields,
                           Status (*validate_fn)(const C&, const Lines*)) {
  toml::table tbl;
  try {
    tbl = toml::parse(text);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Result<C>::Error("line " + std::to_string(where.line) + ", column " + std::to_string(where.column) +
                            ": invalid TOML: " + std::string(e.description()));
  } catch (const std::exception& e) {
    return Result<C>::Error(std::string("invalid TOML: ") + e.what());
  }
  C out{};
  Lines lines;
  for (auto&& [key, node] : tbl) {
    const std::string_view k = key.str();
    const auto line = static_cast<int64_t>(key.source().begin.line);
    const Field<C>* field = nullptr;
    for (const auto& f : fields) {
      if (k == f.key) field = &f;
    }
    if (!field) {
      return Result<C>::Error("line " + std::to_string(line) + ": unknown key '" + std::string(k) +
                              "' (see --default-config for the accepted keys)");
    }
    lines.emplace(std::string(k), line);
    if (auto st = set_field(*field, node, out, &lines); !st.ok()) return st;
  }
  if (auto st = validate_fn(out, &lines); !st.ok()) return st;
  return out;
}

template <class C>
Status check_table_ranges(const C& c, const std::vector<Field<C>>& fields, const Lines* lines) {
  for (const auto& f : fields) {
    Status st = std::visit(
        [&](auto m) -> Status {
          using T = std::remove_cvref_t<decltype(c.*m)>;
          if constexpr (std::is_same_v<T, int>) {
            return check_range(f, c.*m, lines);
          } else if constexpr (std::is_same_v<T, uint64_t>) {
            if (c.*m > uint64_t(INT64_MAX)) return Status::Error(at(lines, f.key) + "size is too large");
            return check_range(f, static_cast<int64_t>(c.*m), lines);
          } else if constexpr (std::is_same_v<T, milliseconds>) {
            if ((c.*m).count() < 0) return Status::Error(at(lines, f.key) + "expected a duration >= 0");
            return Status::Ok();
          } else {
            return Status::Ok();
          }
        },
        f.member);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

// The whole file at `path`, or an error naming it.
inline Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Result<std::string>::Error(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Result<std::string>::Error(path + ": cannot read: " + std::strerror(errno));
  return text.str();
}

// parse(file contents), errors prefixed with the path.
template <class C>
Result<C> load_file(const std::string& path, Result<C> (*parse)(std::string_view)) {
  auto text = read_file(path);
  if (!text) return Result<C>::Error(text.message());
  auto config = parse(*text);
  if (!config.ok()) return Result<C>::Error(path + ": " + config.message());
  return config;
}

// A commented config file holding every key at its default value.
template <class C>
std::string default_text(std::string banner, const std::vector<Field<C>>& fields) {
  const C defaults{};
  for (const auto& f : fields) {
    if (f.comment) {
      banner += "\n";
      std::string_view c = f.comment;
      while (!c.empty()) {
        const size_t nl = c.find('\n');
        banner += "# ";
        banner += c.substr(0, nl);
        banner += "\n";
        c = nl == std::string_view::npos ? std::string_view() : c.substr(nl + 1);
      }
    }
    banner += f.key;
    banner += " = ";
    banner += format_value(f, defaults, /*toml=*/true);
    banner += "\n";
  }
  return banner;
}

// (key, value) of every non-secret key, for logs and --help.
template <class C>
nlohmann::ordered_json describe_fields(const C& config, const std::vector<Field<C>>& fields) {
  // Typed as Codis's Go structs marshal them: int and bool fields as JSON
  // numbers and booleans, durations and sizes (timesize, bytesize) as text.
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& f : fields) {
    if (f.secret) continue;
    std::visit(
        [&](auto m) {
          using T = std::remove_cvref_t<decltype(config.*m)>;
          if constexpr (std::is_same_v<T, int> || std::is_same_v<T, bool>) {
            out[f.key] = config.*m;
          } else {
            out[f.key] = format_value(f, config, /*toml=*/false);
          }
        },
        f.member);
  }
  return out;
}

}  // namespace codis::config_table
