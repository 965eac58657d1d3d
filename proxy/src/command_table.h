// The proxy's command table: every Redis 7.0 command (and subcommand), every
// Codis storage-engine command and the proxy's own SLOTSMAPPING, each with its
// arity, flags, key positions and how the proxy handles it. The router looks a
// request up here (resolve_command), checks arity_ok, extracts the keys with
// command_keys and hashes them to slots. docs/compatibility.md is the
// user-facing copy of this table; a unit test keeps the two in step.
//
// Everything here is allocation-free on the success path and never throws:
// it runs once per request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace codis::proxy {

// How the proxy handles a command.
enum class Handling : uint8_t {
  kForward,    // keys (per key spec) must all hash to one slot -> that slot's group; CROSSSLOT otherwise.
               // Commands with zero keys in this category are refused by the router for now.
  kSplitMGet,  // MGET: split per group, merge arrays in key order
  kSplitMSet,  // MSET: split per group, reply OK when all OK
  kSplitSum,   // DEL, UNLINK, EXISTS, TOUCH: split per group, sum integer replies
  kCluster,    // cluster-wide: sent to every group's master (or one chosen group) and merged
  kLocal,      // answered by the proxy itself (AUTH, SELECT, PING, ECHO, QUIT, COMMAND, INFO, HELLO, TIME, ...)
  kRefused,    // never forwarded; `note` says why (shown to the client)
};

enum CommandFlag : uint32_t {
  kFlagWrite = 1u << 0,     // modifies data (EVAL/EVALSHA/FCALL count as writes: they may)
  kFlagReadOnly = 1u << 1,  // may be served by a replica when replica reads are on
  kFlagInternal = 1u << 2,  // migration / replication / admin command: "not allowed", never forwarded
  kFlagNotYet = 1u << 3,    // not supported by the proxy yet (planned); `note` names the plan
  kFlagBlocking = 1u << 4,  // may block its connection: always (BLPOP, WAIT, ...) or, for XREAD and
                            // XREADGROUP, only with the BLOCK option: ask request_blocks()
};

enum class KeySpec : uint8_t {
  kNone,          // no keys
  kRange,         // first_key, last_key (negative: from the end, -1 = last arg), key_step
  kNumKeys,       // numkeys at arg index first_key, keys follow it (ZUNION, SINTERCARD, LMPOP, EVAL: 2, ...)
  kDestNumKeys,   // destination key at first_key, numkeys right after it, keys follow (ZUNIONSTORE, ...)
  kStreams,       // XREAD/XREADGROUP: the first half of the args after the STREAMS keyword
  kBlockNumKeys,  // BLMPOP/BZMPOP: timeout, then numkeys at first_key (= 2), then keys
  kSort,          // SORT/SORT_RO: key at 1 plus the STORE destination; BY/GET patterns refused
  kGeoStore,      // GEORADIUS/GEORADIUSBYMEMBER: key at 1 plus STORE/STOREDIST destinations
  kSubcommand,    // a container (OBJECT, XINFO, CONFIG, ...): the keys are those of the subcommand
};

// Which error texts Redis 7.0 gives when a numkeys argument is bad. The families
// differ, and the proxy answers these itself, so it must match them exactly.
enum class NumKeysErrors : uint8_t {
  kNone,
  kEval,          // EVAL*: "value is not an integer", "can't be negative", "can't be greater than ..."
  kFunction,      // FCALL*: as kEval but "Bad number of keys provided" for a non-integer
  kZSetCombine,   // ZUNION/ZINTER/ZDIFF(+STORE), ZINTERCARD: "at least 1 input key is needed ..."
  kMultiPop,      // LMPOP/ZMPOP/BLMPOP/BZMPOP: "numkeys should be greater than 0", "syntax error"
  kSetCard,       // SINTERCARD: "numkeys should be greater than 0", "Number of keys can't be greater ..."
};

inline constexpr uint16_t kNoParent = 0xFFFF;

struct CommandInfo {
  std::string_view name;  // upper case; a subcommand is "PARENT|SUB", e.g. "OBJECT|ENCODING"
  int arity;              // Redis convention: N > 0 exactly N args incl. the name; -N at least N
                          // (a subcommand's arity counts the container's name too)
  uint32_t flags;
  Handling handling;
  KeySpec key_spec;
  int first_key, last_key, key_step;  // arg indices counted from args[0], also for subcommands
  std::string_view note;              // why refused / not yet / special; one short sentence
  uint16_t index;                     // position in all_commands() (for per-command stats arrays)
  uint16_t parent;                    // index of the container for a subcommand, else kNoParent
  uint16_t first_sub;                 // a container's subcommands are all_commands()[first_sub,
  uint16_t num_subs;                  //   first_sub + num_subs), sorted by name
  NumKeysErrors numkeys_errors;

  [[nodiscard]] constexpr bool has(uint32_t flag) const { return (flags & flag) != 0; }
  [[nodiscard]] constexpr bool is_subcommand() const { return parent != kNoParent; }
  [[nodiscard]] constexpr bool is_container() const { return num_subs != 0; }
};

// Top-level commands only (a name containing '|' is never found). Case-insensitive,
// allocation-free; unknown names, names with odd bytes and over-long names -> nullptr.
const CommandInfo* find_command(std::string_view name);

// A subcommand of `container` (e.g. "encoding" under OBJECT), case-insensitive; nullptr if
// unknown or if `container` has no subcommands.
const CommandInfo* find_subcommand(const CommandInfo& container, std::string_view sub);

// What the router should use for a request: the subcommand entry when args[0] is a
// container and args[1] names one of its subcommands, else the top-level entry (a
// container whose subcommand is missing or unknown: arity_ok or command_keys then
// produce Redis's own error). nullptr for an unknown command or empty args.
const CommandInfo* resolve_command(std::span<const std::string_view> args);

// Every entry, sorted by name; entry i has index i.
std::span<const CommandInfo> all_commands();

// Appends the indices (into args; args[0] is the command name) of the keys of a concrete
// request, in argument order. On a request that is malformed for key extraction returns
// false and sets `error` to the text Redis 7.0 itself replies (without the leading '-'),
// so the proxy can answer without a backend. Assumes nothing about arity_ok having run.
bool command_keys(const CommandInfo& cmd, std::span<const std::string_view> args,
                  std::vector<int>& out, std::string& error);

bool arity_ok(const CommandInfo& cmd, size_t argc);

// True if this request may block its connection: kFlagBlocking commands, except XREAD and
// XREADGROUP, which block only when a BLOCK option precedes STREAMS.
bool request_blocks(const CommandInfo& cmd, std::span<const std::string_view> args);

// Reply texts (without the leading '-') that match Redis 7.0 or the documented proxy texts.
// "ERR wrong number of arguments for 'object|encoding' command"
std::string wrong_arity_error(const CommandInfo& cmd);
// "ERR unknown command 'FOO', with args beginning with: 'a' 'b' " (as Redis builds it)
std::string unknown_command_error(std::span<const std::string_view> args);
// kRefused: "ERR command 'CONFIG GET' is not allowed: <note>" (kFlagInternal) or
// "ERR command 'MULTI' is not supported by the proxy yet: <note>" (kFlagNotYet).
std::string refusal_error(const CommandInfo& cmd);

}  // namespace codis::proxy
