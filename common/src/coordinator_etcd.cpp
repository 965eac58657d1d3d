// The etcd coordinator, on etcd's v3 API through its HTTP/JSON gateway
// (POST /v3/kv/range, /v3/kv/txn, /v3/lease/*, /v3/auth/authenticate; etcd
// 3.4 and later), with our one HTTP client (codis/http_client.h). Keys and
// values travel base64-encoded in JSON; 64-bit numbers as decimal strings.
// docs/design.md §4 describes the mapping; in short:
//
// Layout. A node is the key of its path (/codis3/demo/slots/slot-0001), its
// value byte for byte. Parents are explicit, as in ZooKeeper: a write that
// creates a node also creates its missing ancestors as keys with an empty
// value, in the same transaction, so read() of a directory is "" and a
// directory whose children are all gone still exists. list(dir) ranges over
// the prefix "dir/" (keys only) and keeps the direct children; a name whose
// key is missing but that has descendants (written by a tool that does not
// create parents) is listed too.
//
// Atomicity. create, create_ephemeral, update and remove are one transaction
// each: create compares the key's create_revision with 0 (absent), update
// puts with ignore_lease when the key exists (an ephemeral node stays bound to
// its lease) and creates it otherwise, remove compares the create_revision of
// the whole range "path/" with 0 (no children). Ancestors are created by
// nested transactions (put "" if absent), and a node is never created under
// an ephemeral one (its ancestors' lease must be 0). update_many writes up to
// etcd's 128 operations per transaction.
//
// Ephemeral nodes are keys bound to this client's lease (TTL = the timeout,
// at least 2 s), granted on the first create_ephemeral and kept alive every
// TTL/3 by our "keeper" thread. When etcd says the lease is gone (it expired
// while we could not reach etcd, or someone revoked it), a new lease is
// granted and this client's ephemeral nodes are re-created on it, retried
// until they are; a path taken by another client meanwhile is given up and
// logged (the dashboard's lock: another dashboard holds it now). The
// destructor revokes the lease: the nodes go at once.
//
// Watches follow etcd's watch stream (POST /v3/watch: a chunked reply of
// JSON objects, one per line), one stream per client over every key, open
// while the client has watches (proxies have none); our "watcher" thread
// reads it (http::stream) and calls the watches each event concerns. After
// the stream broke (etcd unreachable, a member gone), it is opened again
// from the revision after the last event heard, and every watch is called
// once, as ZooKeeper's are after a reconnect. Callbacks run on the watcher
// thread, one at a time.
//
// Endpoints: coordinator_addr is a comma-separated list (host:port, or
// http:// / https:// URLs); a request goes to the endpoint that answered
// last, then to each other one once. Authentication (coordinator_auth =
// "user:password"): a token from /v3/auth/authenticate in the Authorization
// header, fetched again when etcd says it is invalid (tokens expire). The
// password is never logged. TLS when a CA file is given (CoordinatorOptions).
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "codis/http_client.h"
#include "coordinator_internal.h"

namespace codis::detail {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// etcd refuses requests over --max-request-bytes (1.5 MiB by default).
constexpr size_t kMaxValueSize = 1536 * 1024 - 8192;
// etcd refuses transactions of more than --max-txn-ops (128 by default) operations per level.
constexpr size_t kMaxTxnOps = 120;
constexpr size_t kMaxTxnBytes = 1024 * 1024;

// gRPC status codes in the gateway's error replies.
constexpr int kUnavailable = 14;
constexpr int kUnauthenticated = 16;

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string b64(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kB64[(v >> s) & 63];
  }
  if (size_t rest = in.size() - i; rest > 0) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16 | (rest == 2 ? uint32_t(uint8_t(in[i + 1])) << 8 : 0);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += rest == 2 ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> unb64(std::string_view in) {
  std::string out;
  out.reserve(in.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const char* p = std::strchr(kB64, c);
    if (!p || c == '\0') return std::nullopt;
    acc = (acc << 6) | uint32_t(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((acc >> bits) & 0xff);
    }
  }
  return out;
}

// int64 fields come as strings ("123"); absent means 0.
int64_t num(const json& obj, const char* key) {
  if (!obj.is_object()) return 0;
  auto it = obj.find(key);
  if (it == obj.end()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    try {
      return std::stoll(it->get<std::string>());
    } catch (...) {
      return 0;
    }
  }
  return 0;
}

bool flag(const json& obj, const char* key) {
  return obj.is_object() && obj.contains(key) && obj[key].is_boolean() && obj[key].get<bool>();
}

const json& field(const json& obj, const char* key) {
  static const json null;
  if (!obj.is_object()) return null;
  auto it = obj.find(key);
  return it == obj.end() ? null : *it;
}

// The end of the range of keys starting with `prefix` (which ends in '/').
std::string prefix_end(std::string prefix) {
  prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

std::string children_prefix(const std::string& dir) { return dir == "/" ? dir : dir + "/"; }

json put_op(const std::string& key, const std::string& value, int64_t lease = 0, bool ignore_lease = false) {
  json put = {{"key", b64(key)}, {"value", b64(value)}};
  if (lease != 0) put["lease"] = std::to_string(lease);
  if (ignore_lease) put["ignore_lease"] = true;
  return {{"request_put", std::move(put)}};
}

json range_op(const std::string& key) { return {{"request_range", {{"key", b64(key)}}}}; }

json absent(const std::string& key) {
  return {{"key", b64(key)}, {"target", "CREATE"}, {"result", "EQUAL"}, {"create_revision", "0"}};
}

json exists(const std::string& key) {
  return {{"key", b64(key)}, {"target", "CREATE"}, {"result", "GREATER"}, {"create_revision", "0"}};
}

json not_ephemeral(const std::string& key) {
  return {{"key", b64(key)}, {"target", "LEASE"}, {"result", "EQUAL"}, {"lease", "0"}};
}

// A nested transaction that creates `dir` (empty) if it is absent.
json ensure_dir_op(const std::string& dir) {
  return {{"request_txn", {{"compare", json::array({absent(dir)})}, {"success", json::array({put_op(dir, "")})}}}};
}

// A nested transaction that puts `path` and creates its missing ancestors,
// unless one of them is ephemeral (then it does nothing: not succeeded).
json create_op(const std::string& path, const std::string& data, int64_t lease) {
  json compares = json::array(), success = json::array();
  for (const auto& dir : ancestors(path)) {
    compares.push_back(not_ephemeral(dir));
    success.push_back(ensure_dir_op(dir));
  }
  success.push_back(put_op(path, data, lease));
  return {{"request_txn", {{"compare", std::move(compares)}, {"success", std::move(success)}}}};
}

// responses[i].response_<kind> of a transaction's reply.
const json& response(const json& txn, size_t i, const char* kind) {
  const json& rs = field(txn, "responses");
  static const json null;
  if (!rs.is_array() || i >= rs.size()) return null;
  return field(rs[i], kind);
}

class EtcdCoordinator final : public Coordinator {
 public:
  EtcdCoordinator(std::string addr, std::vector<std::string> endpoints, const CoordinatorOptions& options,
                  std::shared_ptr<const http::ClientTls> tls)
      : addr_(std::move(addr)),
        endpoints_(std::move(endpoints)),
        user_(options.auth.substr(0, options.auth.find(':'))),
        password_(options.auth.empty() ? std::string() : options.auth.substr(options.auth.find(':') + 1)),
        tls_(std::move(tls)),
        timeout_(options.timeout),
        request_timeout_(std::clamp<std::chrono::milliseconds>(options.timeout, 500ms, 5s)),
        ttl_seconds_(std::max<int64_t>(2, (options.timeout.count() + 999) / 1000)),
        poll_interval_(std::max(options.poll_interval, std::chrono::milliseconds(10))),
        watches_(std::make_shared<WatchRegistry>()) {}

  ~EtcdCoordinator() override {
    {
      std::lock_guard lock(stop_mu_);
      stop_ = true;
    }
    stop_flag_ = true;
    watch_cancel_ = true;
    stop_cv_.notify_all();
    if (keeper_.joinable()) keeper_.join();
    if (watcher_.joinable()) watcher_.join();
    // Ends the "session": revoking the lease deletes our ephemeral nodes now,
    // rather than when the lease expires.
    std::lock_guard lock(lease_mu_);
    if (lease_id_ != 0) {
      auto r = call("lease/revoke", {{"ID", std::to_string(lease_id_)}}, std::min(request_timeout_, 2000ms));
      if (!r) {
        spdlog::warn("etcd {}: cannot revoke lease {:x} (its nodes go when it expires): {}", addr_, lease_id_,
                     r.message());
      }
    }
  }

  Status start() {
    if (user_.empty()) {
      spdlog::warn("etcd {}: no coordinator_auth (a proxy: --etcd-auth): unless etcd restricts access otherwise, "
                   "anyone who can reach it can read and change the cluster's topology",
                   addr_);
    }
    const auto deadline = Clock::now() + timeout_;
    std::string last;
    for (;;) {
      if (!user_.empty()) {
        bool refused = false;
        if (auto st = authenticate("", &refused); !st.ok()) {
          if (refused) return st;
          last = st.message();
        }
      }
      if (last.empty()) {
        // Any answer will do (a refusal is the operations' to report).
        auto rev = store_revision();
        if (rev || rev.message().rfind("not connected", 0) != 0) break;
        last = rev.message();
      }
      if (Clock::now() + 200ms >= deadline) {
        return Status::Error("etcd " + addr_ + ": no endpoint answered within " + std::to_string(timeout_.count()) +
                             " ms: is etcd running and reachable at " + addr_ + "? (" + last + ")");
      }
      std::this_thread::sleep_for(200ms);
      last.clear();
    }
    spdlog::info("etcd {}: connected (endpoint {})", addr_, endpoints_[current_.load()]);
    keeper_ = std::thread([this] { keep_lease(); });
    watcher_ = std::thread([this] { stream_watches(); });
    return Status::Ok();
  }

  Status create(const std::string& path, const std::string& data) override {
    if (auto s = check(path, data, "create"); !s) return s;
    auto r = create_node(path, data, 0);
    if (!r) return error("create", path, r.message());
    if (*r == Created::kExists || *r == Created::kOwned) return error("create", path, "node already exists");
    if (*r == Created::kUnderEphemeral) return error("create", path, "a parent is an ephemeral node");
    return Status::Ok();
  }

  Status create_ephemeral(const std::string& path, const std::string& data) override {
    if (auto s = check(path, data, "create ephemeral"); !s) return s;
    for (int attempt = 0;; ++attempt) {
      auto lease = current_lease();
      if (!lease) return error("create ephemeral", path, lease.message());
      auto r = create_node(path, data, *lease);
      if (!r) {
        // The lease expired between grant and use: a new one, once.
        if (attempt == 0 && r.message().find("lease not found") != std::string::npos) {
          drop_lease(*lease);
          continue;
        }
        return error("create ephemeral", path, r.message());
      }
      if (*r == Created::kExists) return error("create ephemeral", path, "node already exists");
      if (*r == Created::kUnderEphemeral) return error("create ephemeral", path, "a parent is an ephemeral node");
      if (*r == Created::kOwned) {  // a retry after a lost reply finds its own node: that is success
        auto u = call("kv/put", put_op(path, data, 0, true)["request_put"]);
        if (!u) return error("create ephemeral", path, u.message());
      }
      std::lock_guard lock(eph_mu_);
      ephemerals_[path] = data;
      return Status::Ok();
    }
  }

  Status update(const std::string& path, const std::string& data) override {
    if (auto s = check(path, data, "update"); !s) return s;
    json txn = {{"compare", json::array({exists(path)})},
                {"success", json::array({put_op(path, data, 0, true)})},
                {"failure", json::array({create_op(path, data, 0)})}};
    auto r = call("kv/txn", txn);
    if (!r) return error("update", path, r.message());
    if (!flag(*r, "succeeded") && !flag(response(*r, 0, "response_txn"), "succeeded")) {
      return error("update", path, "a parent is an ephemeral node");
    }
    std::lock_guard lock(eph_mu_);
    if (auto it = ephemerals_.find(path); it != ephemerals_.end()) it->second = data;
    return Status::Ok();
  }

  Status update_many(const std::vector<std::pair<std::string, std::string>>& nodes) override {
    for (const auto& [path, data] : nodes) {
      if (auto s = check(path, data, "update"); !s) return s;
    }
    size_t beg = 0;
    while (beg < nodes.size()) {
      // One transaction: as many nodes as fit, each path once.
      std::set<std::string> paths, dirs;
      size_t end = beg, bytes = 0;
      while (end < nodes.size() && !paths.count(nodes[end].first)) {
        auto up = ancestors(nodes[end].first);
        std::set<std::string> more_dirs = dirs;
        more_dirs.insert(up.begin(), up.end());
        bytes += 2 * (nodes[end].first.size() + nodes[end].second.size()) + 200;
        if (end > beg && (more_dirs.size() + paths.size() + 1 > kMaxTxnOps || bytes > kMaxTxnBytes)) break;
        dirs = std::move(more_dirs);
        paths.insert(nodes[end].first);
        ++end;
      }
      json compares = json::array(), success = json::array();
      for (const auto& dir : dirs) {
        compares.push_back(not_ephemeral(dir));
        // A directory that is also one of the nodes is created by the node's own put.
        if (!paths.count(dir)) success.push_back(ensure_dir_op(dir));
      }
      for (size_t i = beg; i < end; ++i) {
        const auto& [path, data] = nodes[i];
        success.push_back({{"request_txn",
                            {{"compare", json::array({exists(path)})},
                             {"success", json::array({put_op(path, data, 0, true)})},
                             {"failure", json::array({put_op(path, data)})}}}});
      }
      auto r = call("kv/txn", {{"compare", std::move(compares)}, {"success", std::move(success)}});
      if (!r) return error("update", nodes[beg].first, r.message());
      if (!flag(*r, "succeeded")) {
        // Under an ephemeral node: one by one, which says which one failed.
        for (size_t i = beg; i < end; ++i) {
          if (auto st = update(nodes[i].first, nodes[i].second); !st.ok()) return st;
        }
      }
      std::lock_guard lock(eph_mu_);
      for (size_t i = beg; i < end; ++i) {
        if (auto it = ephemerals_.find(nodes[i].first); it != ephemerals_.end()) it->second = nodes[i].second;
      }
      beg = end;
    }
    return Status::Ok();
  }

  Status remove(const std::string& path) override {
    if (auto s = check_path(path, false); !s) return s;
    const std::string kids = path + "/";
    json no_children = absent(kids);
    no_children["range_end"] = b64(prefix_end(kids));
    json txn = {{"compare", json::array({no_children})},
                {"success", json::array({{{"request_delete_range", {{"key", b64(path)}}}}})}};
    auto r = call("kv/txn", txn);
    if (!r) return error("remove", path, r.message());
    if (!flag(*r, "succeeded")) return error("remove", path, "node has children");
    std::lock_guard lock(eph_mu_);
    ephemerals_.erase(path);
    return Status::Ok();
  }

  // One transaction: delete the key only if its value is still `expected` and it has no children.
  Result<bool> remove_if_unchanged(const std::string& path, const std::string& expected) override {
    if (auto s = check_path(path, false); !s) return s;
    const std::string kids = path + "/";
    json no_children = absent(kids);
    no_children["range_end"] = b64(prefix_end(kids));
    json same = {{"key", b64(path)}, {"target", "VALUE"}, {"result", "EQUAL"}, {"value", b64(expected)}};
    json txn = {{"compare", json::array({exists(path), same, no_children})},
                {"success", json::array({{{"request_delete_range", {{"key", b64(path)}}}}})}};
    auto r = call("kv/txn", txn);
    if (!r) return error("remove if unchanged", path, r.message());
    if (!flag(*r, "succeeded")) {
      auto children = list(path);  // why it failed: children are an error, as for remove()
      if (children && !children->empty()) return error("remove if unchanged", path, "node has children");
      return false;
    }
    std::lock_guard lock(eph_mu_);
    ephemerals_.erase(path);
    return true;
  }

  Result<std::optional<std::string>> read(const std::string& path) override {
    if (auto s = check_path(path, false); !s) return s;
    auto r = call("kv/range", {{"key", b64(path)}});
    if (!r) return error("read", path, r.message());
    const json& kvs = field(*r, "kvs");
    if (!kvs.is_array() || kvs.empty()) return std::optional<std::string>();
    const json& value = field(kvs[0], "value");
    if (value.is_null()) return std::optional<std::string>(std::string());
    auto data = value.is_string() ? unb64(value.get<std::string>()) : std::nullopt;
    if (!data) return error("read", path, "etcd sent a value that is not base64");
    return std::optional<std::string>(std::move(*data));
  }

  // The direct children: the keys under "dir/", cut at their next '/'.
  Result<std::vector<std::string>> list(const std::string& dir) override {
    if (auto s = check_path(dir, true); !s) return s;
    const std::string prefix = children_prefix(dir);
    auto r = call("kv/range", {{"key", b64(prefix)}, {"range_end", b64(prefix_end(prefix))}, {"keys_only", true}});
    if (!r) return error("list", dir, r.message());
    std::set<std::string> names;
    const json& kvs = field(*r, "kvs");
    for (const auto& kv : kvs.is_array() ? kvs : json::array()) {
      auto key = field(kv, "key").is_string() ? unb64(kv["key"].get<std::string>()) : std::nullopt;
      if (!key || key->size() <= prefix.size()) continue;
      names.insert(key->substr(prefix.size(), key->find('/', prefix.size()) - prefix.size()));
    }
    return std::vector<std::string>(names.begin(), names.end());
  }

  Result<std::unique_ptr<WatchHandle>> watch_children(const std::string& dir, std::function<void()> fn) override {
    if (auto s = check_path(dir, true); !s) return s;
    return add_watch(WatchKind::kChildren, dir, std::move(fn));
  }

  Result<std::unique_ptr<WatchHandle>> watch_data(const std::string& path, std::function<void()> fn) override {
    if (auto s = check_path(path, false); !s) return s;
    return add_watch(WatchKind::kData, path, std::move(fn));
  }

  std::string describe() const override { return "etcd " + addr_; }

 private:
  enum class Created { kDone, kExists, kOwned, kUnderEphemeral };

  // ---- requests

  // One gateway call: the endpoint that answered last, then each other one.
  // An endpoint that cannot be reached, or whose member has no leader, is
  // skipped; any other error is etcd's answer. An invalid token (expired) is
  // replaced once.
  Result<json> call(const std::string& api, const json& body, std::chrono::milliseconds timeout = {}) {
    const std::string text = body.dump();
    const size_t n = endpoints_.size();
    const size_t first = current_.load();
    std::string last;
    bool reauthenticated = false;
    for (size_t i = 0; i < n;) {
      const size_t idx = (first + i) % n;
      const std::string& ep = endpoints_[idx];
      http::ClientOptions o;
      o.timeout = timeout.count() > 0 ? timeout : request_timeout_;
      o.tls = tls_;
      o.user_agent = "codis-etcd";
      const std::string token_sent = token();
      o.authorization = token_sent;
      auto r = http::request(ep, "POST", "/v3/" + api, text, o);
      if (!r) {
        last = r.message();
        ++i;
        continue;
      }
      json reply = json::parse(r->body, nullptr, false);
      // A streaming call (lease/keepalive) reports errors inside a 200 reply.
      const json& stream_error = field(reply, "error");
      if (r->status == 200 && reply.is_object() && !stream_error.is_string() && !stream_error.is_object()) {
        if (idx != first && current_.exchange(idx) != idx) {
          spdlog::warn("etcd {}: now using endpoint {} ({})", addr_, ep, last);
        }
        return reply;
      }
      const json& detail = stream_error.is_object() ? stream_error : reply;
      const int code = static_cast<int>(num(detail, detail.contains("grpc_code") ? "grpc_code" : "code"));
      std::string msg = field(detail, "message").is_string() ? detail["message"].get<std::string>() : std::string();
      if (msg.empty() && field(reply, "error").is_string()) msg = reply["error"].get<std::string>();
      if (msg.empty()) msg = "HTTP " + std::to_string(r->status) + ": " + r->body.substr(0, 200);
      if (code == kUnauthenticated && !user_.empty() && !reauthenticated && api != "auth/authenticate") {
        reauthenticated = true;
        spdlog::info("etcd {}: the auth token is no longer valid (expired): authenticating again", addr_);
        bool refused = false;
        if (auto st = authenticate(token_sent, &refused); !st.ok()) return st;
        continue;  // the same endpoint, with the new token
      }
      if (code == kUnavailable) {
        last = ep + ": " + msg;
        ++i;
        continue;
      }
      return Result<json>::Error(msg);
    }
    watch_cancel_ = true;  // the watch stream too is probably broken: open it again
    return Result<json>::Error("not connected: no endpoint answered (" + last + "); retry later");
  }

  std::string token() {
    std::lock_guard lock(token_mu_);
    return token_;
  }

  // Gets a new token unless another thread did since `stale` was sent.
  // *refused: etcd answered, and said no (wrong credentials).
  Status authenticate(const std::string& stale, bool* refused) {
    std::lock_guard lock(auth_mu_);
    if (!stale.empty() && token() != stale) return Status::Ok();
    {
      std::lock_guard t(token_mu_);
      token_.clear();
    }
    auto r = call("auth/authenticate", {{"name", user_}, {"password", password_}});
    if (!r) {
      if (r.message().find("authentication is not enabled") != std::string::npos) {
        if (!auth_disabled_warned_.exchange(true)) {
          spdlog::warn("etcd {}: coordinator_auth is set but authentication is not enabled in etcd: "
                       "going on without it",
                       addr_);
        }
        return Status::Ok();
      }
      *refused = r.message().rfind("not connected", 0) != 0;
      return Status::Error("etcd " + addr_ + ": authentication as user '" + user_ + "' failed: " + r.message());
    }
    const json& t = field(*r, "token");
    if (!t.is_string() || t.get<std::string>().empty()) {
      *refused = true;
      return Status::Error("etcd " + addr_ + ": authentication as user '" + user_ + "' returned no token");
    }
    std::lock_guard tl(token_mu_);
    token_ = t.get<std::string>();
    return Status::Ok();
  }

  // The store's current revision (one cheap request): where a watch stream starts.
  Result<int64_t> store_revision() {
    auto r = call("kv/range", {{"key", b64("/")}, {"count_only", true}});
    if (!r) return r.status();
    return num(field(*r, "header"), "revision");
  }



  // Creates `path` if it is absent (with its missing ancestors), bound to
  // `lease` (0: none), in one transaction.
  Result<Created> create_node(const std::string& path, const std::string& data, int64_t lease) {
    json txn = {{"compare", json::array({absent(path)})},
                {"success", json::array({create_op(path, data, lease)})},
                {"failure", json::array({range_op(path)})}};
    auto r = call("kv/txn", txn);
    if (!r) return r.status();
    if (flag(*r, "succeeded")) {
      return flag(response(*r, 0, "response_txn"), "succeeded") ? Created::kDone : Created::kUnderEphemeral;
    }
    const json& kvs = field(response(*r, 0, "response_range"), "kvs");
    const bool ours = lease != 0 && kvs.is_array() && !kvs.empty() && num(kvs[0], "lease") == lease;
    return ours ? Created::kOwned : Created::kExists;
  }

  // ---- the lease of our ephemeral nodes

  Result<int64_t> current_lease() {
    std::lock_guard lock(lease_mu_);
    if (lease_id_ != 0) return lease_id_;
    auto r = call("lease/grant", {{"TTL", std::to_string(ttl_seconds_)}});
    if (!r) return Result<int64_t>::Error("cannot get a lease: " + r.message());
    const int64_t id = num(*r, "ID");
    if (id == 0) return Result<int64_t>::Error("cannot get a lease: " + field(*r, "error").dump());
    lease_id_ = id;
    next_keepalive_ = Clock::now() + keepalive_period();
    spdlog::info("etcd {}: lease {:x} granted (TTL {} s) for this client's ephemeral nodes", addr_, id, ttl_seconds_);
    return id;
  }

  // Forgets a lease etcd no longer knows: our other ephemeral nodes went with it.
  void drop_lease(int64_t id) {
    std::lock_guard lock(lease_mu_);
    if (lease_id_ != id) return;
    lease_id_ = 0;
    ephemerals_dirty_ = true;
  }

  std::chrono::milliseconds keepalive_period() const { return std::chrono::milliseconds(ttl_seconds_ * 1000 / 3); }

  bool wait_stop(std::chrono::milliseconds d) {
    std::unique_lock lock(stop_mu_);
    return stop_cv_.wait_for(lock, d, [this] { return stop_; });
  }

  // The keeper thread: keeps the lease alive every TTL/3; replaces a lost
  // lease and re-creates this client's ephemeral nodes on the new one.
  void keep_lease() {
    bool failing = false;
    while (!wait_stop(100ms)) {
      int64_t id = 0;
      bool due = false;
      {
        std::lock_guard lock(lease_mu_);
        id = lease_id_;
        due = id != 0 && Clock::now() >= next_keepalive_;
      }
      if (due) {
        auto r = call("lease/keepalive", {{"ID", std::to_string(id)}}, keepalive_period());
        std::lock_guard lock(lease_mu_);
        if (!r) {
          if (!failing) spdlog::warn("etcd {}: cannot keep lease {:x} alive: {} (retrying)", addr_, id, r.message());
          failing = true;
          next_keepalive_ = Clock::now() + 500ms;
        } else if (num(field(*r, "result"), "TTL") > 0) {
          if (failing) spdlog::info("etcd {}: lease {:x} kept alive again", addr_, id);
          failing = false;
          next_keepalive_ = Clock::now() + keepalive_period();
        } else if (lease_id_ == id) {
          spdlog::warn("etcd {}: lease {:x} expired (or was revoked): granting a new one, re-creating "
                       "ephemeral nodes",
                       addr_, id);
          failing = false;
          lease_id_ = 0;
          ephemerals_dirty_ = true;
        }
      }
      if (ephemerals_dirty_ && Clock::now() >= next_recreate_) recreate_ephemerals();
    }
  }

  // Re-creates this client's ephemeral nodes on a new lease. A path taken by
  // another client meanwhile is given up (and logged).
  void recreate_ephemerals() {
    std::map<std::string, std::string> todo;
    {
      std::lock_guard lock(eph_mu_);
      todo = ephemerals_;
    }
    ephemerals_dirty_ = false;
    if (todo.empty()) return;
    auto retry = [&](const std::string& why) {
      spdlog::warn("etcd {}: cannot re-create ephemeral nodes: {} (will retry)", addr_, why);
      ephemerals_dirty_ = true;
      next_recreate_ = Clock::now() + 1s;
    };
    auto lease = current_lease();
    if (!lease) return retry(lease.message());
    for (const auto& [path, data] : todo) {
      auto r = create_node(path, data, *lease);
      if (!r) {
        if (r.message().find("lease not found") != std::string::npos) drop_lease(*lease);
        return retry(path + ": " + r.message());
      }
      if (*r == Created::kDone || *r == Created::kOwned) {
        spdlog::info("etcd {}: ephemeral node {} re-created", addr_, path);
      } else {
        spdlog::warn("etcd {}: ephemeral node {} was taken by another client (or sits under an ephemeral "
                     "node); not re-created",
                     addr_, path);
        std::lock_guard lock(eph_mu_);
        ephemerals_.erase(path);
      }
    }
  }

  // ---- watches (etcd's watch stream; see the top of this file)

  Result<std::unique_ptr<WatchHandle>> add_watch(WatchKind kind, const std::string& path, std::function<void()> fn) {
    if (!streaming_.load()) {
      // No stream is open (no watch yet, or none for a while): it opens from
      // the revision after this one, so no change after now is missed.
      auto rev = store_revision();
      if (rev) {
        idle_start_ = *rev + 1;
      } else {
        fire_on_open_ = true;  // etcd unreachable: called once the stream opens
      }
    }
    return watches_->add(watches_->make(kind, path, std::move(fn)));
  }

  // The watcher thread: one watch stream over every key ("/" up to "0"),
  // from the revision after the last event heard (at first, the one after
  // the revision start() saw, so no change after start() is missed). Each
  // event calls the watches it concerns: a data watch on its key, a
  // children watch on its parent when the key was created or deleted. A
  // broken stream (etcd unreachable, a member gone, a call of another thread
  // that found etcd unreachable, nothing heard for 10 minutes) is opened
  // again, on the next endpoint when it could not connect, from where it
  // stopped; once it is open again every watch is called (as after a
  // ZooKeeper reconnect). A revision etcd has compacted away restarts it from
  // now, with every watch called.
  void stream_watches() {
    size_t endpoint = current_.load();
    bool broken = false, logged = false;
    int64_t next_revision = 0;  // 0: from now
    while (!stop_flag_.load()) {
      if (watches_->all().empty()) {  // no stream without watches (a proxy has none)
        streaming_ = false;
        next_revision = 0;
        wait_stop(poll_interval_);
        continue;
      }
      if (!streaming_.exchange(true)) {
        next_revision = idle_start_.exchange(0);
        broken = broken || fire_on_open_.exchange(false);
      }
      // A call found etcd unreachable (or we are stopping): changes may have
      // been missed, whether or not a stream was open then.
      if (watch_cancel_.exchange(false)) broken = true;
      if (stop_flag_.load()) break;  // (set before watch_cancel_: see the destructor)
      std::string pending, failure;
      bool opened = false;
      auto on_line = [&](const std::string& line) {
        json msg = json::parse(line, nullptr, false);
        const json& error = field(msg, "error");
        if (!error.is_null()) {
          failure = error.is_object() ? error.value("message", error.dump()) : error.dump();
          return false;
        }
        const json& res = field(msg, "result");
        if (flag(res, "canceled")) {
          failure = "watch canceled: " + field(res, "cancel_reason").dump();
          if (const int64_t compacted = num(res, "compact_revision"); compacted > 0) {
            spdlog::warn("etcd {}: watch fell behind a compaction (revision {}): calling every watch", addr_,
                         compacted);
            next_revision = 0;
            fire_all();
            failure.clear();
          }
          return false;
        }
        if (flag(res, "created") && !opened) {
          opened = true;
          if (const int64_t now = num(field(res, "header"), "revision"); next_revision > now + 1) {
            // Behind what we heard already: a store restored or wiped. From now.
            spdlog::warn("etcd {}: the store went back to revision {} (restored or wiped?): calling every watch",
                         addr_, now);
            next_revision = 0;
            fire_all();
            return false;
          }
          if (broken) {
            spdlog::info("etcd {}: watch stream open again ({}): calling every watch", addr_, endpoints_[endpoint]);
            fire_all();
          }
          broken = logged = false;
        }
        std::set<std::shared_ptr<WatchEntry>> due;
        const json& events = field(res, "events");
        for (const auto& ev : events.is_array() ? events : json::array()) {
          const json& kv = field(ev, "kv");
          auto key = field(kv, "key").is_string() ? unb64(kv["key"].get<std::string>()) : std::nullopt;
          if (!key) continue;
          next_revision = std::max(next_revision, num(kv, "mod_revision") + 1);
          const bool membership = field(ev, "type") == "DELETE" || num(kv, "version") == 1;
          const std::string parent = key->rfind('/') == 0 ? "/" : key->substr(0, key->rfind('/'));
          for (const auto& e : watches_->all()) {
            if (e->kind == WatchKind::kData ? e->path == *key : membership && e->path == parent) due.insert(e);
          }
        }
        for (const auto& e : due) WatchRegistry::fire(*e);
        return !watches_->all().empty();  // the last watch gone: close the stream
      };
      json create = {{"key", b64("/")}, {"range_end", b64("0")}};
      if (next_revision > 0) create["start_revision"] = std::to_string(next_revision);
      http::ClientOptions o;
      o.timeout = request_timeout_;
      o.tls = tls_;
      o.user_agent = "codis-etcd";
      const std::string token_sent = token();
      o.authorization = token_sent;
      auto r = http::stream(endpoints_[endpoint], "POST", "/v3/watch", json{{"create_request", create}}.dump(), o,
                            10min,
                            [&](std::string_view piece) {
                              pending.append(piece);
                              for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
                                const std::string line = pending.substr(0, nl);
                                pending.erase(0, nl + 1);
                                if (!line.empty() && !on_line(line)) return false;
                              }
                              return true;
                            },
                            watch_cancel_);
      if (stop_flag_.load()) break;
      if (watches_->all().empty() && failure.empty()) continue;  // closed on purpose
      if (!r) {
        failure = r.message();
        if (!opened) endpoint = (endpoint + 1) % endpoints_.size();  // could not connect there: the next one
      } else if (r->status != 200 && failure.empty()) {
        failure = "HTTP " + std::to_string(r->status) + ": " + pending.substr(0, 200);
      }
      if (failure.find("auth token") != std::string::npos && !user_.empty()) {
        bool refused = false;
        (void)authenticate(token_sent, &refused);
      }
      if (!failure.empty() && !logged) {
        spdlog::warn("etcd {}: watch stream broke ({}); opening it again", addr_, failure);
        logged = true;
      }
      broken = true;
      wait_stop(failure.empty() ? 10ms : poll_interval_);
    }
  }

  void fire_all() {
    for (const auto& e : watches_->all()) WatchRegistry::fire(*e);
  }

  // ---- helpers

  Status check(const std::string& path, const std::string& data, std::string_view op) const {
    if (auto s = check_path(path, false); !s) return s;
    if (data.size() > kMaxValueSize) {
      return error(op, path,
                   "value of " + std::to_string(data.size()) + " bytes is over etcd's request limit (1.5 MiB)");
    }
    return Status::Ok();
  }

  Status error(std::string_view op, const std::string& path, const std::string& cause) const {
    return Status::Error("etcd " + addr_ + ": " + std::string(op) + " " + path + ": " + cause);
  }

  const std::string addr_;
  const std::vector<std::string> endpoints_;
  const std::string user_;
  const std::string password_;  // never logged
  const std::shared_ptr<const http::ClientTls> tls_;
  const std::chrono::milliseconds timeout_, request_timeout_;
  const int64_t ttl_seconds_;
  const std::chrono::milliseconds poll_interval_;
  std::atomic<size_t> current_{0};  // the endpoint that answered last

  std::mutex auth_mu_;  // one authentication at a time
  std::mutex token_mu_;
  std::string token_;  // guarded by token_mu_
  std::atomic<bool> auth_disabled_warned_{false};

  std::mutex lease_mu_;
  int64_t lease_id_ = 0;             // guarded by lease_mu_; 0: none yet
  Clock::time_point next_keepalive_;  // guarded by lease_mu_
  std::atomic<bool> ephemerals_dirty_{false};  // set by any thread (drop_lease), handled by the keeper
  Clock::time_point next_recreate_;             // keeper thread only

  std::mutex eph_mu_;
  std::map<std::string, std::string> ephemerals_;  // this client's ephemeral nodes -> data

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  // The watch stream (stream_watches): stop_flag_ mirrors stop_; watch_cancel_
  // (set with stop_flag_, and by a call that found etcd unreachable) ends the
  // open stream; streaming_ says whether one is open or being opened;
  // idle_start_ and fire_on_open_ are what add_watch leaves for the next one.
  std::atomic<bool> stop_flag_{false}, watch_cancel_{false}, streaming_{false}, fire_on_open_{false};
  std::atomic<int64_t> idle_start_{0};
  std::thread keeper_, watcher_;

  std::shared_ptr<WatchRegistry> watches_;
};

}  // namespace

Result<std::unique_ptr<Coordinator>> connect_etcd_coordinator(const std::string& addr,
                                                              const CoordinatorOptions& options) {
  using R = Result<std::unique_ptr<Coordinator>>;
  if (addr.empty()) return R::Error("etcd: no address given (host:port[,host:port...])");
  if (!options.auth.empty()) {
    auto colon = options.auth.find(':');
    if (colon == std::string::npos || colon == 0) {
      return R::Error("etcd " + addr + ": invalid auth: expected \"user:password\"");
    }
  }
  std::vector<std::string> endpoints;
  bool https = false;
  for (size_t beg = 0; beg <= addr.size();) {
    size_t end = addr.find(',', beg);
    if (end == std::string::npos) end = addr.size();
    std::string ep = addr.substr(beg, end - beg);
    beg = end + 1;
    ep.erase(0, ep.find_first_not_of(" \t"));
    ep.erase(ep.find_last_not_of(" \t") + 1);
    if (ep.empty()) continue;
    for (std::string_view scheme : {"http://", "https://"}) {
      if (ep.rfind(scheme, 0) == 0) {
        https = https || scheme == "https://";
        ep.erase(0, scheme.size());
      }
    }
    if (!ep.empty() && ep.back() == '/') ep.pop_back();
    if (ep.find('/') != std::string::npos) {
      return R::Error("etcd " + addr + ": bad endpoint \"" + ep + "\" (expected host:port)");
    }
    endpoints.push_back(ep);
  }
  if (endpoints.empty()) return R::Error("etcd: no address given (host:port[,host:port...])");
  std::shared_ptr<const http::ClientTls> tls;
  if (!options.tls_ca_file.empty()) {
    auto t = http::load_client_tls(options.tls_ca_file, options.tls_cert_file, options.tls_key_file,
                                   "coordinator_tls_ca_file / _cert_file / _key_file");
    if (!t) return R::Error("etcd " + addr + ": " + t.message());
    tls = std::move(t.value());
  } else if (https || !options.tls_cert_file.empty()) {
    return R::Error("etcd " + addr + ": TLS needs the CA of etcd's certificates (coordinator_tls_ca_file)");
  }
  auto c = std::make_unique<EtcdCoordinator>(addr, std::move(endpoints), options, std::move(tls));
  if (auto s = c->start(); !s) return s;
  return std::unique_ptr<Coordinator>(std::move(c));
}

}  // namespace codis::detail
