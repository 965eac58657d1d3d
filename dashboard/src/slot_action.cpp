#include "slot_action.h"

#include <array>

namespace codis::dashboard::slot_action {

namespace {
constexpr std::array<std::pair<State, std::string_view>, 6> kNames = {{
    {State::kNone, ""},
    {State::kPending, "pending"},
    {State::kPreparing, "preparing"},
    {State::kPrepared, "prepared"},
    {State::kMigrating, "migrating"},
    {State::kFinished, "finished"},
}};

Step just(Kind k) {
  Step s;
  s.kind = k;
  return s;
}
Step transition(State from, State to) { return Step{Kind::kTransition, from, to, {}}; }
Step fail(std::string why) { return Step{Kind::kFail, State::kNone, State::kNone, std::move(why)}; }
}  // namespace

State parse(std::string_view stored) {
  for (const auto& [s, text] : kNames)
    if (text == stored) return s;
  return State::kInvalid;
}

std::string_view name(State s) {
  for (const auto& [state, text] : kNames)
    if (state == s) return text;
  return "invalid";
}

Step next(const Situation& s) {
  switch (s.state) {
    case State::kNone:
      return {};
    case State::kInvalid:
      return fail("invalid action state");
    case State::kPending:
      // Nothing has been pushed for a pending slot: proxies route it as before, so it may start
      // without a push of its own. A paused executor leaves it alone.
      return s.paused ? Step{} : transition(State::kPending, State::kPreparing);
    default:
      break;
  }
  // Past pending, proxies must have the stored state before it is left (a start, a failure).
  if (!s.pushed) return just(Kind::kRepush);
  switch (s.state) {
    case State::kPreparing:
      return transition(State::kPreparing, State::kPrepared);
    case State::kPrepared:
      return transition(State::kPrepared, State::kMigrating);
    case State::kMigrating:
      if (s.paused || s.group_locked) return just(Kind::kWait);
      if (!s.has_target) return fail("the target group has no master");
      if (s.keys_left == 0) return transition(State::kMigrating, State::kFinished);
      return just(Kind::kRound);
    case State::kFinished:
      return transition(State::kFinished, State::kNone);
    default:
      return fail("invalid action state");  // not reached: the states above are all
  }
}

Situation after(Situation s, const Step& step, bool ok, std::optional<int64_t> left) {
  if (!ok) {
    // A transition that failed was rolled back to its `from`; whatever failed, the proxies may not
    // have what is stored: push it again first.
    s.pushed = false;
    s.keys_left.reset();
    return s;
  }
  switch (step.kind) {
    case Kind::kRepush:
      s.pushed = true;
      break;
    case Kind::kTransition:
      s.state = step.to;
      s.pushed = true;  // stored, then pushed to every proxy
      s.keys_left.reset();
      break;
    case Kind::kRound:
      s.keys_left = left;
      break;
    case Kind::kFail:
      s.pushed = false;
      s.keys_left.reset();
      break;
    case Kind::kStop:
    case Kind::kWait:
      break;
  }
  return s;
}

}  // namespace codis::dashboard::slot_action
