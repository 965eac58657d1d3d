// The slot migration state machine (dashboard/src/slot_action.h), without I/O:
// every state and situation, and a model of the world (the stored state, what
// the proxies were last pushed, the keys on the source) driven by next()/after()
// with a crash (a new executor) or a failed step at every position. The safety
// rules of docs/design.md §7 are checked at every step.
#include <catch2/catch.hpp>

#include <optional>
#include <vector>

#include "slot_action.h"

namespace sa = codis::dashboard::slot_action;
using sa::Kind;
using sa::State;

namespace {

const State kAll[] = {State::kNone, State::kPending, State::kPreparing, State::kPrepared,
                      State::kMigrating, State::kFinished, State::kInvalid};

// The world one executor acts on. Steps succeed unless told to fail; a transition is stored,
// then pushed (a failed push rolls the stored state back, as Topom::run_transitions does).
struct World {
  State stored = State::kPending;
  State proxies = State::kNone;  // the state every proxy was last pushed
  int64_t keys = 5;              // on the source; a round moves up to 2
  bool migrated_outside_migrating = false;
  bool left_state_unseen = false;  // a state past pending left before the proxies had it
  bool cleared_with_keys = false;
  std::vector<std::string> log;

  // Carries out `step`; false if it failed (fail_push: the push part fails).
  bool apply(const sa::Step& step, bool fail_push, std::optional<int64_t>& left) {
    switch (step.kind) {
      case Kind::kRepush:
        if (fail_push) return false;
        proxies = stored;
        return true;
      case Kind::kTransition: {
        if (stored != step.from) return false;
        if (step.from != State::kPending && proxies != step.from) left_state_unseen = true;
        if (step.to == State::kNone && keys != 0) cleared_with_keys = true;
        const State before = stored;
        stored = step.to;
        if (fail_push) {
          stored = before;  // rolled back; some proxies may have seen `to`: the executor repushes
          proxies = step.to;
          return false;
        }
        proxies = step.to;
        return true;
      }
      case Kind::kRound:
        if (stored != State::kMigrating || proxies != State::kMigrating) migrated_outside_migrating = true;
        if (fail_push) return false;  // the round failed (the source went away)
        keys = std::max<int64_t>(0, keys - 2);
        left = keys;
        return true;
      default:
        return true;
    }
  }
};

// Runs executors until the action is gone; `crash_at`: after that many steps the executor dies and a
// new one starts (pushed = false); `fail_at`: that step fails. Returns the steps taken (bounded).
int run(World& w, int crash_at, int fail_at, int max_steps = 200) {
  sa::Situation known;
  known.state = w.stored;
  int steps = 0;
  while (steps < max_steps) {
    known.state = w.stored;
    const sa::Step step = sa::next(known);
    if (step.kind == Kind::kStop) return steps;
    std::optional<int64_t> left;
    const bool ok = w.apply(step, steps == fail_at, left);
    known = sa::after(known, step, ok, left);
    ++steps;
    if (steps == crash_at) known = sa::Situation{};  // a new executor knows nothing
  }
  return steps;
}

}  // namespace

TEST_CASE("slot_action: parse and name round-trip Codis's texts") {
  for (State s : kAll) {
    if (s == State::kInvalid) continue;
    CHECK(sa::parse(sa::name(s)) == s);
  }
  CHECK(sa::parse("") == State::kNone);
  CHECK(sa::parse("syncing") == State::kInvalid);
  CHECK(sa::parse("Migrating") == State::kInvalid);
}

TEST_CASE("slot_action: every state and situation") {
  for (State state : kAll) {
    for (int bits = 0; bits < 16; ++bits) {
      for (std::optional<int64_t> left : {std::optional<int64_t>(), std::optional<int64_t>(0),
                                          std::optional<int64_t>(7)}) {
        sa::Situation s;
        s.state = state;
        s.pushed = bits & 1;
        s.paused = bits & 2;
        s.group_locked = bits & 4;
        s.has_target = bits & 8;
        s.keys_left = left;
        const sa::Step step = sa::next(s);
        INFO("state " << sa::name(state) << " bits " << bits << " left " << (left ? *left : -1));
        switch (state) {
          case State::kNone:
            CHECK(step.kind == Kind::kStop);
            break;
          case State::kInvalid:
            CHECK(step.kind == Kind::kFail);
            break;
          case State::kPending:
            // Paused: left alone; else it starts, pushed or not.
            CHECK(step.kind == (s.paused ? Kind::kStop : Kind::kTransition));
            if (!s.paused) CHECK((step.from == State::kPending && step.to == State::kPreparing));
            break;
          default:
            if (!s.pushed) {
              CHECK(step.kind == Kind::kRepush);  // nothing else before the proxies have the stored state
              break;
            }
            if (state == State::kMigrating) {
              if (s.paused || s.group_locked) {
                CHECK(step.kind == Kind::kWait);
              } else if (!s.has_target) {
                CHECK(step.kind == Kind::kFail);
              } else if (left == 0) {
                CHECK((step.kind == Kind::kTransition && step.to == State::kFinished));
              } else {
                CHECK(step.kind == Kind::kRound);
              }
            } else {
              const State to = state == State::kPreparing  ? State::kPrepared
                               : state == State::kPrepared ? State::kMigrating
                                                           : State::kNone;
              CHECK((step.kind == Kind::kTransition && step.from == state && step.to == to));
            }
        }
        // Keys move only in migrating; the action is cleared only from finished.
        if (step.kind == Kind::kRound) CHECK(state == State::kMigrating);
        if (step.kind == Kind::kTransition && step.to == State::kNone) CHECK(state == State::kFinished);
      }
    }
  }
}

TEST_CASE("slot_action: without failures a pending slot moves through every state once") {
  World w;
  const int steps = run(w, -1, -1);
  CHECK(w.stored == State::kNone);
  CHECK(w.keys == 0);
  CHECK_FALSE(w.migrated_outside_migrating);
  CHECK_FALSE(w.left_state_unseen);
  CHECK_FALSE(w.cleared_with_keys);
  // pending->preparing->prepared->migrating, 3 rounds (5 keys, 2 a round), ->finished->cleared
  CHECK(steps == 3 + 3 + 2);
}

TEST_CASE("slot_action: a crash or a failure at every step keeps the invariant and finishes") {
  for (State start : {State::kPending, State::kPreparing, State::kPrepared, State::kMigrating, State::kFinished}) {
    for (int at = 0; at < 14; ++at) {
      for (bool crash : {true, false}) {
        World w;
        w.stored = start;
        // A state stored by an earlier executor may or may not have reached the proxies.
        w.proxies = start == State::kPending ? State::kNone : State::kPrepared;
        if (start == State::kFinished) w.keys = 0;
        INFO("start " << sa::name(start) << (crash ? " crash after step " : " failure at step ") << at);
        const int steps = crash ? run(w, at, -1) : run(w, -1, at);
        CHECK(steps < 200);  // terminates
        CHECK(w.stored == State::kNone);
        CHECK(w.keys == 0);
        CHECK_FALSE(w.migrated_outside_migrating);
        CHECK_FALSE(w.left_state_unseen);
        CHECK_FALSE(w.cleared_with_keys);
      }
    }
  }
}

TEST_CASE("slot_action: paused and promoting") {
  sa::Situation s;
  s.state = State::kMigrating;
  s.pushed = true;
  s.paused = true;
  CHECK(sa::next(s).kind == Kind::kWait);
  s.paused = false;
  s.group_locked = true;
  CHECK(sa::next(s).kind == Kind::kWait);
  // A restarted executor pushes first, even while paused (the proxies must have the stored state).
  s.pushed = false;
  CHECK(sa::next(s).kind == Kind::kRepush);
  // after(): a failure forgets the push and the last round.
  s.pushed = true;
  s.keys_left = 3;
  sa::Step round;
  round.kind = Kind::kRound;
  const auto f = sa::after(s, round, false);
  CHECK_FALSE(f.pushed);
  CHECK_FALSE(f.keys_left.has_value());
}
