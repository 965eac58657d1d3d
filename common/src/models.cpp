#include "codis/models.h"

#include <cstdio>
#include <limits>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace codis::models {
namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

// Thrown by the readers below; caught by parse_json (and by callers of
// from_json, who get a std::runtime_error).
struct ModelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads the fields of one JSON object the way Go's encoding/json fills a
// struct: absent or null keeps the default, extra keys are ignored, a wrong
// type throws. `path` names the object for messages ("servers[1].action").
class Reader {
 public:
  Reader(const json& j, std::string path) : j_(j), path_(std::move(path)) {
    if (!j_.is_object() && !j_.is_null()) {
      throw ModelError(where() + "type must be object, but is " + j_.type_name());
    }
  }

  void get(const char* key, std::string& out) {
    if (const json* v = find(key)) {
      if (!v->is_string()) fail(key, "type must be string, but is " + std::string(v->type_name()));
      out = v->get_ref<const std::string&>();
    }
  }

  void get(const char* key, bool& out) {
    if (const json* v = find(key)) {
      if (!v->is_boolean()) fail(key, "type must be boolean, but is " + std::string(v->type_name()));
      out = v->get<bool>();
    }
  }

  void get(const char* key, int& out) {
    if (const json* v = find(key)) out = to_int(*v, name(key));
  }

  void get(const char* key, std::vector<std::string>& out) {
    if (const json* v = find(key)) out = to_strings(*v, name(key));
  }

  void get(const char* key, std::vector<std::vector<std::string>>& out) {
    if (const json* v = find(key)) {
      if (!v->is_array()) fail(key, "type must be array, but is " + std::string(v->type_name()));
      out.clear();
      for (size_t i = 0; i < v->size(); i++) {
        out.push_back(to_strings((*v)[i], name(key) + "[" + std::to_string(i) + "]"));
      }
    }
  }

  // A nested struct: `read(Reader&, T&)` fills it.
  template <class T, class Fn>
  void get_object(const char* key, T& out, Fn read) {
    if (const json* v = find(key)) {
      Reader r(*v, name(key));
      read(r, out);
    }
  }

  template <class T, class Fn>
  void get_objects(const char* key, std::vector<T>& out, Fn read) {
    if (const json* v = find(key)) {
      if (!v->is_array()) fail(key, "type must be array, but is " + std::string(v->type_name()));
      out.clear();
      for (size_t i = 0; i < v->size(); i++) {
        T item{};
        Reader r((*v)[i], name(key) + "[" + std::to_string(i) + "]");
        read(r, item);
        out.push_back(std::move(item));
      }
    }
  }

 private:
  const json* find(const char* key) const {
    if (!j_.is_object()) return nullptr;
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  std::string name(const char* key) const { return path_.empty() ? key : path_ + "." + key; }
  std::string where() const { return path_.empty() ? "" : "field '" + path_ + "': "; }

  [[noreturn]] void fail(const char* key, const std::string& what) const {
    throw ModelError("field '" + name(key) + "': " + what);
  }

  static int to_int(const json& v, const std::string& field) {
    if (v.is_number_integer()) {
      // Unsigned values above INT64_MAX are stored unsigned; treat as too big.
      if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<int>::max())) {
        throw ModelError("field '" + field + "': " + v.dump() + " is out of range for an integer");
      }
      const int64_t n = v.get<int64_t>();
      if (n < std::numeric_limits<int>::min() || n > std::numeric_limits<int>::max()) {
        throw ModelError("field '" + field + "': " + v.dump() + " is out of range for an integer");
      }
      return static_cast<int>(n);
    }
    if (v.is_number_float()) {
      throw ModelError("field '" + field + "': type must be an integer, but is " + v.dump());
    }
    throw ModelError("field '" + field + "': type must be number, but is " + std::string(v.type_name()));
  }

  static std::vector<std::string> to_strings(const json& v, const std::string& field) {
    std::vector<std::string> out;
    if (v.is_null()) return out;
    if (!v.is_array()) {
      throw ModelError("field '" + field + "': type must be array, but is " + std::string(v.type_name()));
    }
    for (size_t i = 0; i < v.size(); i++) {
      if (!v[i].is_string()) {
        throw ModelError("field '" + field + "[" + std::to_string(i) + "]': type must be string, but is " +
                         std::string(v[i].type_name()));
      }
      out.push_back(v[i].get<std::string>());
    }
    return out;
  }

  const json& j_;
  std::string path_;
};

// ---- readers ----

void read(Reader& r, Topom& v) {
  r.get("token", v.token);
  r.get("start_time", v.start_time);
  r.get("admin_addr", v.admin_addr);
  r.get("product_name", v.product_name);
  r.get("pid", v.pid);
  r.get("pwd", v.pwd);
  r.get("sys", v.sys);
}

void read(Reader& r, Proxy& v) {
  r.get("id", v.id);
  r.get("token", v.token);
  r.get("start_time", v.start_time);
  r.get("admin_addr", v.admin_addr);
  r.get("proto_type", v.proto_type);
  r.get("proxy_addr", v.proxy_addr);
  r.get("jodis_path", v.jodis_path);
  r.get("product_name", v.product_name);
  r.get("pid", v.pid);
  r.get("pwd", v.pwd);
  r.get("sys", v.sys);
  r.get("hostname", v.hostname);
  r.get("datacenter", v.datacenter);
}

void read(Reader& r, GroupServer& v) {
  r.get("server", v.server);
  r.get("datacenter", v.datacenter);
  r.get_object("action", v.action, [](Reader& a, GroupServerAction& x) {
    a.get("index", x.index);
    a.get("state", x.state);
  });
  r.get("replica_group", v.replica_group);
}

void read(Reader& r, Group& v) {
  r.get("id", v.id);
  r.get_objects("servers", v.servers, [](Reader& s, GroupServer& x) { read(s, x); });
  r.get_object("promoting", v.promoting, [](Reader& p, GroupPromoting& x) {
    p.get("index", x.index);
    p.get("state", x.state);
  });
  r.get("out_of_sync", v.out_of_sync);
}

void read(Reader& r, SlotMapping& v) {
  r.get("id", v.id);
  r.get("group_id", v.group_id);
  r.get_object("action", v.action, [](Reader& a, SlotMappingAction& x) {
    a.get("index", x.index);
    a.get("state", x.state);
    a.get("target_id", x.target_id);
  });
}

void read(Reader& r, Slot& v) {
  r.get("id", v.id);
  r.get("locked", v.locked);
  r.get("backend_addr", v.backend_addr);
  r.get("backend_addr_group_id", v.backend_addr_group_id);
  r.get("migrate_from", v.migrate_from);
  r.get("migrate_from_group_id", v.migrate_from_group_id);
  r.get("forward_method", v.forward_method);
  r.get("replica_groups", v.replica_groups);
}

void read(Reader& r, Sentinel& v) {
  r.get("servers", v.servers);
  r.get("out_of_sync", v.out_of_sync);
}

// ---- writers (templated so encode() can keep Codis's field order) ----

template <class J>
void write(J& j, const Topom& v) {
  j = J::object();
  j["token"] = v.token;
  j["start_time"] = v.start_time;
  j["admin_addr"] = v.admin_addr;
  j["product_name"] = v.product_name;
  j["pid"] = v.pid;
  j["pwd"] = v.pwd;
  j["sys"] = v.sys;
}

template <class J>
void write(J& j, const Proxy& v) {
  j = J::object();
  if (v.id != 0) j["id"] = v.id;
  j["token"] = v.token;
  j["start_time"] = v.start_time;
  j["admin_addr"] = v.admin_addr;
  j["proto_type"] = v.proto_type;
  j["proxy_addr"] = v.proxy_addr;
  if (!v.jodis_path.empty()) j["jodis_path"] = v.jodis_path;
  j["product_name"] = v.product_name;
  j["pid"] = v.pid;
  j["pwd"] = v.pwd;
  j["sys"] = v.sys;
  j["hostname"] = v.hostname;
  j["datacenter"] = v.datacenter;
}

template <class J>
J index_state(int index, const std::string& state) {
  J a = J::object();
  if (index != 0) a["index"] = index;
  if (!state.empty()) a["state"] = state;
  return a;
}

template <class J>
void write(J& j, const GroupServer& v) {
  j = J::object();
  j["server"] = v.server;
  j["datacenter"] = v.datacenter;
  j["action"] = index_state<J>(v.action.index, v.action.state);
  j["replica_group"] = v.replica_group;
}

template <class J>
void write(J& j, const Group& v) {
  j = J::object();
  j["id"] = v.id;
  J servers = J::array();
  for (const auto& s : v.servers) {
    J x;
    write(x, s);
    servers.push_back(std::move(x));
  }
  j["servers"] = std::move(servers);
  j["promoting"] = index_state<J>(v.promoting.index, v.promoting.state);
  j["out_of_sync"] = v.out_of_sync;
}

template <class J>
void write(J& j, const SlotMapping& v) {
  j = J::object();
  j["id"] = v.id;
  j["group_id"] = v.group_id;
  J a = index_state<J>(v.action.index, v.action.state);
  if (v.action.target_id != 0) a["target_id"] = v.action.target_id;
  j["action"] = std::move(a);
}

template <class J>
void write(J& j, const Slot& v) {
  j = J::object();
  j["id"] = v.id;
  if (v.locked) j["locked"] = true;
  if (!v.backend_addr.empty()) j["backend_addr"] = v.backend_addr;
  if (v.backend_addr_group_id != 0) j["backend_addr_group_id"] = v.backend_addr_group_id;
  if (!v.migrate_from.empty()) j["migrate_from"] = v.migrate_from;
  if (v.migrate_from_group_id != 0) j["migrate_from_group_id"] = v.migrate_from_group_id;
  if (v.forward_method != 0) j["forward_method"] = v.forward_method;
  if (!v.replica_groups.empty()) j["replica_groups"] = v.replica_groups;
}

template <class J>
void write(J& j, const Sentinel& v) {
  j = J::object();
  if (!v.servers.empty()) j["servers"] = v.servers;
  j["out_of_sync"] = v.out_of_sync;
}

template <class J, class T>
void write(J& j, const std::vector<T>& v) {
  j = J::array();
  for (const auto& item : v) {
    J x;
    write(x, item);
    j.push_back(std::move(x));
  }
}

// ---- top level ----

template <class T>
void read_root(const json& j, T& out, const char* element_word) {
  Reader r(j, "");
  read(r, out);
}

template <class T>
void read_root(const json& j, std::vector<T>& out, const char* element_word) {
  if (j.is_null()) {
    out.clear();
    return;
  }
  if (!j.is_array()) throw ModelError(std::string("type must be array, but is ") + j.type_name());
  out.clear();
  for (size_t i = 0; i < j.size(); i++) {
    T item{};
    try {
      Reader r(j[i], "");
      read(r, item);
    } catch (const ModelError& e) {
      throw ModelError(std::string(element_word) + " " + std::to_string(i) + ": " + e.what());
    }
    out.push_back(std::move(item));
  }
}

// nlohmann's messages start with "[json.exception.parse_error.101] ".
std::string strip_nlohmann_prefix(const char* what) {
  std::string s = what;
  if (!s.empty() && s[0] == '[') {
    auto end = s.find("] ");
    if (end != std::string::npos) s.erase(0, end + 2);
  }
  return s;
}

template <class T>
Result<T> parse_impl(std::string_view text, const char* element_word) {
  try {
    const json j = json::parse(text.begin(), text.end());
    T out{};
    read_root(j, out, element_word);
    return out;
  } catch (const ModelError& e) {
    return Result<T>::Error(e.what());
  } catch (const json::exception& e) {
    return Result<T>::Error("invalid JSON: " + strip_nlohmann_prefix(e.what()));
  } catch (const std::exception& e) {
    return Result<T>::Error(std::string("cannot decode JSON: ") + e.what());
  }
}

std::string join(std::string_view a, std::string_view b) {
  std::string s(a);
  s += '/';
  s += b;
  return s;
}

std::string numbered(std::string_view dir, const char* prefix, int n) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%s-%04d", prefix, n);
  return join(dir, buf);
}

}  // namespace

template <class T>
Result<T> parse_json(std::string_view text) {
  return parse_impl<T>(text, "element");
}

template <class T>
std::string encode(const T& value) {
  ordered_json j;
  write(j, value);
  return j.dump(4);
}

#define CODIS_MODEL_JSON_HOOKS(T)                                                   \
  void to_json(nlohmann::json& j, const T& v) { write(j, v); }                      \
  void from_json(const nlohmann::json& j, T& v) {                                   \
    Reader r(j, "");                                                                \
    read(r, v);                                                                     \
  }                                                                                 \
  template Result<T> parse_json<T>(std::string_view);                               \
  template Result<std::vector<T>> parse_json<std::vector<T>>(std::string_view);     \
  template std::string encode<T>(const T&);                                         \
  template std::string encode<std::vector<T>>(const std::vector<T>&);

CODIS_MODEL_JSON_HOOKS(Topom)
CODIS_MODEL_JSON_HOOKS(Proxy)
CODIS_MODEL_JSON_HOOKS(GroupServer)
CODIS_MODEL_JSON_HOOKS(Group)
CODIS_MODEL_JSON_HOOKS(SlotMapping)
CODIS_MODEL_JSON_HOOKS(Slot)
CODIS_MODEL_JSON_HOOKS(Sentinel)

#undef CODIS_MODEL_JSON_HOOKS

Status validate_slot(const Slot& s) {
  const std::string who = "slot " + std::to_string(s.id) + ": ";
  if (s.id < 0 || s.id >= kMaxSlotNum) {
    return Status::Error("slot id " + std::to_string(s.id) + " is out of range [0, " +
                         std::to_string(kMaxSlotNum) + ")");
  }
  if (s.forward_method != kForwardSync && s.forward_method != kForwardSemiAsync) {
    return Status::Error(who + "forward_method " + std::to_string(s.forward_method) +
                         " is invalid (expected 0 for sync or 1 for semi-async)");
  }
  if (s.backend_addr_group_id < 0 || s.backend_addr_group_id > kMaxGroupId) {
    return Status::Error(who + "backend_addr_group_id " + std::to_string(s.backend_addr_group_id) +
                         " is out of range [0, " + std::to_string(kMaxGroupId) + "]");
  }
  if (s.migrate_from_group_id < 0 || s.migrate_from_group_id > kMaxGroupId) {
    return Status::Error(who + "migrate_from_group_id " + std::to_string(s.migrate_from_group_id) +
                         " is out of range [0, " + std::to_string(kMaxGroupId) + "]");
  }
  return Status::Ok();
}

Result<std::vector<Slot>> parse_slots(std::string_view text) {
  auto slots = parse_impl<std::vector<Slot>>(text, "slot");
  if (!slots.ok()) return slots;
  for (size_t i = 0; i < slots->size(); i++) {
    if (auto st = validate_slot((*slots)[i]); !st.ok()) {
      return Result<std::vector<Slot>>::Error("slot " + std::to_string(i) + ": " + st.message());
    }
  }
  return slots;
}

namespace path {

std::string product_dir(std::string_view product) { return join(kCodisDir, product); }
std::string topom(std::string_view product) { return join(product_dir(product), "topom"); }
std::string proxy_dir(std::string_view product) { return join(product_dir(product), "proxy"); }
std::string proxy(std::string_view product, std::string_view token) {
  return join(proxy_dir(product), "proxy-" + std::string(token));
}
std::string group_dir(std::string_view product) { return join(product_dir(product), "group"); }
std::string group(std::string_view product, int gid) { return numbered(group_dir(product), "group", gid); }
std::string slot_dir(std::string_view product) { return join(product_dir(product), "slots"); }
std::string slot(std::string_view product, int sid) { return numbered(slot_dir(product), "slot", sid); }
std::string sentinel(std::string_view product) { return join(product_dir(product), "sentinel"); }
std::string jodis_dir(std::string_view product) { return join(kJodisDir, product); }
std::string jodis(std::string_view product, std::string_view token) {
  return join(jodis_dir(product), "proxy-" + std::string(token));
}
std::string jodis_compat(std::string_view product, std::string_view token) {
  return "/zk/codis/db_" + std::string(product) + "/proxy-" + std::string(token);
}

}  // namespace path

}  // namespace codis::models
