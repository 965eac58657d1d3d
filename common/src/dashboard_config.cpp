#include "codis/dashboard_config.h"

#include <climits>
#include <fstream>
#include <map>
#include <sstream>
#include <variant>

#include <toml++/toml.h>

#include "codis/config.h"  // parse_duration, parse_bytesize and their formatters

namespace codis {
namespace {

using D = DashboardConfig;
using Member = std::variant<std::string D::*, int D::*, std::chrono::milliseconds D::*, uint64_t D::*>;

struct Field {
  const char* key;
  Member member;
  const char* comment = nullptr;  // printed above the key in the default file
  int64_t min = 0;
  int64_t max = INT32_MAX;
  bool secret = false;
};

const std::vector<Field>& fields() {
  static const std::vector<Field> table = {
      {"coordinator_name", &D::coordinator_name,
       "Where the topology lives: coordinator_name is \"zookeeper\" (coordinator_addr: \"host:port[,host:port]\")\n"
       "or \"filesystem\" (coordinator_addr: a directory, for a single machine). coordinator_auth is the\n"
       "ZooKeeper digest \"user:password\" (empty: none)."},
      {"coordinator_addr", &D::coordinator_addr},
      {"coordinator_auth", &D::coordinator_auth, nullptr, 0, INT32_MAX, true},
      {"admin_addr", &D::admin_addr, "Address of the dashboard's HTTP API, as \"host:port\"."},
      {"product_name", &D::product_name,
       "Product (cluster) name: the topology is kept under /codis3/{product_name}.\n"
       "product_auth is the password of the redis servers (the proxies use the same)."},
      {"product_auth", &D::product_auth, nullptr, 0, INT32_MAX, true},
      {"migration_method", &D::migration_method,
       "Slot migration: \"semi-async\" (big keys move in chunks, clients are not blocked) or \"sync\"."},
      {"migration_parallel_slots", &D::migration_parallel_slots, nullptr, 1, 1024},
      {"migration_async_maxbulks", &D::migration_async_maxbulks, nullptr, 1},
      {"migration_async_maxbytes", &D::migration_async_maxbytes, nullptr, 1024, INT64_MAX},
      {"migration_async_numkeys", &D::migration_async_numkeys, nullptr, 1},
      {"migration_timeout", &D::migration_timeout},
      {"sentinel_client_timeout", &D::sentinel_client_timeout,
       "Redis Sentinel settings the dashboard writes when it registers the groups' masters."},
      {"sentinel_quorum", &D::sentinel_quorum, nullptr, 1},
      {"sentinel_parallel_syncs", &D::sentinel_parallel_syncs, nullptr, 1},
      {"sentinel_down_after", &D::sentinel_down_after},
      {"sentinel_failover_timeout", &D::sentinel_failover_timeout},
      {"sentinel_notification_script", &D::sentinel_notification_script},
      {"sentinel_client_reconfig_script", &D::sentinel_client_reconfig_script},
  };
  return table;
}

std::string at(int64_t line, std::string_view key) {
  return (line > 0 ? "line " + std::to_string(line) + ": " : std::string()) + "key '" + std::string(key) + "': ";
}

Status check_range(const Field& f, int64_t v, int64_t line) {
  if (v >= f.min && v <= f.max) return Status::Ok();
  std::string expect = "expected a value >= " + std::to_string(f.min);
  if (f.max != INT64_MAX) expect += " and <= " + std::to_string(f.max);
  return Status::Error(at(line, f.key) + expect + ", got " + std::to_string(v));
}

Status set_field(const Field& f, const toml::node& node, D& out, int64_t line) {
  auto wrong = [&](const char* expected) { return Status::Error(at(line, f.key) + "expected " + expected); };
  if (auto* s = std::get_if<std::string D::*>(&f.member)) {
    if (!node.is_string()) return wrong("a string");
    out.*(*s) = node.as_string()->get();
  } else if (auto* i = std::get_if<int D::*>(&f.member)) {
    if (!node.is_integer()) return wrong("an integer");
    const int64_t v = node.as_integer()->get();
    if (auto st = check_range(f, v, line); !st.ok()) return st;
    out.*(*i) = static_cast<int>(v);
  } else if (auto* d = std::get_if<std::chrono::milliseconds D::*>(&f.member)) {
    std::string text;
    if (node.is_string()) {
      text = node.as_string()->get();
    } else if (node.is_integer()) {
      text = std::to_string(node.as_integer()->get());
    } else {
      return wrong("a duration such as \"30s\", \"5m\" or \"100ms\"");
    }
    auto v = parse_duration(text);
    if (!v.ok()) return Status::Error(at(line, f.key) + v.message());
    out.*(*d) = *v;
  } else if (auto* b = std::get_if<uint64_t D::*>(&f.member)) {
    std::string text;
    if (node.is_string()) {
      text = node.as_string()->get();
    } else if (node.is_integer()) {
      text = std::to_string(node.as_integer()->get());
    } else {
      return wrong("a size such as \"32mb\" or a number of bytes");
    }
    auto v = parse_bytesize(text);
    if (!v.ok()) return Status::Error(at(line, f.key) + v.message());
    if (auto st = check_range(f, static_cast<int64_t>(std::min<uint64_t>(*v, INT64_MAX)), line); !st.ok()) return st;
    out.*(*b) = *v;
  }
  return Status::Ok();
}

std::string format_value(const Field& f, const D& c, bool toml) {
  if (auto* s = std::get_if<std::string D::*>(&f.member)) {
    if (!toml) return c.*(*s);
    std::string q = "\"";
    for (char ch : c.*(*s)) {
      if (ch == '"' || ch == '\\') q += '\\';
      q += ch;
    }
    return q + "\"";
  }
  if (auto* i = std::get_if<int D::*>(&f.member)) return std::to_string(c.*(*i));
  std::string text;
  if (auto* d = std::get_if<std::chrono::milliseconds D::*>(&f.member)) text = format_duration(c.*(*d));
  if (auto* b = std::get_if<uint64_t D::*>(&f.member)) text = format_bytesize(c.*(*b));
  return toml ? "\"" + text + "\"" : text;
}

Status validate_at(const D& c, const std::map<std::string, int64_t>& lines) {
  auto line_of = [&](const char* key) {
    auto it = lines.find(key);
    return it == lines.end() ? int64_t(0) : it->second;
  };
  if (c.coordinator_name != "zookeeper" && c.coordinator_name != "filesystem") {
    return Status::Error(at(line_of("coordinator_name"), "coordinator_name") +
                         "expected \"zookeeper\" or \"filesystem\", got \"" + c.coordinator_name + "\"");
  }
  if (c.coordinator_addr.empty()) {
    return Status::Error(at(line_of("coordinator_addr"), "coordinator_addr") +
                         "must not be empty (a ZooKeeper \"host:port\" list or a directory)");
  }
  if (c.product_name.empty()) {
    return Status::Error(at(line_of("product_name"), "product_name") + "must not be empty");
  }
  for (char ch : c.product_name) {
    if (ch == '/' || static_cast<unsigned char>(ch) < 0x20 || ch == '.') {
      return Status::Error(at(line_of("product_name"), "product_name") +
                           "may not contain '/', '.' or control characters (it is a coordinator path component)");
    }
  }
  if (c.admin_addr.rfind(':') == std::string::npos) {
    return Status::Error(at(line_of("admin_addr"), "admin_addr") + "expected \"host:port\", got \"" +
                         c.admin_addr + "\"");
  }
  if (migration_forward_method(c.migration_method) < 0) {
    return Status::Error(at(line_of("migration_method"), "migration_method") +
                         "expected \"semi-async\" or \"sync\", got \"" + c.migration_method + "\"");
  }
  for (const auto& f : fields()) {
    if (auto* i = std::get_if<int D::*>(&f.member)) {
      if (auto st = check_range(f, c.*(*i), line_of(f.key)); !st.ok()) return st;
    }
  }
  return Status::Ok();
}

}  // namespace

int migration_forward_method(std::string_view method) {
  if (method == "sync") return 0;
  if (method == "semi-async") return 1;
  return -1;
}

Status validate(const DashboardConfig& config) { return validate_at(config, {}); }

Result<DashboardConfig> parse_dashboard_config(std::string_view toml_text) {
  toml::table table;
  try {
    table = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    return Result<DashboardConfig>::Error("line " + std::to_string(e.source().begin.line) +
                                          ": invalid TOML: " + std::string(e.description()));
  }
  D config;
  std::map<std::string, int64_t> lines;
  for (const auto& [key, node] : table) {
    const int64_t line = node.source().begin.line;
    lines[std::string(key.str())] = line;
    const Field* field = nullptr;
    for (const auto& f : fields()) {
      if (key.str() == f.key) field = &f;
    }
    if (!field) {
      return Result<DashboardConfig>::Error(at(line, key.str()) +
                                            "unknown key (codis-dashboard --default-config lists every key)");
    }
    if (auto st = set_field(*field, node, config, line); !st.ok()) return st;
  }
  if (auto st = validate_at(config, lines); !st.ok()) return st;
  return config;
}

Result<DashboardConfig> load_dashboard_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Result<DashboardConfig>::Error(path + ": cannot open the file for reading");
  std::stringstream text;
  text << in.rdbuf();
  auto config = parse_dashboard_config(text.str());
  if (!config.ok()) return Result<DashboardConfig>::Error(path + ": " + config.message());
  return config;
}

std::string default_dashboard_config_text() {
  std::string out =
      "##################################################\n"
      "#                                                #\n"
      "#                  Codis-Dashboard               #\n"
      "#                                                #\n"
      "##################################################\n"
      "#\n"
      "# Durations: \"100ms\", \"30s\", \"5m\", \"1h\". Sizes: \"32mb\", \"1gb\" (units of 1024) or bytes.\n";
  const D defaults;
  for (const auto& f : fields()) {
    if (f.comment) {
      out += "\n";
      std::string_view c = f.comment;
      while (!c.empty()) {
        const size_t nl = c.find('\n');
        out += "# ";
        out += c.substr(0, nl);
        out += "\n";
        c = nl == std::string_view::npos ? std::string_view() : c.substr(nl + 1);
      }
    }
    out += f.key;
    out += " = ";
    out += format_value(f, defaults, true);
    out += "\n";
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> describe(const DashboardConfig& config) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& f : fields()) {
    if (!f.secret) out.emplace_back(f.key, format_value(f, config, false));
  }
  return out;
}

}  // namespace codis
