// Slot migration: Codis's slot actions (pkg/topom/topom_slots.go,
// topom_action.go), re-written for this dashboard. Protocol and safety argument: docs/design.md §7.
//
// An action lives in the slot's coordinator node ({index, state, target_id}).
// The executor thread starts one worker per action, up to
// migration_parallel_slots, lowest index first (actions already past pending
// before pending ones, so a restarted dashboard resumes what was in flight).
// A worker drives its slot:
//
//   pending -> preparing -> prepared -> migrating -> finished -> cleared
//
// Each transition is stored in the coordinator first, then pushed (fillslots
// of that one slot) to every proxy registered in the coordinator; the next
// step starts only when every proxy has ACKed. A failed push stores and
// pushes the previous state again (roll back) and the error is reported in
// the progress status; the worker retries after a back-off. Rolling back is
// safe at every step: before `migrating` is acknowledged no key has moved;
// after it, every state involved routes to the target (the source's wrapper
// answers "not here" for moved keys).
//
// In `migrating` the worker loops SLOTSMGRTTAGSLOT-ASYNC (or SLOTSMGRTTAGSLOT
// for migration_method = "sync") on the source master for every db that has
// keys in the slot, until SLOTSINFO says the slot is empty in all of them.
// Several slots of the same (source, target) pair may be in flight: each
// slot's keys move only by its own migrate commands and by proxies routing
// that slot, so slots are independent; the module runs one async batch per
// db at a time, so commands to one source are serialized by a per-source
// mutex (they interleave between slots, batch by batch).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

#include "clients.h"
#include "codis/coordinator_models.h"
#include "codis/host_port.h"
#include "codis/routing.h"
#include "slot_action.h"
#include "topom.h"

#include <set>

namespace codis::dashboard {

using nlohmann::json;
using nlohmann::ordered_json;
namespace path = models::path;
namespace action = models::action;

namespace {

std::string gstr(int gid) { return "group-[" + std::to_string(gid) + "]"; }
std::string sstr(int sid) { return "slot-[" + std::to_string(sid) + "]"; }

std::string slot4(int sid) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04d", sid);
  return buf;
}

// "db0:keys=3,expires=0,avg_ttl=0" lines of INFO keyspace -> db numbers.
std::vector<int> keyspace_dbs(const std::string& info) {
  std::vector<int> dbs;
  size_t pos = 0;
  while (pos < info.size()) {
    size_t end = info.find('\n', pos);
    if (end == std::string::npos) end = info.size();
    std::string line = info.substr(pos, end - pos);
    pos = end + 1;
    if (line.rfind("db", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    try {
      dbs.push_back(std::stoi(line.substr(2, colon - 2)));
    } catch (...) {
    }
  }
  std::sort(dbs.begin(), dbs.end());
  return dbs;
}

bool is_error(const resp::Value& v) { return v.type == resp::Value::Type::kError; }

}  // namespace

// ---- API operations ----

Status Topom::create_actions_locked(const std::vector<std::pair<int, int>>& sid_gid) {
  std::vector<models::SlotMapping> next;
  {
    std::lock_guard lk(models_mu_);
    int max_index = 0;
    for (const auto& m : slots_) {
      if (!m.action.state.empty()) max_index = std::max(max_index, m.action.index);
    }
    std::set<int> seen;
    for (const auto& [sid, gid] : sid_gid) {
      if (sid < 0 || sid >= models::kMaxSlotNum) return Status::Error(sstr(sid) + " doesn't exist");
      auto it = groups_.find(gid);
      if (it == groups_.end()) return Status::Error(gstr(gid) + " doesn't exist");
      if (it->second.servers.empty()) return Status::Error(gstr(gid) + " is empty");
      const auto& m = slots_[sid];
      if (!m.action.state.empty() || !seen.insert(sid).second) {
        return Status::Error(sstr(sid) + " action already exists");
      }
      if (m.group_id == gid) return Status::Error(sstr(sid) + " already in " + gstr(gid));
      models::SlotMapping x = m;
      x.action.index = ++max_index;
      x.action.state = std::string(action::kPending);
      x.action.target_id = gid;
      next.push_back(x);
    }
  }
  if (auto st = store_slots(next); !st.ok()) return st;
  for (const auto& m : next) {
    spdlog::info("topom: {} action created: {} -> {} (index {})", sstr(m.id), gstr(m.group_id),
                 gstr(m.action.target_id), m.action.index);
  }
  wake_executor();
  return Status::Ok();
}

Status Topom::slot_create_action(int sid, int gid) {
  std::lock_guard op(op_mu_);
  return create_actions_locked({{sid, gid}});
}

Status Topom::slot_create_action_some(int src, int dst, int num) {
  std::lock_guard op(op_mu_);
  std::vector<std::pair<int, int>> plan;
  {
    std::lock_guard lk(models_mu_);
    auto it = groups_.find(dst);
    if (it == groups_.end()) return Status::Error(gstr(dst) + " doesn't exist");
    if (it->second.servers.empty()) return Status::Error(gstr(dst) + " is empty");
    if (groups_.find(src) == groups_.end()) return Status::Error(gstr(src) + " doesn't exist");
    for (const auto& m : slots_) {
      if (static_cast<int>(plan.size()) >= num) break;
      if (!m.action.state.empty() || m.group_id != src || m.group_id == dst) continue;
      plan.emplace_back(m.id, dst);
    }
  }
  if (plan.empty()) return Status::Ok();
  return create_actions_locked(plan);
}

Status Topom::slot_create_action_range(int beg, int end, int gid) {
  if (beg < 0 || end >= models::kMaxSlotNum || beg > end) {
    return Status::Error("invalid slot range [" + std::to_string(beg) + "," + std::to_string(end) + "]");
  }
  std::lock_guard op(op_mu_);
  std::vector<std::pair<int, int>> plan;
  for (int sid = beg; sid <= end; ++sid) plan.emplace_back(sid, gid);
  return create_actions_locked(plan);
}

Status Topom::slot_remove_action(int sid) {
  std::lock_guard op(op_mu_);
  models::SlotMapping m;
  {
    std::lock_guard lk(models_mu_);
    if (sid < 0 || sid >= models::kMaxSlotNum) return Status::Error(sstr(sid) + " doesn't exist");
    m = slots_[sid];
  }
  if (m.action.state.empty()) return Status::Error(sstr(sid) + " action doesn't exist");
  if (m.action.state != action::kPending) {
    return Status::Error(sstr(sid) + " action isn't pending (state = " + m.action.state + ")");
  }
  {
    // A worker may be about to take it: it re-reads the state under op_mu_ (held here).
    std::lock_guard lk(action_mu_);
    slot_keys_.erase(sid);
  }
  models::SlotMapping x;
  x.id = m.id;
  x.group_id = m.group_id;
  if (auto st = store_slot(x); !st.ok()) return st;
  spdlog::info("topom: {} action removed", sstr(sid));
  return resync_slots({x});
}

Status Topom::set_slot_action_interval(int us) {
  us = std::clamp(us, 0, 1000 * 1000);
  action_interval_us_ = us;
  spdlog::info("topom: slot action interval = {} us", us);
  return Status::Ok();
}

Status Topom::set_slot_action_disabled(bool value) {
  action_disabled_ = value;
  spdlog::info("topom: slot action disabled = {}", value);
  wake_executor();
  return Status::Ok();
}

ordered_json Topom::slot_actions() const {
  std::vector<models::SlotMapping> actions;
  {
    std::lock_guard lk(models_mu_);
    for (const auto& m : slots_) {
      if (!m.action.state.empty()) actions.push_back(m);
    }
  }
  std::sort(actions.begin(), actions.end(),
            [](const auto& a, const auto& b) { return a.action.index < b.action.index; });
  ordered_json out = ordered_json::array();
  std::lock_guard lk(action_mu_);
  for (const auto& m : actions) {
    ordered_json x = ordered_json::object();
    x["id"] = m.id;
    x["group_id"] = m.group_id;
    x["target_id"] = m.action.target_id;
    x["index"] = m.action.index;
    x["state"] = m.action.state;
    auto it = slot_keys_.find(m.id);
    x["keys_left"] = it != slot_keys_.end() ? it->second : -1;
    x["running"] = running_.count(m.id) > 0;
    out.push_back(std::move(x));
  }
  return out;
}

ordered_json Topom::slot_actions_estimate() const {
  std::set<int> sids;
  {
    std::lock_guard lk(models_mu_);
    for (const auto& m : slots_) {
      if (!m.action.state.empty()) sids.insert(m.id);
    }
  }
  const auto now = std::chrono::steady_clock::now();
  const auto window = std::chrono::seconds(10);
  std::lock_guard lk(action_mu_);
  int64_t keys_left = 0;
  bool complete = true;
  for (int sid : sids) {
    auto it = slot_keys_.find(sid);
    if (it == slot_keys_.end() || it->second < 0) {
      complete = false;
    } else {
      keys_left += it->second;
    }
  }
  // Rate over the window: from the last sample before it (or the oldest kept) to now.
  double rate = 0;
  if (!moved_samples_.empty()) {
    auto base = moved_samples_.front();
    for (const auto& s : moved_samples_) {
      if (s.first > now - window) break;
      base = s;
    }
    const double secs = std::chrono::duration<double>(now - base.first).count();
    if (secs >= 0.2 && keys_moved_ > base.second) rate = static_cast<double>(keys_moved_ - base.second) / secs;
  }
  ordered_json x = ordered_json::object();
  x["actions"] = sids.size();
  x["keys_left"] = keys_left;
  x["keys_left_complete"] = complete;
  x["keys_moved"] = keys_moved_;
  x["keys_per_sec"] = static_cast<int64_t>(rate);
  if (sids.empty()) {
    x["eta_seconds"] = 0;
  } else if (rate > 0 && (complete || keys_left > 0)) {
    x["eta_seconds"] = static_cast<double>(static_cast<int64_t>(keys_left / rate * 10)) / 10;
  } else {
    x["eta_seconds"] = nullptr;
  }
  return x;
}

// ---- helpers ----

void Topom::wake_executor() {
  std::lock_guard lk(exec_mu_);
  exec_wake_ = true;
  exec_cv_.notify_all();
}

bool Topom::executor_stopping() { return closed_.load() || lost_lock_.load(); }

bool Topom::sleep_unless_stopped(std::chrono::milliseconds d) {
  std::unique_lock lk(exec_mu_);
  exec_cv_.wait_for(lk, d, [this] { return exec_stop_; });
  return !exec_stop_;
}

void Topom::set_action_status(const std::string& status) {
  std::lock_guard lk(action_mu_);
  action_status_ = status;
}

std::mutex& Topom::source_mutex(const std::string& addr) {
  std::lock_guard lk(action_mu_);
  auto& p = source_mu_[addr];
  if (!p) p = std::make_unique<std::mutex>();
  return *p;
}

void Topom::refresh_proxies() {
  const auto& product = config_.product_name;
  auto names = coord_->list(path::proxy_dir(product));
  if (!names) return;
  {
    // A registration removed from the coordinator (for instance by the next
    // run of that proxy, which takes over its address) gets no more pushes.
    std::set<std::string> present;
    for (const auto& name : *names) present.insert(name.rfind("proxy-", 0) == 0 ? name.substr(6) : name);
    std::lock_guard lk(models_mu_);
    for (auto it = proxies_.begin(); it != proxies_.end();) {
      if (present.count(it->first)) {
        ++it;
        continue;
      }
      spdlog::info("topom: proxy-[{}] ({}) is no longer registered in the coordinator: dropped", it->first,
                   it->second.admin_addr);
      it = proxies_.erase(it);
    }
  }
  for (const auto& name : *names) {
    const std::string token = name.rfind("proxy-", 0) == 0 ? name.substr(6) : name;
    {
      std::lock_guard lk(models_mu_);
      if (proxies_.count(token)) continue;
    }
    auto node = models::read_node<models::Proxy>(*coord_, path::proxy_dir(product) + "/" + name);
    if (!node || !node->has_value()) continue;
    const auto& p = **node;
    spdlog::info("topom: proxy-[{}] ({}) registered itself in the coordinator: it gets slot pushes too", p.token,
                 p.admin_addr);
    std::lock_guard lk(models_mu_);
    proxies_[p.token] = p;
  }
}

// ---- transitions ----

Status Topom::slot_repush(int sid) {
  std::lock_guard op(op_mu_);
  models::SlotMapping m;
  {
    std::lock_guard lk(models_mu_);
    m = slots_[sid];
  }
  spdlog::info("topom: {} resync to {} (stored state, pushed again before the action goes on)", sstr(sid),
               m.action.state);
  return resync_slots({m});
}

Status Topom::slot_transition(int sid, std::string_view from, std::string_view to) {
  auto req = std::make_shared<Transition>(Transition{sid, std::string(from), std::string(to)});
  std::unique_lock lk(transitions_mu_);
  transitions_.push_back(req);
  // One leader at a time takes op_mu_ and runs every waiting transition; the
  // others wait here for their result (not on op_mu_, which is not fair: a
  // waiter there could stay locked out for a long time while its slot is locked).
  while (!req->done) {
    if (transitions_leader_) {
      transitions_cv_.wait(lk);
      continue;
    }
    transitions_leader_ = true;
    lk.unlock();
    std::vector<std::shared_ptr<Transition>> batch;
    {
      std::lock_guard op(op_mu_);
      {
        std::lock_guard q(transitions_mu_);
        batch.swap(transitions_);
      }
      run_transitions(batch);
    }
    lk.lock();
    for (const auto& t : batch) t->done = true;
    transitions_leader_ = false;
    transitions_cv_.notify_all();
  }
  return req->result;
}

void Topom::run_transitions(const std::vector<std::shared_ptr<Transition>>& batch) {
  struct Step {
    Transition* t;
    models::SlotMapping prev, next;
  };
  std::vector<Step> steps;
  for (const auto& t : batch) {
    models::SlotMapping m;
    {
      std::lock_guard lk(models_mu_);
      m = slots_[t->sid];
    }
    if (m.action.state.empty()) continue;  // removed meanwhile (remove works while pending)
    if (m.action.state != t->from) {
      t->result = Status::Error(sstr(t->sid) + " action state changed (" + m.action.state + ", expected " +
                                t->from + ")");
      continue;
    }
    models::SlotMapping next = m;
    if (t->to.empty()) {
      next = models::SlotMapping{};
      next.id = m.id;
      next.group_id = m.action.target_id;
    } else {
      next.action.state = t->to;
    }
    steps.push_back({t.get(), m, next});
  }
  if (steps.empty()) return;
  std::vector<models::SlotMapping> nexts, prevs;
  for (const auto& s : steps) {
    nexts.push_back(s.next);
    prevs.push_back(s.prev);
  }
  if (auto st = store_slots(nexts); !st.ok()) {
    for (const auto& s : steps) s.t->result = st;
    (void)store_slots(prevs);  // no proxy has seen the new states: the stored ones go back
    return;
  }
  const auto st = resync_slots(nexts);
  for (const auto& s : steps) {
    const std::string to_name = s.t->to.empty() ? "cleared (" + gstr(s.next.group_id) + ")" : s.t->to;
    if (st.ok()) {
      spdlog::info("topom: {} action {} -> {}", sstr(s.t->sid), s.t->from, to_name);
    } else {
      spdlog::warn("topom: {} resync to {} failed, rolling back to {}", sstr(s.t->sid), to_name, s.t->from);
      s.t->result = Status::Error(sstr(s.t->sid) + " " + s.t->from + " -> " + to_name + " failed (rolled back to " +
                                  s.t->from + "): " + st.message());
    }
  }
  if (st.ok()) {
    if (steps.size() > 1) spdlog::debug("topom: {} slot transitions pushed in one round", steps.size());
    return;
  }
  if (auto rs = store_slots(prevs); !rs.ok()) {
    for (const auto& s : steps) s.t->result = Status::Error(s.t->result.message() + "; roll back failed: " + rs.message());
  }
  (void)resync_slots(prevs);
}

Status Topom::store_slots(const std::vector<models::SlotMapping>& ms) {
  std::vector<std::pair<std::string, std::string>> nodes;
  nodes.reserve(ms.size());
  for (const auto& m : ms) nodes.emplace_back(path::slot(config_.product_name, m.id), models::encode(m));
  if (coord_->update_many(nodes).ok()) {
    std::lock_guard lk(models_mu_);
    for (const auto& m : ms) slots_[m.id] = m;
    return Status::Ok();
  }
  for (const auto& m : ms) {
    if (auto st = store_slot(m); !st.ok()) return st;
  }
  return Status::Ok();
}

// ---- executor ----

void Topom::executor_loop() {
  for (;;) {
    {
      std::unique_lock lk(exec_mu_);
      exec_cv_.wait_for(lk, std::chrono::milliseconds(200), [this] { return exec_stop_ || exec_wake_; });
      if (exec_stop_) break;
      exec_wake_ = false;
    }
    // Join the workers that returned.
    std::vector<int> done;
    {
      std::lock_guard lk(action_mu_);
      for (const auto& [sid, t] : workers_) {
        if (!running_.count(sid)) done.push_back(sid);
      }
    }
    for (int sid : done) {
      workers_[sid].join();
      workers_.erase(sid);
    }
    if (executor_stopping()) continue;
    std::vector<models::SlotMapping> actions;
    {
      std::lock_guard lk(models_mu_);
      for (const auto& m : slots_) {
        if (!m.action.state.empty()) actions.push_back(m);
      }
    }
    std::sort(actions.begin(), actions.end(), [](const auto& a, const auto& b) {
      const bool pa = a.action.state == action::kPending, pb = b.action.state == action::kPending;
      if (pa != pb) return !pa;
      return a.action.index < b.action.index;
    });
    const size_t parallel = static_cast<size_t>(std::max(1, config_.migration_parallel_slots));
    for (const auto& m : actions) {
      if (workers_.count(m.id)) continue;
      if (workers_.size() >= parallel) break;
      if (m.action.state == action::kPending && action_disabled_) continue;
      {
        std::lock_guard lk(action_mu_);
        running_.insert(m.id);
      }
      const int sid = m.id;
      workers_[sid] = std::thread([this, sid] {
        process_slot_action(sid);
        {
          std::lock_guard lk(action_mu_);
          running_.erase(sid);
        }
        wake_executor();
      });
    }
  }
  for (auto& [sid, t] : workers_) t.join();
  workers_.clear();
}

void Topom::process_slot_action(int sid) {
  // The decisions are slot_action::next()'s (slot_action.h); this loop carries them out.
  namespace sa = slot_action;
  sa::Situation known;  // pushed = false: a new worker pushes the stored state before anything moves on
  auto backoff = std::chrono::milliseconds(500);
  while (!executor_stopping()) {
    std::string source, target, stored;
    int target_id = 0;
    {
      std::lock_guard lk(models_mu_);
      const models::SlotMapping& m = slots_[sid];
      stored = m.action.state;
      target_id = m.action.target_id;
      known.group_locked = group_locked(m.group_id) || group_locked(m.action.target_id);
      source = group_master(m.group_id);
      target = group_master(m.action.target_id);
    }
    const sa::State state = sa::parse(stored);
    if (state != known.state) known.keys_left.reset();  // changed by someone else (remove, a restart's resync)
    known.state = state;
    known.paused = action_disabled_;
    known.has_target = !target.empty();
    const sa::Step step = sa::next(known);
    Status st = Status::Ok();
    std::optional<int64_t> left;
    switch (step.kind) {
      case sa::Kind::kStop:
        return;
      case sa::Kind::kWait:
        sleep_unless_stopped(std::chrono::milliseconds(200));
        continue;
      case sa::Kind::kRepush:
        st = slot_repush(sid);
        break;
      case sa::Kind::kTransition:
        st = slot_transition(sid, sa::name(step.from), sa::name(step.to));
        break;
      case sa::Kind::kRound: {
        // No source master: nothing is left to move from it.
        Result<int64_t> r = source.empty() ? Result<int64_t>(int64_t{0}) : migrate_slot_round(sid, source, target);
        if (r) {
          left = *r;
        } else {
          st = r.status();
        }
        break;
      }
      case sa::Kind::kFail:
        st = Status::Error(state == sa::State::kInvalid ? sstr(sid) + " has an invalid action state \"" + stored + "\""
                                                        : gstr(target_id) + " has no master (the slot's target)");
        break;
    }
    known = sa::after(known, step, st.ok(), left);
    if (st.ok() && step.kind == sa::Kind::kTransition) {
      std::lock_guard lk(action_mu_);
      if (step.to == sa::State::kFinished) {
        slot_keys_[sid] = 0;
      } else if (step.to == sa::State::kNone) {
        slot_keys_.erase(sid);
        if (action_status_.find("Slot[" + slot4(sid) + "]") != std::string::npos) action_status_.clear();
      }
    }
    if (!st.ok()) {
      spdlog::error("topom: {} action: {}", sstr(sid), st.message());
      set_action_status("[ERROR] Slot[" + slot4(sid) + "]: " + st.message());
      if (!sleep_unless_stopped(backoff)) return;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
    backoff = std::chrono::milliseconds(500);
  }
}

Result<int64_t> Topom::migrate_slot_round(int sid, const std::string& source, const std::string& target) {
  using R = Result<int64_t>;
  auto hp = HostPort::parse(target);
  if (!hp) return R::Error("target: " + hp.message());
  const std::string host = hp->host, port = hp->port_text();
  const bool sync = config_.migration_method == "sync";
  const std::string timeout = std::to_string(config_.migration_timeout.count());
  auto c = RedisClient::connect(source, config_.product_auth,
                                config_.migration_timeout + std::chrono::seconds(10));
  if (!c) return R::Error("source " + source + ": " + c.message());
  auto info = c->call({"INFO", "keyspace"});
  if (!info) return R::Error("source " + source + ": INFO keyspace: " + info.message());
  if (is_error(*info)) return R::Error("source " + source + ": INFO keyspace: " + info->str);
  int64_t left_total = 0;
  for (int db : keyspace_dbs(info->str)) {
    auto sel = c->call({"SELECT", std::to_string(db)});
    if (!sel || is_error(*sel)) {
      return R::Error("source " + source + ": SELECT " + std::to_string(db) + " failed: " +
                      (sel ? sel->str : sel.message()));
    }
    auto si = c->call({"SLOTSINFO", std::to_string(sid), "1"});
    if (!si || is_error(*si)) {
      return R::Error("source " + source + ": SLOTSINFO failed: " + (si ? si->str : si.message()));
    }
    int64_t left = 0;
    for (const auto& e : si->elements) {
      if (e.elements.size() == 2 && e.elements[0].integer == sid) left = e.elements[1].integer;
    }
    while (left > 0) {
      if (executor_stopping() || action_disabled_) break;
      std::vector<std::string> cmd;
      if (sync) {
        cmd = {"SLOTSMGRTTAGSLOT", host, port, timeout, std::to_string(sid)};
      } else {
        cmd = {"SLOTSMGRTTAGSLOT-ASYNC",
               host,
               port,
               timeout,
               std::to_string(config_.migration_async_maxbulks),
               std::to_string(config_.migration_async_maxbytes),
               std::to_string(sid),
               std::to_string(config_.migration_async_numkeys)};
      }
      Result<resp::Value> r = Status::Error("");
      {
        std::lock_guard src(source_mutex(source));
        ++action_executors_;
        r = c->call(cmd);
        --action_executors_;
      }
      if (!r) return R::Error("source " + source + ": " + cmd[0] + " failed: " + r.message());
      if (is_error(*r)) return R::Error("source " + source + ": " + cmd[0] + " failed: " + r->str);
      if (r->elements.size() != 2) return R::Error("source " + source + ": " + cmd[0] + ": unexpected reply");
      const int64_t moved = r->elements[0].integer;
      left = r->elements[1].integer;
      {
        std::lock_guard lk(action_mu_);
        slot_keys_[sid] = left_total + left;
        keys_moved_ += std::max<int64_t>(moved, 0);
        const auto now = std::chrono::steady_clock::now();
        moved_samples_.emplace_back(now, keys_moved_);
        // keep ~10 s: one sample at or before the window's start, and the rest
        while (moved_samples_.size() > 1 && moved_samples_[1].first <= now - std::chrono::seconds(10)) {
          moved_samples_.pop_front();
        }
        if (moved_samples_.size() > 100000) moved_samples_.pop_front();
        action_status_ = "[OK] Slot[" + slot4(sid) + "]@DB[" + std::to_string(db) + "]=" + std::to_string(moved);
      }
      if (const int us = action_interval_us_.load(); us > 0) {
        if (!sleep_unless_stopped(std::chrono::milliseconds(std::max(1, us / 1000)))) break;
      } else if (moved == 0) {
        if (!sleep_unless_stopped(std::chrono::milliseconds(10))) break;
      }
    }
    left_total += left;
  }
  return left_total;
}

void Topom::refresh_slot_keys() {
  std::map<std::string, std::vector<int>> by_source;
  {
    std::lock_guard lk(models_mu_);
    for (const auto& m : slots_) {
      if (m.action.state.empty() || m.action.state == action::kFinished) continue;
      const std::string src = group_master(m.group_id);
      if (!src.empty()) by_source[src].push_back(m.id);
    }
  }
  for (const auto& [src, sids] : by_source) {
    auto c = RedisClient::connect(src, config_.product_auth, std::chrono::milliseconds(900));
    if (!c) continue;
    auto info = c->call({"INFO", "keyspace"});
    if (!info || is_error(*info)) continue;
    std::map<int, int64_t> counts;
    bool ok = true;
    for (int db : keyspace_dbs(info->str)) {
      auto sel = c->call({"SELECT", std::to_string(db)});
      auto si = c->call({"SLOTSINFO", "0", std::to_string(models::kMaxSlotNum)});
      if (!sel || !si || is_error(*si)) {
        ok = false;
        break;
      }
      for (const auto& e : si->elements) {
        if (e.elements.size() == 2) counts[static_cast<int>(e.elements[0].integer)] += e.elements[1].integer;
      }
    }
    if (!ok) continue;
    std::lock_guard lk(action_mu_);
    for (int sid : sids) slot_keys_[sid] = counts.count(sid) ? counts[sid] : 0;
  }
}

}  // namespace codis::dashboard
