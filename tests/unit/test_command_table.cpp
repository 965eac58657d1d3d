// The command table: lookup, arity, key extraction (with Redis 7.0's own error texts for
// malformed requests) and agreement with docs/compatibility.md.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "command_table.h"

using namespace codis::proxy;

namespace {

struct Extracted {
  bool ok;
  std::vector<int> keys;
  std::string error;
};

Extracted keys_of(std::vector<std::string_view> args) {
  const CommandInfo* cmd = resolve_command(args);
  REQUIRE(cmd != nullptr);
  Extracted e;
  e.ok = command_keys(*cmd, args, e.keys, e.error);
  return e;
}

std::vector<int> ok_keys(std::vector<std::string_view> args) {
  Extracted e = keys_of(std::move(args));
  INFO(e.error);
  REQUIRE(e.ok);
  return e.keys;
}

std::string error_of(std::vector<std::string_view> args) {
  Extracted e = keys_of(std::move(args));
  REQUIRE_FALSE(e.ok);
  return e.error;
}

}  // namespace

TEST_CASE("find_command is case-insensitive and exact", "[command_table]") {
  const CommandInfo* get = find_command("GET");
  REQUIRE(get != nullptr);
  CHECK(find_command("get") == get);
  CHECK(find_command("GeT") == get);
  CHECK(get->name == "GET");
  CHECK(get->handling == Handling::kForward);
  CHECK(get->has(kFlagReadOnly));
  CHECK_FALSE(get->has(kFlagWrite));

  const CommandInfo* wrapper = find_command("slotsmgrt-exec-wrapper");
  REQUIRE(wrapper != nullptr);
  CHECK(wrapper->handling == Handling::kRefused);
  CHECK(wrapper->has(kFlagInternal));

  CHECK(find_command("") == nullptr);
  CHECK(find_command("GE") == nullptr);
  CHECK(find_command("GETT") == nullptr);
  CHECK(find_command("nosuchcommand") == nullptr);
  CHECK(find_command(std::string_view("GET\0", 4)) == nullptr);
  CHECK(find_command(std::string_view("G\0T", 3)) == nullptr);
  CHECK(find_command(std::string(65, 'A')) == nullptr);
  CHECK(find_command(std::string(100000, 'g')) == nullptr);
  CHECK(find_command("object|encoding") == nullptr);  // subcommands are not top-level names
  CHECK(find_command("\xff\xfe") == nullptr);
}

TEST_CASE("subcommands resolve under their container", "[command_table]") {
  const CommandInfo* object = find_command("object");
  REQUIRE(object != nullptr);
  CHECK(object->is_container());
  const CommandInfo* enc = find_subcommand(*object, "encoding");
  REQUIRE(enc != nullptr);
  CHECK(enc->name == "OBJECT|ENCODING");
  CHECK(enc->is_subcommand());
  CHECK(&all_commands()[enc->parent] == object);
  CHECK(find_subcommand(*object, "nope") == nullptr);
  CHECK(find_subcommand(*find_command("GET"), "x") == nullptr);

  std::vector<std::string_view> usage{"memory", "USAGE", "k"};
  const CommandInfo* mu = resolve_command(usage);
  REQUIRE(mu != nullptr);
  CHECK(mu->name == "MEMORY|USAGE");
  CHECK(mu->handling == Handling::kForward);
  std::vector<std::string_view> stats{"MEMORY", "stats"};
  CHECK(resolve_command(stats)->has(kFlagInternal));
  std::vector<std::string_view> cfg{"config", "get", "maxmemory"};
  CHECK(resolve_command(cfg)->handling == Handling::kLocal);  // answered by the proxy
  std::vector<std::string_view> cfg_set{"config", "set", "maxmemory", "1"};
  CHECK(resolve_command(cfg_set)->handling == Handling::kRefused);
  std::vector<std::string_view> count{"COMMAND", "COUNT"};
  CHECK(resolve_command(count)->handling == Handling::kLocal);
  std::vector<std::string_view> bare{"OBJECT"};
  CHECK(resolve_command(bare) == object);
  std::vector<std::string_view> unknown{"frobnicate", "x"};
  CHECK(resolve_command(unknown) == nullptr);
  CHECK(resolve_command({}) == nullptr);
}

TEST_CASE("arity_ok follows Redis's convention", "[command_table]") {
  const CommandInfo& get = *find_command("GET");
  CHECK_FALSE(arity_ok(get, 1));
  CHECK(arity_ok(get, 2));
  CHECK_FALSE(arity_ok(get, 3));
  const CommandInfo& mget = *find_command("MGET");
  CHECK_FALSE(arity_ok(mget, 1));
  CHECK(arity_ok(mget, 2));
  CHECK(arity_ok(mget, 50));
  const CommandInfo& enc = *find_subcommand(*find_command("OBJECT"), "ENCODING");
  CHECK_FALSE(arity_ok(enc, 2));
  CHECK(arity_ok(enc, 3));
  CHECK(wrong_arity_error(enc) == "ERR wrong number of arguments for 'object|encoding' command");
  CHECK(wrong_arity_error(get) == "ERR wrong number of arguments for 'get' command");
}

TEST_CASE("key extraction: fixed ranges", "[command_table]") {
  CHECK(ok_keys({"GET", "a"}) == std::vector<int>{1});
  CHECK(ok_keys({"PING"}).empty());
  CHECK(ok_keys({"MGET", "a", "b", "c"}) == std::vector<int>{1, 2, 3});
  CHECK(ok_keys({"MSET", "a", "1", "b", "2"}) == std::vector<int>{1, 3});
  CHECK(error_of({"MSET", "a", "1", "b"}) == "ERR wrong number of arguments for 'mset' command");
  CHECK(error_of({"MSETNX", "a", "1", "b"}) == "ERR wrong number of arguments for 'msetnx' command");
  CHECK(ok_keys({"BLPOP", "a", "b", "0"}) == std::vector<int>{1, 2});
  CHECK(ok_keys({"BITOP", "AND", "d", "a", "b"}) == std::vector<int>{2, 3, 4});
  CHECK(ok_keys({"RENAME", "a", "b"}) == std::vector<int>{1, 2});
  CHECK(ok_keys({"object", "encoding", "k"}) == std::vector<int>{2});
  CHECK(ok_keys({"XGROUP", "CREATE", "s", "g", "$"}) == std::vector<int>{2});
  CHECK(ok_keys({"XINFO", "STREAM", "s"}) == std::vector<int>{2});
  CHECK(error_of({"GET"}) == "ERR wrong number of arguments for 'get' command");
  CHECK(error_of({"OBJECT"}) == "ERR wrong number of arguments for 'object' command");
  CHECK(error_of({"OBJECT", "FOO", "k"}) == "ERR unknown subcommand 'FOO'. Try OBJECT HELP.");
  CHECK(error_of({"xinfo", "bar\r\n"}) == "ERR unknown subcommand 'bar  '. Try XINFO HELP.");
}

TEST_CASE("key extraction: numkeys families and their Redis errors", "[command_table]") {
  CHECK(ok_keys({"EVAL", "return 1", "2", "a", "b", "arg"}) == std::vector<int>{3, 4});
  CHECK(ok_keys({"EVALSHA", "abc", "0"}).empty());
  CHECK(error_of({"EVAL", "s", "x"}) == "ERR value is not an integer or out of range");
  CHECK(error_of({"EVAL", "s", "01", "a"}) == "ERR value is not an integer or out of range");
  CHECK(error_of({"EVAL", "s", "99999999999999999999"}) == "ERR value is not an integer or out of range");
  CHECK(error_of({"EVAL", "s", "-1"}) == "ERR Number of keys can't be negative");
  CHECK(error_of({"EVAL_RO", "s", "3", "a"}) == "ERR Number of keys can't be greater than number of args");
  CHECK(error_of({"FCALL", "f", "x"}) == "ERR Bad number of keys provided");
  CHECK(error_of({"FCALL_RO", "f", "2", "a"}) == "ERR Number of keys can't be greater than number of args");
  CHECK(ok_keys({"FCALL", "f", "1", "a", "b"}) == std::vector<int>{3});

  CHECK(ok_keys({"ZUNION", "2", "a", "b", "WITHSCORES"}) == std::vector<int>{2, 3});
  CHECK(error_of({"ZUNION", "x", "a"}) == "ERR value is not an integer or out of range");
  CHECK(error_of({"ZUNION", "0", "a"}) == "ERR at least 1 input key is needed for 'zunion' command");
  CHECK(error_of({"ZINTERCARD", "-1", "a"}) == "ERR at least 1 input key is needed for 'zintercard' command");
  CHECK(error_of({"ZDIFF", "3", "a"}) == "ERR syntax error");

  CHECK(ok_keys({"ZUNIONSTORE", "d", "2", "a", "b", "AGGREGATE", "MIN"}) == std::vector<int>{1, 3, 4});
  CHECK(error_of({"ZINTERSTORE", "d", "0", "a"}) ==
        "ERR at least 1 input key is needed for 'zinterstore' command");
  CHECK(error_of({"ZDIFFSTORE", "d", "3", "a"}) == "ERR syntax error");

  CHECK(ok_keys({"SINTERCARD", "2", "a", "b", "LIMIT", "1"}) == std::vector<int>{2, 3});
  CHECK(error_of({"SINTERCARD", "x", "a"}) == "ERR numkeys should be greater than 0");
  CHECK(error_of({"SINTERCARD", "0", "a"}) == "ERR numkeys should be greater than 0");
  CHECK(error_of({"SINTERCARD", "3", "a"}) == "ERR Number of keys can't be greater than number of args");

  CHECK(ok_keys({"LMPOP", "2", "a", "b", "LEFT"}) == std::vector<int>{2, 3});
  CHECK(error_of({"LMPOP", "0", "a", "LEFT"}) == "ERR numkeys should be greater than 0");
  CHECK(error_of({"LMPOP", "2", "a", "LEFT"}) == "ERR syntax error");
  CHECK(error_of({"ZMPOP", "x", "a", "MIN"}) == "ERR numkeys should be greater than 0");

  CHECK(ok_keys({"BLMPOP", "0", "2", "a", "b", "LEFT"}) == std::vector<int>{3, 4});
  CHECK(ok_keys({"BZMPOP", "1.5", "1", "z", "MAX", "COUNT", "2"}) == std::vector<int>{3});
  CHECK(error_of({"BZMPOP", "0", "3", "a", "MIN"}) == "ERR syntax error");
  CHECK(error_of({"BLMPOP", "0", "x", "a", "LEFT"}) == "ERR numkeys should be greater than 0");
}

TEST_CASE("key extraction: XREAD and XREADGROUP", "[command_table]") {
  CHECK(ok_keys({"XREAD", "COUNT", "2", "STREAMS", "a", "b", "0", "0"}) == std::vector<int>{4, 5});
  CHECK(ok_keys({"xread", "streams", "STREAMS", "a"}) == std::vector<int>{2});
  CHECK(ok_keys({"XREADGROUP", "GROUP", "g", "c", "NOACK", "STREAMS", "s", ">"}) == std::vector<int>{6});
  CHECK(error_of({"XREAD", "STREAMS", "a", "b", "0"}) ==
        "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.");
  CHECK(error_of({"XREAD", "COUNT", "1", "a", "0"}) == "ERR syntax error");
  CHECK(error_of({"XREAD", "COUNT", "1", "BLOCK", "0"}) == "ERR syntax error");
  CHECK(error_of({"XREAD", "GROUP", "g", "c", "STREAMS", "a", "0"}) ==
        "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
  CHECK(error_of({"XREAD", "NOACK", "STREAMS", "a", "0"}) ==
        "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.");
  CHECK(error_of({"XREADGROUP", "COUNT", "1", "NOACK", "STREAMS", "a", "0"}) ==
        "ERR Missing GROUP option for XREADGROUP");

  const CommandInfo& xread = *find_command("XREAD");
  std::vector<std::string_view> blocking{"XREAD", "BLOCK", "0", "STREAMS", "a", "0"};
  std::vector<std::string_view> plain{"XREAD", "COUNT", "1", "STREAMS", "BLOCK", "0"};
  CHECK(request_blocks(xread, blocking));
  CHECK_FALSE(request_blocks(xread, plain));  // "BLOCK" after STREAMS is a key
  std::vector<std::string_view> blpop{"BLPOP", "a", "0"};
  CHECK(request_blocks(*find_command("BLPOP"), blpop));
  std::vector<std::string_view> get{"GET", "a"};
  CHECK_FALSE(request_blocks(*find_command("GET"), get));
}

TEST_CASE("key extraction: SORT and GEORADIUS stores", "[command_table]") {
  CHECK(ok_keys({"SORT", "l"}) == std::vector<int>{1});
  CHECK(ok_keys({"SORT", "l", "LIMIT", "0", "10", "ALPHA", "DESC", "STORE", "d"}) == std::vector<int>{1, 8});
  CHECK(ok_keys({"SORT", "l", "BY", "nosort", "GET", "#"}) == std::vector<int>{1});
  CHECK(error_of({"SORT", "l", "STORE"}) == "ERR syntax error");
  CHECK(error_of({"SORT_RO", "l", "STORE", "d"}) == "ERR syntax error");
  CHECK(error_of({"SORT", "l", "BY", "w_*"}).starts_with("ERR SORT BY pattern is not supported by the proxy"));
  CHECK(error_of({"SORT", "l", "GET", "o_*"}).starts_with("ERR SORT GET pattern is not supported by the proxy"));

  CHECK(ok_keys({"GEORADIUS", "g", "0", "0", "1", "km"}) == std::vector<int>{1});
  CHECK(ok_keys({"GEORADIUS", "g", "0", "0", "1", "km", "COUNT", "3", "ASC", "STORE", "d"}) ==
        std::vector<int>{1, 10});
  CHECK(ok_keys({"GEORADIUSBYMEMBER", "g", "m", "1", "km", "STORE", "a", "STOREDIST", "b"}) ==
        std::vector<int>{1, 8});
  CHECK(error_of({"GEORADIUS", "g", "0", "0", "1", "m", "STORE"}) == "ERR syntax error");
  CHECK(ok_keys({"GEORADIUS_RO", "g", "0", "0", "1", "m"}) == std::vector<int>{1});
}

TEST_CASE("policy: split, local, internal and not-yet commands", "[command_table]") {
  CHECK(find_command("MGET")->handling == Handling::kSplitMGet);
  CHECK(find_command("MSET")->handling == Handling::kSplitMSet);
  for (auto n : {"DEL", "UNLINK", "EXISTS", "TOUCH"}) CHECK(find_command(n)->handling == Handling::kSplitSum);
  for (auto n : {"AUTH", "SELECT", "PING", "ECHO", "QUIT", "COMMAND", "INFO", "SLOTSMAPPING", "HELLO", "TIME",
                 "READONLY", "READWRITE"}) {
    INFO(n);
    CHECK(find_command(n)->handling == Handling::kLocal);
  }
  for (auto n : {"SYNC", "PSYNC", "REPLCONF", "REPLICAOF", "SLAVEOF", "MONITOR", "DEBUG", "CONFIG", "SHUTDOWN",
                 "SAVE", "BGSAVE", "CLUSTER", "MIGRATE", "ACL", "MODULE", "SWAPDB"}) {
    INFO(n);
    CHECK(find_command(n)->handling == Handling::kRefused);
    CHECK(find_command(n)->has(kFlagInternal));
  }
  for (auto n : {"DBSIZE", "KEYS", "RANDOMKEY", "SCAN", "FLUSHDB", "FLUSHALL"}) {
    INFO(n);
    CHECK(find_command(n)->handling == Handling::kCluster);
  }
  for (auto n : {"MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH"}) {
    INFO(n);
    CHECK(find_command(n)->handling == Handling::kLocal);
  }
  for (auto n : {"BLPOP", "BZMPOP", "BLMOVE", "XREAD"}) {
    INFO(n);
    CHECK(find_command(n)->handling == Handling::kForward);
    CHECK(find_command(n)->has(kFlagBlocking));
  }
  CHECK(find_command("SUBSCRIBE")->handling == Handling::kLocal);
  CHECK(find_command("PUBLISH")->handling == Handling::kForward);
  CHECK(find_command("WAIT")->handling == Handling::kCluster);
  for (auto n : {"SCRIPT", "FUNCTION", "CLIENT"}) {
    INFO(n);
    CHECK(find_command(n)->handling == Handling::kRefused);
    CHECK(find_command(n)->has(kFlagNotYet));
    CHECK_FALSE(find_command(n)->note.empty());
  }
  // Not-yet commands keep their real key specs so enabling them is a one-line change.
  CHECK(ok_keys({"WATCH", "a", "b"}) == std::vector<int>{1, 2});
  CHECK(find_command("MSETNX")->handling == Handling::kForward);
  CHECK(refusal_error(*find_command("CLIENT")).starts_with("ERR command 'CLIENT' is not supported by the proxy yet"));
  std::vector<std::string_view> cfg{"CONFIG", "SET", "x", "y"};
  CHECK(refusal_error(*resolve_command(cfg)).starts_with("ERR command 'CONFIG SET' is not allowed"));
}

TEST_CASE("every Codis SLOTS* command is refused as internal", "[command_table]") {
  const char* names[] = {"SLOTSINFO", "SLOTSSCAN", "SLOTSDEL", "SLOTSCHECK", "SLOTSHASHKEY", "SLOTSMGRTSLOT",
                         "SLOTSMGRTONE", "SLOTSMGRTTAGSLOT", "SLOTSMGRTTAGONE", "SLOTSRESTORE",
                         "SLOTSMGRTSLOT-ASYNC", "SLOTSMGRTTAGSLOT-ASYNC", "SLOTSMGRTONE-ASYNC",
                         "SLOTSMGRTTAGONE-ASYNC", "SLOTSMGRT-ASYNC-FENCE", "SLOTSMGRT-ASYNC-CANCEL",
                         "SLOTSMGRT-ASYNC-STATUS", "SLOTSMGRT-EXEC-WRAPPER", "SLOTSRESTORE-ASYNC",
                         "SLOTSRESTORE-ASYNC-AUTH", "SLOTSRESTORE-ASYNC-SELECT", "SLOTSRESTORE-ASYNC-ACK"};
  for (const char* n : names) {
    INFO(n);
    const CommandInfo* c = find_command(n);
    REQUIRE(c != nullptr);
    CHECK(c->handling == Handling::kRefused);
    CHECK(c->has(kFlagInternal));
  }
  int slots_commands = 0;
  for (const CommandInfo& c : all_commands()) {
    if (c.name.starts_with("SLOTS") && c.name != "SLOTSMAPPING") {
      ++slots_commands;
      CHECK(c.handling == Handling::kRefused);
      CHECK(c.has(kFlagInternal));
    }
  }
  CHECK(slots_commands == 22);
}

TEST_CASE("table invariants", "[command_table]") {
  std::set<std::string_view> names;
  const auto all = all_commands();
  REQUIRE(all.size() > 380);
  for (size_t i = 0; i < all.size(); ++i) {
    const CommandInfo& c = all[i];
    INFO(c.name);
    CHECK(c.index == i);
    CHECK(names.insert(c.name).second);
    for (char ch : c.name) CHECK_FALSE((ch >= 'a' && ch <= 'z'));
    CHECK(c.arity != 0);
    if (c.is_subcommand()) {
      CHECK(find_subcommand(all[c.parent], c.name.substr(c.name.find('|') + 1)) == &c);
    } else {
      CHECK(find_command(c.name) == &c);
    }
    if (c.handling == Handling::kRefused) CHECK((c.has(kFlagInternal) || c.has(kFlagNotYet)));
    if (c.handling != Handling::kRefused) CHECK_FALSE((c.has(kFlagInternal) || c.has(kFlagNotYet)));
    CHECK_FALSE((c.has(kFlagWrite) && c.has(kFlagReadOnly)));
    if (c.handling == Handling::kForward && !c.is_container()) CHECK(c.key_spec != KeySpec::kNone);
  }
}

TEST_CASE("unknown command error matches Redis", "[command_table]") {
  std::vector<std::string_view> args{"FOOBAR", "x"};
  CHECK(unknown_command_error(args) == "ERR unknown command 'FOOBAR', with args beginning with: 'x' ");
  std::vector<std::string_view> none{"nope"};
  CHECK(unknown_command_error(none) == "ERR unknown command 'nope', with args beginning with: ");
  std::string long_arg(300, 'a');
  std::vector<std::string_view> big{"nope", long_arg, "b"};
  CHECK(unknown_command_error(big) ==
        "ERR unknown command 'nope', with args beginning with: '" + std::string(128, 'a') + "' ");
}

#ifdef CODIS_SOURCE_DIR
TEST_CASE("docs/compatibility.md lists every command with its handling", "[command_table]") {
  std::ifstream in(std::string(CODIS_SOURCE_DIR) + "/docs/compatibility.md");
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  for (const CommandInfo& c : all_commands()) {
    std::string shown(c.name);
    for (char& ch : shown) {
      if (ch == '|') ch = ' ';
    }
    std::string handling;
    switch (c.handling) {
      case Handling::kForward: handling = "routed"; break;
      case Handling::kSplitMGet:
      case Handling::kSplitMSet:
      case Handling::kSplitSum: handling = "split"; break;
      case Handling::kLocal: handling = "proxy-local"; break;
      case Handling::kCluster: handling = "cluster-wide"; break;
      case Handling::kRefused: handling = c.has(kFlagInternal) ? "refused: internal" : "refused: not yet"; break;
    }
    const std::string row = "| `" + shown + "` | " + handling + " | " + (c.has(kFlagReadOnly) ? "yes" : "") + " |";
    INFO(row);
    CHECK(doc.find(row) != std::string::npos);
  }
}
#endif
