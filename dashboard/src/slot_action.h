// The life of one slot's migration (docs/design.md §7.1-§7.2) as a pure
// function: from the stored action state and what the executor knows, the
// next step. No I/O, no clock, no locks. Topom's executor
// (topom_slots.cpp, process_slot_action) asks next(), carries the step out
// (a transition is stored, then pushed to every proxy; a round moves keys),
// tells the result back with after(), and asks again.
//
// The rules that keep the safety invariant (§7): a state past `pending` is
// left only once every proxy has been pushed that state by this executor
// (after a start or a failure the stored state is pushed again first), and
// keys move only in `migrating`, which the proxies have then seen. The slot
// is given to its target (the action cleared) only from `finished`, which is
// reached only after a round found no key left on the source.
// dashboard/test/test_slot_action.cpp checks these over every state
// and a crash at every step.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace codis::dashboard::slot_action {

enum class State { kNone, kPending, kPreparing, kPrepared, kMigrating, kFinished, kInvalid };

State parse(std::string_view stored);  // Codis's action.state text ("" is kNone); unknown text is kInvalid
std::string_view name(State s);        // the stored text ("" for kNone)

// What the executor knows when it asks.
struct Situation {
  State state = State::kNone;  // stored now
  bool pushed = false;         // this executor pushed the stored state to every proxy, and nothing failed since
  bool paused = false;         // migrations are disabled (slots/action/disabled)
  bool group_locked = false;   // the source or the target group is being promoted
  bool has_target = true;      // the target group has a master
  // kMigrating: keys the last round left on the source; nullopt before a round in this state.
  std::optional<int64_t> keys_left;
};

enum class Kind {
  kStop,        // nothing to do: no action, or a pending one while paused
  kRepush,      // push the stored state to every proxy again
  kTransition,  // store `to` (kNone: clear the action, the slot belongs to the target), push it
  kRound,       // one migration round from the source to the target (its result is keys_left)
  kWait,        // try again shortly (paused or a group being promoted, in migrating)
  kFail,        // an error to report (then back off and try again)
};

struct Step {
  Kind kind = Kind::kStop;
  State from = State::kNone, to = State::kNone;  // kTransition
  std::string error;                             // kFail
};

Step next(const Situation& s);

// The executor's knowledge after carrying out `step` (ok: it succeeded; left: kRound's keys left).
// A failed step makes it push the stored state again before anything else.
Situation after(Situation s, const Step& step, bool ok, std::optional<int64_t> left = std::nullopt);

}  // namespace codis::dashboard::slot_action
