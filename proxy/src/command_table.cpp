#include "command_table.h"

#include <cstring>

#include <algorithm>
#include <array>
#include <limits>
#include <optional>

namespace codis::proxy {
namespace {

// Short aliases keep one command per table line.
constexpr uint32_t W = kFlagWrite;
constexpr uint32_t RO = kFlagReadOnly;
constexpr uint32_t I = kFlagInternal;
constexpr uint32_t NY = kFlagNotYet;
constexpr uint32_t B = kFlagBlocking;
constexpr Handling F = Handling::kForward;
constexpr Handling SM = Handling::kSplitMGet;
constexpr Handling SS = Handling::kSplitMSet;
constexpr Handling SU = Handling::kSplitSum;
constexpr Handling L = Handling::kLocal;
constexpr Handling C = Handling::kCluster;
constexpr Handling R = Handling::kRefused;
using K = KeySpec;
using NK = NumKeysErrors;

// Generated once from `COMMAND` of redis-server 7.0.15 plus Codis's commands, then
// checked by hand. Sorted by name (byte order); a container's subcommands follow it.
// Columns: name, arity, flags, handling, key spec, first, last, step, note, index,
// parent, first_sub, num_subs, numkeys errors.
constexpr CommandInfo kCommands[] = {
    {"ACL", -2, I, R, K::kSubcommand, 0, 0, 0, "the proxy's users come from users_file, not from ACL commands", 0, kNoParent, 1, 13, NK::kNone},
    {"ACL|CAT", -2, 0, L, K::kNone, 0, 0, 0, "proxy-local: the categories of the proxy's users", 1, 0, 0, 0, NK::kNone},
    {"ACL|DELUSER", -3, I, R, K::kNone, 0, 0, 0, "the proxy's users come from users_file, not from ACL commands", 2, 0, 0, 0, NK::kNone},
    {"ACL|DRYRUN", -4, I, R, K::kNone, 0, 0, 0, "the proxy's users come from users_file, not from ACL commands", 3, 0, 0, 0, NK::kNone},
    {"ACL|GENPASS", -2, I, R, K::kNone, 0, 0, 0, "the proxy's users come from users_file, not from ACL commands", 4, 0, 0, 0, NK::kNone},
    {"ACL|GETUSER", 3, I, R, K::kNone, 0, 0, 0, "the proxy's users come from users_file, not from ACL commands", 5, 0, 0, 0, NK::kNone},
    {"ACL|HELP", 2, I, R, K::kNone, 0, 0, 0, "the proxy's users come from users_file, not from ACL commands", 6, 0, 0, 0, NK::kNone},
    {"ACL|LIST", 2, 0, L, K::kNone, 0, 0, 0, "proxy-local: the proxy's users (users_file)", 7, 0, 0, 0, NK::kNone},
    {"ACL|LOAD", 2, 0, L, K::kNone, 0, 0, 0, "proxy-local: re-reads users_file; live sessions keep their login", 8, 0, 0, 0, NK::kNone},
    {"ACL|LOG", -2, I, R, K::kNone, 0, 0, 0, "the proxy's users come from users_file, not from ACL commands", 9, 0, 0, 0, NK::kNone},
    {"ACL|SAVE", 2, I, R, K::kNone, 0, 0, 0, "the proxy's users come from users_file, not from ACL commands", 10, 0, 0, 0, NK::kNone},
    {"ACL|SETUSER", -3, I, R, K::kNone, 0, 0, 0, "the proxy's users come from users_file, not from ACL commands", 11, 0, 0, 0, NK::kNone},
    {"ACL|USERS", 2, 0, L, K::kNone, 0, 0, 0, "proxy-local: the names of the proxy's users", 12, 0, 0, 0, NK::kNone},
    {"ACL|WHOAMI", 2, 0, L, K::kNone, 0, 0, 0, "proxy-local: this connection's user", 13, 0, 0, 0, NK::kNone},
    {"APPEND", 3, W, F, K::kRange, 1, 1, 1, "", 14, kNoParent, 0, 0, NK::kNone},
    {"ASKING", 1, I, R, K::kNone, 0, 0, 0, "Redis Cluster only", 15, kNoParent, 0, 0, NK::kNone},
    {"AUTH", -2, 0, L, K::kNone, 0, 0, 0, "checked against the proxy's users (users_file, session_auth)", 16, kNoParent, 0, 0, NK::kNone},
    {"BGREWRITEAOF", 1, I, R, K::kNone, 0, 0, 0, "persistence is per backend", 17, kNoParent, 0, 0, NK::kNone},
    {"BGSAVE", -1, I, R, K::kNone, 0, 0, 0, "persistence is per backend", 18, kNoParent, 0, 0, NK::kNone},
    {"BITCOUNT", -2, RO, F, K::kRange, 1, 1, 1, "", 19, kNoParent, 0, 0, NK::kNone},
    {"BITFIELD", -2, W, F, K::kRange, 1, 1, 1, "", 20, kNoParent, 0, 0, NK::kNone},
    {"BITFIELD_RO", -2, RO, F, K::kRange, 1, 1, 1, "", 21, kNoParent, 0, 0, NK::kNone},
    {"BITOP", -4, W, F, K::kRange, 2, -1, 1, "all keys in one slot", 22, kNoParent, 0, 0, NK::kNone},
    {"BITPOS", -3, RO, F, K::kRange, 1, 1, 1, "", 23, kNoParent, 0, 0, NK::kNone},
    {"BLMOVE", 6, B | W, F, K::kRange, 1, 2, 1, "blocking: runs on a connection of its own to the slot\'s group; keys in one slot", 24, kNoParent, 0, 0, NK::kNone},
    {"BLMPOP", -5, B | W, F, K::kBlockNumKeys, 2, 0, 1, "blocking: runs on a connection of its own to the slot\'s group; keys in one slot", 25, kNoParent, 0, 0, NK::kMultiPop},
    {"BLPOP", -3, B | W, F, K::kRange, 1, -2, 1, "blocking: runs on a connection of its own to the slot\'s group; keys in one slot", 26, kNoParent, 0, 0, NK::kNone},
    {"BRPOP", -3, B | W, F, K::kRange, 1, -2, 1, "blocking: runs on a connection of its own to the slot\'s group; keys in one slot", 27, kNoParent, 0, 0, NK::kNone},
    {"BRPOPLPUSH", 4, B | W, F, K::kRange, 1, 2, 1, "blocking: runs on a connection of its own to the slot\'s group; keys in one slot", 28, kNoParent, 0, 0, NK::kNone},
    {"BZMPOP", -5, B | W, F, K::kBlockNumKeys, 2, 0, 1, "blocking: runs on a connection of its own to the slot\'s group; keys in one slot", 29, kNoParent, 0, 0, NK::kMultiPop},
    {"BZPOPMAX", -3, B | W, F, K::kRange, 1, -2, 1, "blocking: runs on a connection of its own to the slot\'s group; keys in one slot", 30, kNoParent, 0, 0, NK::kNone},
    {"BZPOPMIN", -3, B | W, F, K::kRange, 1, -2, 1, "blocking: runs on a connection of its own to the slot\'s group; keys in one slot", 31, kNoParent, 0, 0, NK::kNone},
    {"CLIENT", -2, NY, R, K::kSubcommand, 0, 0, 0, "client introspection: planned as proxy-local answers", 32, kNoParent, 33, 16, NK::kNone},
    {"CLIENT|CACHING", 3, NY, R, K::kNone, 0, 0, 0, "client introspection: planned as proxy-local answers", 33, 32, 0, 0, NK::kNone},
    {"CLIENT|GETNAME", 2, 0, L, K::kNone, 0, 0, 0, "proxy-local: the name this connection set", 34, 32, 0, 0, NK::kNone},
    {"CLIENT|GETREDIR", 2, NY, R, K::kNone, 0, 0, 0, "client introspection: planned as proxy-local answers", 35, 32, 0, 0, NK::kNone},
    {"CLIENT|HELP", 2, NY, R, K::kNone, 0, 0, 0, "client introspection: planned as proxy-local answers", 36, 32, 0, 0, NK::kNone},
    {"CLIENT|ID", 2, 0, L, K::kNone, 0, 0, 0, "proxy-local: this connection's id in the proxy", 37, 32, 0, 0, NK::kNone},
    {"CLIENT|INFO", 2, 0, L, K::kNone, 0, 0, 0, "proxy-local: this connection as the proxy sees it", 38, 32, 0, 0, NK::kNone},
    {"CLIENT|KILL", -3, NY, R, K::kNone, 0, 0, 0, "client introspection: planned as proxy-local answers", 39, 32, 0, 0, NK::kNone},
    {"CLIENT|LIST", -2, NY, R, K::kNone, 0, 0, 0, "client introspection: planned as proxy-local answers", 40, 32, 0, 0, NK::kNone},
    {"CLIENT|NO-EVICT", 3, NY, R, K::kNone, 0, 0, 0, "client introspection: planned as proxy-local answers", 41, 32, 0, 0, NK::kNone},
    {"CLIENT|PAUSE", -3, NY, R, K::kNone, 0, 0, 0, "client introspection: planned as proxy-local answers", 42, 32, 0, 0, NK::kNone},
    {"CLIENT|REPLY", 3, NY, R, K::kNone, 0, 0, 0, "client introspection: planned as proxy-local answers", 43, 32, 0, 0, NK::kNone},
    {"CLIENT|SETNAME", 3, 0, L, K::kNone, 0, 0, 0, "proxy-local: names this connection (not the backend ones)", 44, 32, 0, 0, NK::kNone},
    {"CLIENT|TRACKING", -3, NY, R, K::kNone, 0, 0, 0, "client introspection: planned as proxy-local answers", 45, 32, 0, 0, NK::kNone},
    {"CLIENT|TRACKINGINFO", 2, NY, R, K::kNone, 0, 0, 0, "client introspection: planned as proxy-local answers", 46, 32, 0, 0, NK::kNone},
    {"CLIENT|UNBLOCK", -3, NY, R, K::kNone, 0, 0, 0, "client introspection: planned as proxy-local answers", 47, 32, 0, 0, NK::kNone},
    {"CLIENT|UNPAUSE", 2, NY, R, K::kNone, 0, 0, 0, "client introspection: planned as proxy-local answers", 48, 32, 0, 0, NK::kNone},
    {"CLUSTER", -2, I, R, K::kSubcommand, 0, 0, 0, "the proxy is not a Redis Cluster node", 49, kNoParent, 50, 27, NK::kNone},
    {"CLUSTER|ADDSLOTS", -3, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 50, 49, 0, 0, NK::kNone},
    {"CLUSTER|ADDSLOTSRANGE", -4, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 51, 49, 0, 0, NK::kNone},
    {"CLUSTER|BUMPEPOCH", 2, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 52, 49, 0, 0, NK::kNone},
    {"CLUSTER|COUNT-FAILURE-REPORTS", 3, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 53, 49, 0, 0, NK::kNone},
    {"CLUSTER|COUNTKEYSINSLOT", 3, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 54, 49, 0, 0, NK::kNone},
    {"CLUSTER|DELSLOTS", -3, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 55, 49, 0, 0, NK::kNone},
    {"CLUSTER|DELSLOTSRANGE", -4, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 56, 49, 0, 0, NK::kNone},
    {"CLUSTER|FAILOVER", -2, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 57, 49, 0, 0, NK::kNone},
    {"CLUSTER|FLUSHSLOTS", 2, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 58, 49, 0, 0, NK::kNone},
    {"CLUSTER|FORGET", 3, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 59, 49, 0, 0, NK::kNone},
    {"CLUSTER|GETKEYSINSLOT", 4, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 60, 49, 0, 0, NK::kNone},
    {"CLUSTER|HELP", 2, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 61, 49, 0, 0, NK::kNone},
    {"CLUSTER|INFO", 2, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 62, 49, 0, 0, NK::kNone},
    {"CLUSTER|KEYSLOT", 3, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 63, 49, 0, 0, NK::kNone},
    {"CLUSTER|LINKS", 2, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 64, 49, 0, 0, NK::kNone},
    {"CLUSTER|MEET", -4, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 65, 49, 0, 0, NK::kNone},
    {"CLUSTER|MYID", 2, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 66, 49, 0, 0, NK::kNone},
    {"CLUSTER|NODES", 2, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 67, 49, 0, 0, NK::kNone},
    {"CLUSTER|REPLICAS", 3, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 68, 49, 0, 0, NK::kNone},
    {"CLUSTER|REPLICATE", 3, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 69, 49, 0, 0, NK::kNone},
    {"CLUSTER|RESET", -2, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 70, 49, 0, 0, NK::kNone},
    {"CLUSTER|SAVECONFIG", 2, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 71, 49, 0, 0, NK::kNone},
    {"CLUSTER|SET-CONFIG-EPOCH", 3, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 72, 49, 0, 0, NK::kNone},
    {"CLUSTER|SETSLOT", -4, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 73, 49, 0, 0, NK::kNone},
    {"CLUSTER|SHARDS", 2, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 74, 49, 0, 0, NK::kNone},
    {"CLUSTER|SLAVES", 3, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 75, 49, 0, 0, NK::kNone},
    {"CLUSTER|SLOTS", 2, I, R, K::kNone, 0, 0, 0, "the proxy is not a Redis Cluster node", 76, 49, 0, 0, NK::kNone},
    {"COMMAND", -1, 0, L, K::kSubcommand, 0, 0, 0, "describes Redis's commands from the proxy's own table", 77, kNoParent, 78, 7, NK::kNone},
    {"COMMAND|COUNT", 2, 0, L, K::kNone, 0, 0, 0, "", 78, 77, 0, 0, NK::kNone},
    {"COMMAND|DOCS", -2, 0, L, K::kNone, 0, 0, 0, "", 79, 77, 0, 0, NK::kNone},
    {"COMMAND|GETKEYS", -4, 0, L, K::kNone, 0, 0, 0, "", 80, 77, 0, 0, NK::kNone},
    {"COMMAND|GETKEYSANDFLAGS", -4, 0, L, K::kNone, 0, 0, 0, "", 81, 77, 0, 0, NK::kNone},
    {"COMMAND|HELP", 2, 0, L, K::kNone, 0, 0, 0, "", 82, 77, 0, 0, NK::kNone},
    {"COMMAND|INFO", -2, 0, L, K::kNone, 0, 0, 0, "", 83, 77, 0, 0, NK::kNone},
    {"COMMAND|LIST", -2, 0, L, K::kNone, 0, 0, 0, "", 84, 77, 0, 0, NK::kNone},
    {"CONFIG", -2, I, R, K::kSubcommand, 0, 0, 0, "admin: configure backends directly or through the dashboard", 85, kNoParent, 86, 5, NK::kNone},
    {"CONFIG|GET", -3, 0, L, K::kNone, 0, 0, 0, "answered by the proxy for the settings clients read (databases, maxmemory, ...); with a users_file, from the servers", 86, 85, 0, 0, NK::kNone},
    {"CONFIG|HELP", 2, I, R, K::kNone, 0, 0, 0, "admin: configure backends directly or through the dashboard", 87, 85, 0, 0, NK::kNone},
    {"CONFIG|RESETSTAT", 2, I, R, K::kNone, 0, 0, 0, "admin: with a users_file, run on every server for users allowed to", 88, 85, 0, 0, NK::kNone},
    {"CONFIG|REWRITE", 2, I, R, K::kNone, 0, 0, 0, "admin: configure backends directly or through the dashboard", 89, 85, 0, 0, NK::kNone},
    {"CONFIG|SET", -4, I, R, K::kNone, 0, 0, 0, "admin: with a users_file, run on every server for users allowed to", 90, 85, 0, 0, NK::kNone},
    {"COPY", -3, W, F, K::kRange, 1, 2, 1, "source and destination in one slot; DB option stays on the same group", 91, kNoParent, 0, 0, NK::kNone},
    {"DBSIZE", 1, RO, C, K::kNone, 0, 0, 0, "cluster-wide: the sum over every group", 92, kNoParent, 0, 0, NK::kNone},
    {"DEBUG", -2, I, R, K::kNone, 0, 0, 0, "admin: connect to a backend directly", 93, kNoParent, 0, 0, NK::kNone},
    {"DECR", 2, W, F, K::kRange, 1, 1, 1, "", 94, kNoParent, 0, 0, NK::kNone},
    {"DECRBY", 3, W, F, K::kRange, 1, 1, 1, "", 95, kNoParent, 0, 0, NK::kNone},
    {"DEL", -2, W, SU, K::kRange, 1, -1, 1, "split by group, integer replies summed", 96, kNoParent, 0, 0, NK::kNone},
    {"DISCARD", 1, 0, L, K::kNone, 0, 0, 0, "drops the queued commands", 97, kNoParent, 0, 0, NK::kNone},
    {"DUMP", 2, RO, F, K::kRange, 1, 1, 1, "", 98, kNoParent, 0, 0, NK::kNone},
    {"ECHO", 2, 0, L, K::kNone, 0, 0, 0, "", 99, kNoParent, 0, 0, NK::kNone},
    {"EVAL", -3, W, F, K::kNumKeys, 2, 0, 1, "numkeys keys must hash to one slot; zero keys refused for now", 100, kNoParent, 0, 0, NK::kEval},
    {"EVALSHA", -3, W, F, K::kNumKeys, 2, 0, 1, "numkeys keys must hash to one slot; zero keys refused for now", 101, kNoParent, 0, 0, NK::kEval},
    {"EVALSHA_RO", -3, RO, F, K::kNumKeys, 2, 0, 1, "numkeys keys must hash to one slot; zero keys refused for now", 102, kNoParent, 0, 0, NK::kEval},
    {"EVAL_RO", -3, RO, F, K::kNumKeys, 2, 0, 1, "numkeys keys must hash to one slot; zero keys refused for now", 103, kNoParent, 0, 0, NK::kEval},
    {"EXEC", 1, 0, L, K::kNone, 0, 0, 0, "runs the queued commands as one transaction on the group of their slot", 104, kNoParent, 0, 0, NK::kNone},
    {"EXISTS", -2, RO, SU, K::kRange, 1, -1, 1, "split by group, integer replies summed", 105, kNoParent, 0, 0, NK::kNone},
    {"EXPIRE", -3, W, F, K::kRange, 1, 1, 1, "", 106, kNoParent, 0, 0, NK::kNone},
    {"EXPIREAT", -3, W, F, K::kRange, 1, 1, 1, "", 107, kNoParent, 0, 0, NK::kNone},
    {"EXPIRETIME", 2, RO, F, K::kRange, 1, 1, 1, "", 108, kNoParent, 0, 0, NK::kNone},
    {"FAILOVER", -1, I, R, K::kNone, 0, 0, 0, "HA is managed by the dashboard / Sentinel", 109, kNoParent, 0, 0, NK::kNone},
    {"FCALL", -3, W, F, K::kNumKeys, 2, 0, 1, "numkeys keys must hash to one slot; zero keys refused for now", 110, kNoParent, 0, 0, NK::kFunction},
    {"FCALL_RO", -3, RO, F, K::kNumKeys, 2, 0, 1, "numkeys keys must hash to one slot; zero keys refused for now", 111, kNoParent, 0, 0, NK::kFunction},
    {"FLUSHALL", -1, W, C, K::kNone, 0, 0, 0, "cluster-wide: flushes every group; for users allowed to (users_file) or with proxy_allow_flush = true", 112, kNoParent, 0, 0, NK::kNone},
    {"FLUSHDB", -1, W, C, K::kNone, 0, 0, 0, "cluster-wide: flushes every group; for users allowed to (users_file) or with proxy_allow_flush = true", 113, kNoParent, 0, 0, NK::kNone},
    {"FUNCTION", -2, NY, R, K::kSubcommand, 0, 0, 0, "function management: planned as broadcast to every group", 114, kNoParent, 115, 9, NK::kNone},
    {"FUNCTION|DELETE", 3, W, C, K::kNone, 0, 0, 0, "deleted on every group", 115, 114, 0, 0, NK::kNone},
    {"FUNCTION|DUMP", 2, NY, R, K::kNone, 0, 0, 0, "function management: planned as broadcast to every group", 116, 114, 0, 0, NK::kNone},
    {"FUNCTION|FLUSH", -2, W, C, K::kNone, 0, 0, 0, "flushed on every group", 117, 114, 0, 0, NK::kNone},
    {"FUNCTION|HELP", 2, NY, R, K::kNone, 0, 0, 0, "function management: planned as broadcast to every group", 118, 114, 0, 0, NK::kNone},
    {"FUNCTION|KILL", 2, NY, R, K::kNone, 0, 0, 0, "function management: planned as broadcast to every group", 119, 114, 0, 0, NK::kNone},
    {"FUNCTION|LIST", -2, 0, C, K::kNone, 0, 0, 0, "the libraries as the first group has them (every group gets the same)", 120, 114, 0, 0, NK::kNone},
    {"FUNCTION|LOAD", -3, W, C, K::kNone, 0, 0, 0, "loaded on every group", 121, 114, 0, 0, NK::kNone},
    {"FUNCTION|RESTORE", -3, NY | W, R, K::kNone, 0, 0, 0, "function management: planned as broadcast to every group", 122, 114, 0, 0, NK::kNone},
    {"FUNCTION|STATS", 2, NY, R, K::kNone, 0, 0, 0, "function management: planned as broadcast to every group", 123, 114, 0, 0, NK::kNone},
    {"GEOADD", -5, W, F, K::kRange, 1, 1, 1, "", 124, kNoParent, 0, 0, NK::kNone},
    {"GEODIST", -4, RO, F, K::kRange, 1, 1, 1, "", 125, kNoParent, 0, 0, NK::kNone},
    {"GEOHASH", -2, RO, F, K::kRange, 1, 1, 1, "", 126, kNoParent, 0, 0, NK::kNone},
    {"GEOPOS", -2, RO, F, K::kRange, 1, 1, 1, "", 127, kNoParent, 0, 0, NK::kNone},
    {"GEORADIUS", -6, W, F, K::kGeoStore, 1, 1, 1, "key plus STORE/STOREDIST destination in one slot", 128, kNoParent, 0, 0, NK::kNone},
    {"GEORADIUSBYMEMBER", -5, W, F, K::kGeoStore, 1, 1, 1, "key plus STORE/STOREDIST destination in one slot", 129, kNoParent, 0, 0, NK::kNone},
    {"GEORADIUSBYMEMBER_RO", -5, RO, F, K::kRange, 1, 1, 1, "", 130, kNoParent, 0, 0, NK::kNone},
    {"GEORADIUS_RO", -6, RO, F, K::kRange, 1, 1, 1, "", 131, kNoParent, 0, 0, NK::kNone},
    {"GEOSEARCH", -7, RO, F, K::kRange, 1, 1, 1, "", 132, kNoParent, 0, 0, NK::kNone},
    {"GEOSEARCHSTORE", -8, W, F, K::kRange, 1, 2, 1, "both keys in one slot", 133, kNoParent, 0, 0, NK::kNone},
    {"GET", 2, RO, F, K::kRange, 1, 1, 1, "", 134, kNoParent, 0, 0, NK::kNone},
    {"GETBIT", 3, RO, F, K::kRange, 1, 1, 1, "", 135, kNoParent, 0, 0, NK::kNone},
    {"GETDEL", 2, W, F, K::kRange, 1, 1, 1, "", 136, kNoParent, 0, 0, NK::kNone},
    {"GETEX", -2, W, F, K::kRange, 1, 1, 1, "", 137, kNoParent, 0, 0, NK::kNone},
    {"GETRANGE", 4, RO, F, K::kRange, 1, 1, 1, "", 138, kNoParent, 0, 0, NK::kNone},
    {"GETSET", 3, W, F, K::kRange, 1, 1, 1, "", 139, kNoParent, 0, 0, NK::kNone},
    {"HDEL", -3, W, F, K::kRange, 1, 1, 1, "", 140, kNoParent, 0, 0, NK::kNone},
    {"HELLO", -1, 0, L, K::kNone, 0, 0, 0, "protocol 2 only (RESP3 is not supported yet)", 141, kNoParent, 0, 0, NK::kNone},
    {"HEXISTS", 3, RO, F, K::kRange, 1, 1, 1, "", 142, kNoParent, 0, 0, NK::kNone},
    {"HGET", 3, RO, F, K::kRange, 1, 1, 1, "", 143, kNoParent, 0, 0, NK::kNone},
    {"HGETALL", 2, RO, F, K::kRange, 1, 1, 1, "", 144, kNoParent, 0, 0, NK::kNone},
    {"HINCRBY", 4, W, F, K::kRange, 1, 1, 1, "", 145, kNoParent, 0, 0, NK::kNone},
    {"HINCRBYFLOAT", 4, W, F, K::kRange, 1, 1, 1, "", 146, kNoParent, 0, 0, NK::kNone},
    {"HKEYS", 2, RO, F, K::kRange, 1, 1, 1, "", 147, kNoParent, 0, 0, NK::kNone},
    {"HLEN", 2, RO, F, K::kRange, 1, 1, 1, "", 148, kNoParent, 0, 0, NK::kNone},
    {"HMGET", -3, RO, F, K::kRange, 1, 1, 1, "", 149, kNoParent, 0, 0, NK::kNone},
    {"HMSET", -4, W, F, K::kRange, 1, 1, 1, "", 150, kNoParent, 0, 0, NK::kNone},
    {"HRANDFIELD", -2, RO, F, K::kRange, 1, 1, 1, "", 151, kNoParent, 0, 0, NK::kNone},
    {"HSCAN", -3, RO, F, K::kRange, 1, 1, 1, "", 152, kNoParent, 0, 0, NK::kNone},
    {"HSET", -4, W, F, K::kRange, 1, 1, 1, "", 153, kNoParent, 0, 0, NK::kNone},
    {"HSETNX", 4, W, F, K::kRange, 1, 1, 1, "", 154, kNoParent, 0, 0, NK::kNone},
    {"HSTRLEN", 3, RO, F, K::kRange, 1, 1, 1, "", 155, kNoParent, 0, 0, NK::kNone},
    {"HVALS", 2, RO, F, K::kRange, 1, 1, 1, "", 156, kNoParent, 0, 0, NK::kNone},
    {"INCR", 2, W, F, K::kRange, 1, 1, 1, "", 157, kNoParent, 0, 0, NK::kNone},
    {"INCRBY", 3, W, F, K::kRange, 1, 1, 1, "", 158, kNoParent, 0, 0, NK::kNone},
    {"INCRBYFLOAT", 3, W, F, K::kRange, 1, 1, 1, "", 159, kNoParent, 0, 0, NK::kNone},
    {"INFO", -1, 0, L, K::kNone, 0, 0, 0, "proxy section plus keyspace merged from every group", 160, kNoParent, 0, 0, NK::kNone},
    {"KEYS", 2, RO, C, K::kNone, 0, 0, 0, "cluster-wide: every group's keys, refused past proxy_keys_max_results", 161, kNoParent, 0, 0, NK::kNone},
    {"LASTSAVE", 1, I, R, K::kNone, 0, 0, 0, "persistence is per backend", 162, kNoParent, 0, 0, NK::kNone},
    {"LATENCY", -2, I, R, K::kSubcommand, 0, 0, 0, "admin: per backend", 163, kNoParent, 164, 7, NK::kNone},
    {"LATENCY|DOCTOR", 2, I, R, K::kNone, 0, 0, 0, "admin: per backend", 164, 163, 0, 0, NK::kNone},
    {"LATENCY|GRAPH", 3, I, R, K::kNone, 0, 0, 0, "admin: per backend", 165, 163, 0, 0, NK::kNone},
    {"LATENCY|HELP", 2, I, R, K::kNone, 0, 0, 0, "admin: per backend", 166, 163, 0, 0, NK::kNone},
    {"LATENCY|HISTOGRAM", -2, I, R, K::kNone, 0, 0, 0, "admin: per backend", 167, 163, 0, 0, NK::kNone},
    {"LATENCY|HISTORY", 3, I, R, K::kNone, 0, 0, 0, "admin: per backend", 168, 163, 0, 0, NK::kNone},
    {"LATENCY|LATEST", 2, I, R, K::kNone, 0, 0, 0, "admin: per backend", 169, 163, 0, 0, NK::kNone},
    {"LATENCY|RESET", -2, I, R, K::kNone, 0, 0, 0, "admin: per backend", 170, 163, 0, 0, NK::kNone},
    {"LCS", -3, RO, F, K::kRange, 1, 2, 1, "both keys in one slot", 171, kNoParent, 0, 0, NK::kNone},
    {"LINDEX", 3, RO, F, K::kRange, 1, 1, 1, "", 172, kNoParent, 0, 0, NK::kNone},
    {"LINSERT", 5, W, F, K::kRange, 1, 1, 1, "", 173, kNoParent, 0, 0, NK::kNone},
    {"LLEN", 2, RO, F, K::kRange, 1, 1, 1, "", 174, kNoParent, 0, 0, NK::kNone},
    {"LMOVE", 5, W, F, K::kRange, 1, 2, 1, "both keys in one slot", 175, kNoParent, 0, 0, NK::kNone},
    {"LMPOP", -4, W, F, K::kNumKeys, 1, 0, 1, "all keys in one slot", 176, kNoParent, 0, 0, NK::kMultiPop},
    {"LOLWUT", -1, I | RO, R, K::kNone, 0, 0, 0, "no keys, not meaningful through a proxy", 177, kNoParent, 0, 0, NK::kNone},
    {"LPOP", -2, W, F, K::kRange, 1, 1, 1, "", 178, kNoParent, 0, 0, NK::kNone},
    {"LPOS", -3, RO, F, K::kRange, 1, 1, 1, "", 179, kNoParent, 0, 0, NK::kNone},
    {"LPUSH", -3, W, F, K::kRange, 1, 1, 1, "", 180, kNoParent, 0, 0, NK::kNone},
    {"LPUSHX", -3, W, F, K::kRange, 1, 1, 1, "", 181, kNoParent, 0, 0, NK::kNone},
    {"LRANGE", 4, RO, F, K::kRange, 1, 1, 1, "", 182, kNoParent, 0, 0, NK::kNone},
    {"LREM", 4, W, F, K::kRange, 1, 1, 1, "", 183, kNoParent, 0, 0, NK::kNone},
    {"LSET", 4, W, F, K::kRange, 1, 1, 1, "", 184, kNoParent, 0, 0, NK::kNone},
    {"LTRIM", 4, W, F, K::kRange, 1, 1, 1, "", 185, kNoParent, 0, 0, NK::kNone},
    {"MEMORY", -2, 0, F, K::kSubcommand, 0, 0, 0, "only MEMORY USAGE is routed", 186, kNoParent, 187, 6, NK::kNone},
    {"MEMORY|DOCTOR", 2, I, R, K::kNone, 0, 0, 0, "admin: per backend", 187, 186, 0, 0, NK::kNone},
    {"MEMORY|HELP", 2, NY, R, K::kNone, 0, 0, 0, "subcommand help is not served by the proxy yet", 188, 186, 0, 0, NK::kNone},
    {"MEMORY|MALLOC-STATS", 2, I, R, K::kNone, 0, 0, 0, "admin: per backend", 189, 186, 0, 0, NK::kNone},
    {"MEMORY|PURGE", 2, I, R, K::kNone, 0, 0, 0, "admin: per backend", 190, 186, 0, 0, NK::kNone},
    {"MEMORY|STATS", 2, I, R, K::kNone, 0, 0, 0, "admin: per backend", 191, 186, 0, 0, NK::kNone},
    {"MEMORY|USAGE", -3, RO, F, K::kRange, 2, 2, 1, "", 192, 186, 0, 0, NK::kNone},
    {"MGET", -2, RO, SM, K::kRange, 1, -1, 1, "split by group, replies merged in key order", 193, kNoParent, 0, 0, NK::kNone},
    {"MIGRATE", -6, I | W, R, K::kRange, 3, 3, 1, "moves keys behind the proxy's routing; use slot migration", 194, kNoParent, 0, 0, NK::kNone},
    {"MODULE", -2, I, R, K::kSubcommand, 0, 0, 0, "admin", 195, kNoParent, 196, 5, NK::kNone},
    {"MODULE|HELP", 2, I, R, K::kNone, 0, 0, 0, "admin", 196, 195, 0, 0, NK::kNone},
    {"MODULE|LIST", 2, I, R, K::kNone, 0, 0, 0, "admin", 197, 195, 0, 0, NK::kNone},
    {"MODULE|LOAD", -3, I, R, K::kNone, 0, 0, 0, "admin", 198, 195, 0, 0, NK::kNone},
    {"MODULE|LOADEX", -3, I, R, K::kNone, 0, 0, 0, "admin", 199, 195, 0, 0, NK::kNone},
    {"MODULE|UNLOAD", 3, I, R, K::kNone, 0, 0, 0, "admin", 200, 195, 0, 0, NK::kNone},
    {"MONITOR", 1, I, R, K::kNone, 0, 0, 0, "admin: connect to a backend directly", 201, kNoParent, 0, 0, NK::kNone},
    {"MOVE", 3, W, F, K::kRange, 1, 1, 1, "safe: a key's slot, hence its group, is the same in every db", 202, kNoParent, 0, 0, NK::kNone},
    {"MSET", -3, W, SS, K::kRange, 1, -1, 2, "split by group; OK when every group replied OK (not atomic across groups)", 203, kNoParent, 0, 0, NK::kNone},
    {"MSETNX", -3, W, F, K::kRange, 1, -1, 2, "atomic: all keys must hash to one slot (never split)", 204, kNoParent, 0, 0, NK::kNone},
    {"MULTI", 1, 0, L, K::kNone, 0, 0, 0, "queued by the proxy; at EXEC run on one group (all keys in one slot)", 205, kNoParent, 0, 0, NK::kNone},
    {"OBJECT", -2, 0, F, K::kSubcommand, 0, 0, 0, "dispatches on the subcommand", 206, kNoParent, 207, 5, NK::kNone},
    {"OBJECT|ENCODING", 3, RO, F, K::kRange, 2, 2, 1, "", 207, 206, 0, 0, NK::kNone},
    {"OBJECT|FREQ", 3, RO, F, K::kRange, 2, 2, 1, "", 208, 206, 0, 0, NK::kNone},
    {"OBJECT|HELP", 2, NY, R, K::kNone, 0, 0, 0, "subcommand help is not served by the proxy yet", 209, 206, 0, 0, NK::kNone},
    {"OBJECT|IDLETIME", 3, RO, F, K::kRange, 2, 2, 1, "", 210, 206, 0, 0, NK::kNone},
    {"OBJECT|REFCOUNT", 3, RO, F, K::kRange, 2, 2, 1, "", 211, 206, 0, 0, NK::kNone},
    {"PERSIST", 2, W, F, K::kRange, 1, 1, 1, "", 212, kNoParent, 0, 0, NK::kNone},
    {"PEXPIRE", -3, W, F, K::kRange, 1, 1, 1, "", 213, kNoParent, 0, 0, NK::kNone},
    {"PEXPIREAT", -3, W, F, K::kRange, 1, 1, 1, "", 214, kNoParent, 0, 0, NK::kNone},
    {"PEXPIRETIME", 2, RO, F, K::kRange, 1, 1, 1, "", 215, kNoParent, 0, 0, NK::kNone},
    {"PFADD", -2, W, F, K::kRange, 1, 1, 1, "", 216, kNoParent, 0, 0, NK::kNone},
    {"PFCOUNT", -2, RO, F, K::kRange, 1, -1, 1, "several keys must hash to one slot", 217, kNoParent, 0, 0, NK::kNone},
    {"PFDEBUG", 3, I | W, R, K::kRange, 2, 2, 1, "debugging", 218, kNoParent, 0, 0, NK::kNone},
    {"PFMERGE", -2, W, F, K::kRange, 1, -1, 1, "all keys must hash to one slot", 219, kNoParent, 0, 0, NK::kNone},
    {"PFSELFTEST", 1, I, R, K::kNone, 0, 0, 0, "debugging", 220, kNoParent, 0, 0, NK::kNone},
    {"PING", -1, 0, L, K::kNone, 0, 0, 0, "", 221, kNoParent, 0, 0, NK::kNone},
    {"PSETEX", 4, W, F, K::kRange, 1, 1, 1, "", 222, kNoParent, 0, 0, NK::kNone},
    {"PSUBSCRIBE", -2, 0, L, K::kNone, 0, 0, 0, "pub/sub: the proxy subscribes on the group each channel hashes to (patterns: on every group)", 223, kNoParent, 0, 0, NK::kNone},
    {"PSYNC", -3, I, R, K::kNone, 0, 0, 0, "replication", 224, kNoParent, 0, 0, NK::kNone},
    {"PTTL", 2, RO, F, K::kRange, 1, 1, 1, "", 225, kNoParent, 0, 0, NK::kNone},
    {"PUBLISH", 3, 0, F, K::kRange, 1, 1, 1, "routed by the channel's slot, where its subscribers are", 226, kNoParent, 0, 0, NK::kNone},
    {"PUBSUB", -2, NY, R, K::kSubcommand, 0, 0, 0, "pub/sub: planned on dedicated backend connections", 227, kNoParent, 228, 6, NK::kNone},
    {"PUBSUB|CHANNELS", -2, 0, C, K::kNone, 0, 0, 0, "cluster-wide: the union over every group", 228, 227, 0, 0, NK::kNone},
    {"PUBSUB|HELP", 2, NY, R, K::kNone, 0, 0, 0, "pub/sub: planned on dedicated backend connections", 229, 227, 0, 0, NK::kNone},
    {"PUBSUB|NUMPAT", 2, 0, C, K::kNone, 0, 0, 0, "cluster-wide: patterns are on every group, so any group's count", 230, 227, 0, 0, NK::kNone},
    {"PUBSUB|NUMSUB", -2, 0, C, K::kNone, 0, 0, 0, "cluster-wide: summed per channel over every group", 231, 227, 0, 0, NK::kNone},
    {"PUBSUB|SHARDCHANNELS", -2, 0, C, K::kNone, 0, 0, 0, "cluster-wide: the union over every group", 232, 227, 0, 0, NK::kNone},
    {"PUBSUB|SHARDNUMSUB", -2, 0, C, K::kNone, 0, 0, 0, "cluster-wide: summed per channel over every group", 233, 227, 0, 0, NK::kNone},
    {"PUNSUBSCRIBE", -1, 0, L, K::kNone, 0, 0, 0, "pub/sub: the proxy subscribes on the group each channel hashes to (patterns: on every group)", 234, kNoParent, 0, 0, NK::kNone},
    {"QUIT", -1, 0, L, K::kNone, 0, 0, 0, "", 235, kNoParent, 0, 0, NK::kNone},
    {"RANDOMKEY", 1, RO, C, K::kNone, 0, 0, 0, "cluster-wide: a random key of a random group", 236, kNoParent, 0, 0, NK::kNone},
    {"READONLY", 1, 0, L, K::kNone, 0, 0, 0, "replies OK (replica reads are a proxy setting)", 237, kNoParent, 0, 0, NK::kNone},
    {"READWRITE", 1, 0, L, K::kNone, 0, 0, 0, "replies OK (replica reads are a proxy setting)", 238, kNoParent, 0, 0, NK::kNone},
    {"RENAME", 3, W, F, K::kRange, 1, 2, 1, "both keys in one slot", 239, kNoParent, 0, 0, NK::kNone},
    {"RENAMENX", 3, W, F, K::kRange, 1, 2, 1, "both keys in one slot", 240, kNoParent, 0, 0, NK::kNone},
    {"REPLCONF", -1, I, R, K::kNone, 0, 0, 0, "replication", 241, kNoParent, 0, 0, NK::kNone},
    {"REPLICAOF", 3, I, R, K::kNone, 0, 0, 0, "replication is managed by the dashboard", 242, kNoParent, 0, 0, NK::kNone},
    {"RESET", 1, 0, L, K::kNone, 0, 0, 0, "proxy-local: back to db 0, no name, not authenticated when session_auth is set", 243, kNoParent, 0, 0, NK::kNone},
    {"RESTORE", -4, W, F, K::kRange, 1, 1, 1, "", 244, kNoParent, 0, 0, NK::kNone},
    {"RESTORE-ASKING", -4, I | W, R, K::kRange, 1, 1, 1, "Redis Cluster only", 245, kNoParent, 0, 0, NK::kNone},
    {"ROLE", 1, I, R, K::kNone, 0, 0, 0, "replication", 246, kNoParent, 0, 0, NK::kNone},
    {"RPOP", -2, W, F, K::kRange, 1, 1, 1, "", 247, kNoParent, 0, 0, NK::kNone},
    {"RPOPLPUSH", 3, W, F, K::kRange, 1, 2, 1, "both keys in one slot", 248, kNoParent, 0, 0, NK::kNone},
    {"RPUSH", -3, W, F, K::kRange, 1, 1, 1, "", 249, kNoParent, 0, 0, NK::kNone},
    {"RPUSHX", -3, W, F, K::kRange, 1, 1, 1, "", 250, kNoParent, 0, 0, NK::kNone},
    {"SADD", -3, W, F, K::kRange, 1, 1, 1, "", 251, kNoParent, 0, 0, NK::kNone},
    {"SAVE", 1, I, R, K::kNone, 0, 0, 0, "persistence is per backend", 252, kNoParent, 0, 0, NK::kNone},
    {"SCAN", -2, RO, C, K::kNone, 0, 0, 0, "cluster-wide: visits every group in turn; the cursor encodes the group", 253, kNoParent, 0, 0, NK::kNone},
    {"SCARD", 2, RO, F, K::kRange, 1, 1, 1, "", 254, kNoParent, 0, 0, NK::kNone},
    {"SCRIPT", -2, NY, R, K::kSubcommand, 0, 0, 0, "script management: planned as broadcast to every group", 255, kNoParent, 256, 6, NK::kNone},
    {"SCRIPT|DEBUG", 3, NY, R, K::kNone, 0, 0, 0, "script management: planned as broadcast to every group", 256, 255, 0, 0, NK::kNone},
    {"SCRIPT|EXISTS", -3, 0, C, K::kNone, 0, 0, 0, "1 only when every group has the script", 257, 255, 0, 0, NK::kNone},
    {"SCRIPT|FLUSH", -2, 0, C, K::kNone, 0, 0, 0, "flushed on every group", 258, 255, 0, 0, NK::kNone},
    {"SCRIPT|HELP", 2, NY, R, K::kNone, 0, 0, 0, "script management: planned as broadcast to every group", 259, 255, 0, 0, NK::kNone},
    {"SCRIPT|KILL", 2, NY, R, K::kNone, 0, 0, 0, "script management: planned as broadcast to every group", 260, 255, 0, 0, NK::kNone},
    {"SCRIPT|LOAD", 3, 0, C, K::kNone, 0, 0, 0, "loaded on every group, so EVALSHA works wherever the key lives", 261, 255, 0, 0, NK::kNone},
    {"SDIFF", -2, RO, F, K::kRange, 1, -1, 1, "all keys in one slot", 262, kNoParent, 0, 0, NK::kNone},
    {"SDIFFSTORE", -3, W, F, K::kRange, 1, -1, 1, "all keys in one slot", 263, kNoParent, 0, 0, NK::kNone},
    {"SELECT", 2, 0, L, K::kNone, 0, 0, 0, "n must be below backend_number_databases; later requests go to that db", 264, kNoParent, 0, 0, NK::kNone},
    {"SET", -3, W, F, K::kRange, 1, 1, 1, "", 265, kNoParent, 0, 0, NK::kNone},
    {"SETBIT", 4, W, F, K::kRange, 1, 1, 1, "", 266, kNoParent, 0, 0, NK::kNone},
    {"SETEX", 4, W, F, K::kRange, 1, 1, 1, "", 267, kNoParent, 0, 0, NK::kNone},
    {"SETNX", 3, W, F, K::kRange, 1, 1, 1, "", 268, kNoParent, 0, 0, NK::kNone},
    {"SETRANGE", 4, W, F, K::kRange, 1, 1, 1, "", 269, kNoParent, 0, 0, NK::kNone},
    {"SHUTDOWN", -1, I, R, K::kNone, 0, 0, 0, "admin", 270, kNoParent, 0, 0, NK::kNone},
    {"SINTER", -2, RO, F, K::kRange, 1, -1, 1, "all keys in one slot", 271, kNoParent, 0, 0, NK::kNone},
    {"SINTERCARD", -3, RO, F, K::kNumKeys, 1, 0, 1, "all keys in one slot", 272, kNoParent, 0, 0, NK::kSetCard},
    {"SINTERSTORE", -3, W, F, K::kRange, 1, -1, 1, "all keys in one slot", 273, kNoParent, 0, 0, NK::kNone},
    {"SISMEMBER", 3, RO, F, K::kRange, 1, 1, 1, "", 274, kNoParent, 0, 0, NK::kNone},
    {"SLAVEOF", 3, I, R, K::kNone, 0, 0, 0, "replication is managed by the dashboard", 275, kNoParent, 0, 0, NK::kNone},
    {"SLOTSCHECK", 1, I, R, K::kNone, 0, 0, 0, "internal migration command", 276, kNoParent, 0, 0, NK::kNone},
    {"SLOTSDEL", -2, I, R, K::kNone, 0, 0, 0, "internal migration command", 277, kNoParent, 0, 0, NK::kNone},
    {"SLOTSHASHKEY", -1, I, R, K::kNone, 0, 0, 0, "internal migration command", 278, kNoParent, 0, 0, NK::kNone},
    {"SLOTSINFO", -1, I, R, K::kNone, 0, 0, 0, "internal migration command", 279, kNoParent, 0, 0, NK::kNone},
    {"SLOTSMAPPING", -1, 0, L, K::kNone, 0, 0, 0, "Codis: slot to group mapping as the proxy sees it", 280, kNoParent, 0, 0, NK::kNone},
    {"SLOTSMGRT-ASYNC-CANCEL", 1, I, R, K::kNone, 0, 0, 0, "internal migration command", 281, kNoParent, 0, 0, NK::kNone},
    {"SLOTSMGRT-ASYNC-FENCE", 1, I, R, K::kNone, 0, 0, 0, "internal migration command", 282, kNoParent, 0, 0, NK::kNone},
    {"SLOTSMGRT-ASYNC-STATUS", 1, I, R, K::kNone, 0, 0, 0, "internal migration command", 283, kNoParent, 0, 0, NK::kNone},
    {"SLOTSMGRT-EXEC-WRAPPER", -3, I | W, R, K::kRange, 1, 1, 1, "internal migration command", 284, kNoParent, 0, 0, NK::kNone},
    {"SLOTSMGRTONE", 5, I | W, R, K::kRange, 4, 4, 1, "internal migration command", 285, kNoParent, 0, 0, NK::kNone},
    {"SLOTSMGRTONE-ASYNC", -7, I | W, R, K::kRange, 6, -1, 1, "internal migration command", 286, kNoParent, 0, 0, NK::kNone},
    {"SLOTSMGRTSLOT", 5, I, R, K::kNone, 0, 0, 0, "internal migration command", 287, kNoParent, 0, 0, NK::kNone},
    {"SLOTSMGRTSLOT-ASYNC", 8, I, R, K::kNone, 0, 0, 0, "internal migration command", 288, kNoParent, 0, 0, NK::kNone},
    {"SLOTSMGRTTAGONE", 5, I | W, R, K::kRange, 4, 4, 1, "internal migration command", 289, kNoParent, 0, 0, NK::kNone},
    {"SLOTSMGRTTAGONE-ASYNC", -7, I | W, R, K::kRange, 6, -1, 1, "internal migration command", 290, kNoParent, 0, 0, NK::kNone},
    {"SLOTSMGRTTAGSLOT", 5, I, R, K::kNone, 0, 0, 0, "internal migration command", 291, kNoParent, 0, 0, NK::kNone},
    {"SLOTSMGRTTAGSLOT-ASYNC", 8, I, R, K::kNone, 0, 0, 0, "internal migration command", 292, kNoParent, 0, 0, NK::kNone},
    {"SLOTSRESTORE", -4, I | W, R, K::kRange, 1, -1, 3, "internal migration command", 293, kNoParent, 0, 0, NK::kNone},
    {"SLOTSRESTORE-ASYNC", -2, I, R, K::kNone, 0, 0, 0, "internal migration command", 294, kNoParent, 0, 0, NK::kNone},
    {"SLOTSRESTORE-ASYNC-ACK", 3, I, R, K::kNone, 0, 0, 0, "internal migration command", 295, kNoParent, 0, 0, NK::kNone},
    {"SLOTSRESTORE-ASYNC-AUTH", 2, I, R, K::kNone, 0, 0, 0, "internal migration command", 296, kNoParent, 0, 0, NK::kNone},
    {"SLOTSRESTORE-ASYNC-SELECT", 2, I, R, K::kNone, 0, 0, 0, "internal migration command", 297, kNoParent, 0, 0, NK::kNone},
    {"SLOTSSCAN", -3, I, R, K::kNone, 0, 0, 0, "internal migration command", 298, kNoParent, 0, 0, NK::kNone},
    {"SLOWLOG", -2, I, R, K::kSubcommand, 0, 0, 0, "admin: per backend (the proxy has its own slow log)", 299, kNoParent, 300, 4, NK::kNone},
    {"SLOWLOG|GET", -2, I, R, K::kNone, 0, 0, 0, "admin: per backend (the proxy has its own slow log)", 300, 299, 0, 0, NK::kNone},
    {"SLOWLOG|HELP", 2, I, R, K::kNone, 0, 0, 0, "admin: per backend (the proxy has its own slow log)", 301, 299, 0, 0, NK::kNone},
    {"SLOWLOG|LEN", 2, I, R, K::kNone, 0, 0, 0, "admin: per backend (the proxy has its own slow log)", 302, 299, 0, 0, NK::kNone},
    {"SLOWLOG|RESET", 2, I, R, K::kNone, 0, 0, 0, "admin: per backend (the proxy has its own slow log)", 303, 299, 0, 0, NK::kNone},
    {"SMEMBERS", 2, RO, F, K::kRange, 1, 1, 1, "", 304, kNoParent, 0, 0, NK::kNone},
    {"SMISMEMBER", -3, RO, F, K::kRange, 1, 1, 1, "", 305, kNoParent, 0, 0, NK::kNone},
    {"SMOVE", 4, W, F, K::kRange, 1, 2, 1, "both keys in one slot", 306, kNoParent, 0, 0, NK::kNone},
    {"SORT", -2, W, F, K::kSort, 1, 1, 1, "key plus STORE destination; BY/GET patterns naming other keys are refused", 307, kNoParent, 0, 0, NK::kNone},
    {"SORT_RO", -2, RO, F, K::kSort, 1, 1, 1, "BY/GET patterns naming other keys are refused", 308, kNoParent, 0, 0, NK::kNone},
    {"SPOP", -2, W, F, K::kRange, 1, 1, 1, "", 309, kNoParent, 0, 0, NK::kNone},
    {"SPUBLISH", 3, 0, F, K::kRange, 1, 1, 1, "routed by the channel's slot, where its subscribers are", 310, kNoParent, 0, 0, NK::kNone},
    {"SRANDMEMBER", -2, RO, F, K::kRange, 1, 1, 1, "", 311, kNoParent, 0, 0, NK::kNone},
    {"SREM", -3, W, F, K::kRange, 1, 1, 1, "", 312, kNoParent, 0, 0, NK::kNone},
    {"SSCAN", -3, RO, F, K::kRange, 1, 1, 1, "", 313, kNoParent, 0, 0, NK::kNone},
    {"SSUBSCRIBE", -2, 0, L, K::kNone, 0, 0, 0, "pub/sub: the proxy subscribes on the group each channel hashes to (patterns: on every group)", 314, kNoParent, 0, 0, NK::kNone},
    {"STRLEN", 2, RO, F, K::kRange, 1, 1, 1, "", 315, kNoParent, 0, 0, NK::kNone},
    {"SUBSCRIBE", -2, 0, L, K::kNone, 0, 0, 0, "pub/sub: the proxy subscribes on the group each channel hashes to (patterns: on every group)", 316, kNoParent, 0, 0, NK::kNone},
    {"SUBSTR", 4, RO, F, K::kRange, 1, 1, 1, "", 317, kNoParent, 0, 0, NK::kNone},
    {"SUNION", -2, RO, F, K::kRange, 1, -1, 1, "all keys in one slot", 318, kNoParent, 0, 0, NK::kNone},
    {"SUNIONSTORE", -3, W, F, K::kRange, 1, -1, 1, "all keys in one slot", 319, kNoParent, 0, 0, NK::kNone},
    {"SUNSUBSCRIBE", -1, 0, L, K::kNone, 0, 0, 0, "pub/sub: the proxy subscribes on the group each channel hashes to (patterns: on every group)", 320, kNoParent, 0, 0, NK::kNone},
    {"SWAPDB", 3, I | W, R, K::kNone, 0, 0, 0, "swaps whole databases on one group only", 321, kNoParent, 0, 0, NK::kNone},
    {"SYNC", 1, I, R, K::kNone, 0, 0, 0, "replication", 322, kNoParent, 0, 0, NK::kNone},
    {"TIME", 1, 0, L, K::kNone, 0, 0, 0, "answered from the proxy host's clock", 323, kNoParent, 0, 0, NK::kNone},
    {"TOUCH", -2, RO, SU, K::kRange, 1, -1, 1, "split by group, integer replies summed", 324, kNoParent, 0, 0, NK::kNone},
    {"TTL", 2, RO, F, K::kRange, 1, 1, 1, "", 325, kNoParent, 0, 0, NK::kNone},
    {"TYPE", 2, RO, F, K::kRange, 1, 1, 1, "", 326, kNoParent, 0, 0, NK::kNone},
    {"UNLINK", -2, W, SU, K::kRange, 1, -1, 1, "split by group, integer replies summed", 327, kNoParent, 0, 0, NK::kNone},
    {"UNSUBSCRIBE", -1, 0, L, K::kNone, 0, 0, 0, "pub/sub: the proxy subscribes on the group each channel hashes to (patterns: on every group)", 328, kNoParent, 0, 0, NK::kNone},
    {"UNWATCH", 1, 0, L, K::kNone, 0, 0, 0, "releases the WATCH connection", 329, kNoParent, 0, 0, NK::kNone},
    {"WAIT", 3, B, C, K::kNone, 0, 0, 0, "every group: the session's earlier writes acknowledged by N replicas of each group (the minimum is returned)", 330, kNoParent, 0, 0, NK::kNone},
    {"WATCH", -2, 0, L, K::kRange, 1, -1, 1, "on a connection of its own to the keys' group; all watched keys in one slot", 331, kNoParent, 0, 0, NK::kNone},
    {"XACK", -4, W, F, K::kRange, 1, 1, 1, "", 332, kNoParent, 0, 0, NK::kNone},
    {"XADD", -5, W, F, K::kRange, 1, 1, 1, "", 333, kNoParent, 0, 0, NK::kNone},
    {"XAUTOCLAIM", -6, W, F, K::kRange, 1, 1, 1, "", 334, kNoParent, 0, 0, NK::kNone},
    {"XCLAIM", -6, W, F, K::kRange, 1, 1, 1, "", 335, kNoParent, 0, 0, NK::kNone},
    {"XDEL", -3, W, F, K::kRange, 1, 1, 1, "", 336, kNoParent, 0, 0, NK::kNone},
    {"XGROUP", -2, 0, F, K::kSubcommand, 0, 0, 0, "dispatches on the subcommand", 337, kNoParent, 338, 6, NK::kNone},
    {"XGROUP|CREATE", -5, W, F, K::kRange, 2, 2, 1, "", 338, 337, 0, 0, NK::kNone},
    {"XGROUP|CREATECONSUMER", 5, W, F, K::kRange, 2, 2, 1, "", 339, 337, 0, 0, NK::kNone},
    {"XGROUP|DELCONSUMER", 5, W, F, K::kRange, 2, 2, 1, "", 340, 337, 0, 0, NK::kNone},
    {"XGROUP|DESTROY", 4, W, F, K::kRange, 2, 2, 1, "", 341, 337, 0, 0, NK::kNone},
    {"XGROUP|HELP", 2, NY, R, K::kNone, 0, 0, 0, "subcommand help is not served by the proxy yet", 342, 337, 0, 0, NK::kNone},
    {"XGROUP|SETID", -5, W, F, K::kRange, 2, 2, 1, "", 343, 337, 0, 0, NK::kNone},
    {"XINFO", -2, 0, F, K::kSubcommand, 0, 0, 0, "dispatches on the subcommand", 344, kNoParent, 345, 4, NK::kNone},
    {"XINFO|CONSUMERS", 4, RO, F, K::kRange, 2, 2, 1, "", 345, 344, 0, 0, NK::kNone},
    {"XINFO|GROUPS", 3, RO, F, K::kRange, 2, 2, 1, "", 346, 344, 0, 0, NK::kNone},
    {"XINFO|HELP", 2, NY, R, K::kNone, 0, 0, 0, "subcommand help is not served by the proxy yet", 347, 344, 0, 0, NK::kNone},
    {"XINFO|STREAM", -3, RO, F, K::kRange, 2, 2, 1, "", 348, 344, 0, 0, NK::kNone},
    {"XLEN", 2, RO, F, K::kRange, 1, 1, 1, "", 349, kNoParent, 0, 0, NK::kNone},
    {"XPENDING", -3, RO, F, K::kRange, 1, 1, 1, "", 350, kNoParent, 0, 0, NK::kNone},
    {"XRANGE", -4, RO, F, K::kRange, 1, 1, 1, "", 351, kNoParent, 0, 0, NK::kNone},
    {"XREAD", -4, B | RO, F, K::kStreams, 0, 0, 0, "all streams in one slot; with BLOCK on a connection of its own", 352, kNoParent, 0, 0, NK::kNone},
    {"XREADGROUP", -7, B | W, F, K::kStreams, 0, 0, 0, "all streams in one slot; with BLOCK on a connection of its own", 353, kNoParent, 0, 0, NK::kNone},
    {"XREVRANGE", -4, RO, F, K::kRange, 1, 1, 1, "", 354, kNoParent, 0, 0, NK::kNone},
    {"XSETID", -3, W, F, K::kRange, 1, 1, 1, "", 355, kNoParent, 0, 0, NK::kNone},
    {"XTRIM", -4, W, F, K::kRange, 1, 1, 1, "", 356, kNoParent, 0, 0, NK::kNone},
    {"ZADD", -4, W, F, K::kRange, 1, 1, 1, "", 357, kNoParent, 0, 0, NK::kNone},
    {"ZCARD", 2, RO, F, K::kRange, 1, 1, 1, "", 358, kNoParent, 0, 0, NK::kNone},
    {"ZCOUNT", 4, RO, F, K::kRange, 1, 1, 1, "", 359, kNoParent, 0, 0, NK::kNone},
    {"ZDIFF", -3, RO, F, K::kNumKeys, 1, 0, 1, "all keys in one slot", 360, kNoParent, 0, 0, NK::kZSetCombine},
    {"ZDIFFSTORE", -4, W, F, K::kDestNumKeys, 1, 0, 1, "all keys in one slot", 361, kNoParent, 0, 0, NK::kZSetCombine},
    {"ZINCRBY", 4, W, F, K::kRange, 1, 1, 1, "", 362, kNoParent, 0, 0, NK::kNone},
    {"ZINTER", -3, RO, F, K::kNumKeys, 1, 0, 1, "all keys in one slot", 363, kNoParent, 0, 0, NK::kZSetCombine},
    {"ZINTERCARD", -3, RO, F, K::kNumKeys, 1, 0, 1, "all keys in one slot", 364, kNoParent, 0, 0, NK::kZSetCombine},
    {"ZINTERSTORE", -4, W, F, K::kDestNumKeys, 1, 0, 1, "all keys in one slot", 365, kNoParent, 0, 0, NK::kZSetCombine},
    {"ZLEXCOUNT", 4, RO, F, K::kRange, 1, 1, 1, "", 366, kNoParent, 0, 0, NK::kNone},
    {"ZMPOP", -4, W, F, K::kNumKeys, 1, 0, 1, "all keys in one slot", 367, kNoParent, 0, 0, NK::kMultiPop},
    {"ZMSCORE", -3, RO, F, K::kRange, 1, 1, 1, "", 368, kNoParent, 0, 0, NK::kNone},
    {"ZPOPMAX", -2, W, F, K::kRange, 1, 1, 1, "", 369, kNoParent, 0, 0, NK::kNone},
    {"ZPOPMIN", -2, W, F, K::kRange, 1, 1, 1, "", 370, kNoParent, 0, 0, NK::kNone},
    {"ZRANDMEMBER", -2, RO, F, K::kRange, 1, 1, 1, "", 371, kNoParent, 0, 0, NK::kNone},
    {"ZRANGE", -4, RO, F, K::kRange, 1, 1, 1, "", 372, kNoParent, 0, 0, NK::kNone},
    {"ZRANGEBYLEX", -4, RO, F, K::kRange, 1, 1, 1, "", 373, kNoParent, 0, 0, NK::kNone},
    {"ZRANGEBYSCORE", -4, RO, F, K::kRange, 1, 1, 1, "", 374, kNoParent, 0, 0, NK::kNone},
    {"ZRANGESTORE", -5, W, F, K::kRange, 1, 2, 1, "both keys in one slot", 375, kNoParent, 0, 0, NK::kNone},
    {"ZRANK", 3, RO, F, K::kRange, 1, 1, 1, "", 376, kNoParent, 0, 0, NK::kNone},
    {"ZREM", -3, W, F, K::kRange, 1, 1, 1, "", 377, kNoParent, 0, 0, NK::kNone},
    {"ZREMRANGEBYLEX", 4, W, F, K::kRange, 1, 1, 1, "", 378, kNoParent, 0, 0, NK::kNone},
    {"ZREMRANGEBYRANK", 4, W, F, K::kRange, 1, 1, 1, "", 379, kNoParent, 0, 0, NK::kNone},
    {"ZREMRANGEBYSCORE", 4, W, F, K::kRange, 1, 1, 1, "", 380, kNoParent, 0, 0, NK::kNone},
    {"ZREVRANGE", -4, RO, F, K::kRange, 1, 1, 1, "", 381, kNoParent, 0, 0, NK::kNone},
    {"ZREVRANGEBYLEX", -4, RO, F, K::kRange, 1, 1, 1, "", 382, kNoParent, 0, 0, NK::kNone},
    {"ZREVRANGEBYSCORE", -4, RO, F, K::kRange, 1, 1, 1, "", 383, kNoParent, 0, 0, NK::kNone},
    {"ZREVRANK", 3, RO, F, K::kRange, 1, 1, 1, "", 384, kNoParent, 0, 0, NK::kNone},
    {"ZSCAN", -3, RO, F, K::kRange, 1, 1, 1, "", 385, kNoParent, 0, 0, NK::kNone},
    {"ZSCORE", 3, RO, F, K::kRange, 1, 1, 1, "", 386, kNoParent, 0, 0, NK::kNone},
    {"ZUNION", -3, RO, F, K::kNumKeys, 1, 0, 1, "all keys in one slot", 387, kNoParent, 0, 0, NK::kZSetCombine},
    {"ZUNIONSTORE", -4, W, F, K::kDestNumKeys, 1, 0, 1, "all keys in one slot", 388, kNoParent, 0, 0, NK::kZSetCombine},
};

constexpr size_t kCount = std::size(kCommands);
static_assert(kCount < kNoParent);

consteval bool table_is_consistent() {
  for (size_t i = 0; i < kCount; ++i) {
    const CommandInfo& c = kCommands[i];
    if (c.index != i) return false;
    if (i > 0 && !(kCommands[i - 1].name < c.name)) return false;
    for (char ch : c.name) {
      if (ch >= 'a' && ch <= 'z') return false;
    }
    if (c.is_container()) {
      for (size_t s = c.first_sub; s < size_t{c.first_sub} + c.num_subs; ++s) {
        if (kCommands[s].parent != i) return false;
        if (!kCommands[s].name.starts_with(c.name) || kCommands[s].name[c.name.size()] != '|') {
          return false;
        }
      }
    }
    if (c.is_subcommand() && c.name.find('|') == std::string_view::npos) return false;
  }
  return true;
}
static_assert(table_is_consistent(), "command table must be sorted, indexed and upper case");

consteval size_t longest_name(bool subcommands) {
  size_t n = 0;
  for (const CommandInfo& c : kCommands) {
    if (c.is_subcommand() == subcommands) n = std::max(n, c.name.size());
  }
  return n;
}
constexpr size_t kMaxNameLength = longest_name(false);
constexpr size_t kMaxSubNameLength = longest_name(true);

// Top-level names in an open-addressing hash table built at compile time:
// a lookup hashes the upper-cased name once and usually compares one entry.
constexpr uint16_t kNoEntry = 0xFFFF;
constexpr size_t kNameIndexSize = 1024;  // a power of two, about 4x the top-level names

constexpr uint32_t name_hash_step(uint32_t h, char c) { return (h ^ static_cast<uint8_t>(c)) * 16777619u; }
constexpr uint32_t kNameHashSeed = 2166136261u;

consteval std::array<uint16_t, kNameIndexSize> make_name_index() {
  std::array<uint16_t, kNameIndexSize> t{};
  for (auto& e : t) e = kNoEntry;
  for (size_t i = 0; i < kCount; ++i) {
    if (kCommands[i].is_subcommand()) continue;
    uint32_t h = kNameHashSeed;
    for (char c : kCommands[i].name) h = name_hash_step(h, c);
    size_t p = h & (kNameIndexSize - 1);
    while (t[p] != kNoEntry) p = (p + 1) & (kNameIndexSize - 1);
    t[p] = static_cast<uint16_t>(i);
  }
  return t;
}
constexpr std::array<uint16_t, kNameIndexSize> kNameIndex = make_name_index();

constexpr char ascii_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }
constexpr char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_upper(a[i]) != ascii_upper(b[i])) return false;
  }
  return true;
}

// Redis's string2ll: optional '-', no '+', no spaces, no leading zeros, no overflow.
std::optional<long long> parse_redis_int(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  if (s == "0") return 0;
  bool negative = false;
  size_t i = 0;
  if (s[0] == '-') {
    negative = true;
    i = 1;
  }
  if (i >= s.size() || s[i] < '1' || s[i] > '9') return std::nullopt;
  unsigned long long v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    unsigned long long digit = static_cast<unsigned long long>(s[i] - '0');
    if (v > (std::numeric_limits<unsigned long long>::max() - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  constexpr auto kMax = static_cast<unsigned long long>(std::numeric_limits<long long>::max());
  if (negative) {
    if (v > kMax + 1) return std::nullopt;
    return v == kMax + 1 ? std::numeric_limits<long long>::min() : -static_cast<long long>(v);
  }
  if (v > kMax) return std::nullopt;
  return static_cast<long long>(v);
}

std::string lower_name(const CommandInfo& cmd) {
  std::string s(cmd.name);
  for (char& c : s) c = ascii_lower(c);
  return s;
}

std::string display_name(const CommandInfo& cmd) {
  std::string s(cmd.name);
  std::replace(s.begin(), s.end(), '|', ' ');
  return s;
}

// Redis turns CR and LF of user input into spaces before it puts them in an error line.
void append_sanitized(std::string& out, std::string_view s) {
  for (char c : s) out.push_back((c == '\r' || c == '\n') ? ' ' : c);
}

bool fail(std::string& error, std::string text) {
  error = std::move(text);
  return false;
}

bool arity_fail(const CommandInfo& cmd, std::string& error) {
  return fail(error, wrong_arity_error(cmd));
}

bool range_keys(const CommandInfo& cmd, std::span<const std::string_view> args,
                std::vector<int>& out, std::string& error) {
  const int argc = static_cast<int>(args.size());
  const int first = cmd.first_key;
  const int last = cmd.last_key < 0 ? argc + cmd.last_key : cmd.last_key;
  const int step = std::max(cmd.key_step, 1);
  if (first >= argc || last >= argc || last < first) return arity_fail(cmd, error);
  // MSET a 1 b: the last key has no value.
  if (step > 1 && (last - first + 1) % step != 0) return arity_fail(cmd, error);
  for (int i = first; i <= last; i += step) out.push_back(i);
  return true;
}

// numkeys at args[idx], keys follow. Error texts per family, as redis-server 7.0 gives them.
bool numkeys_keys(const CommandInfo& cmd, std::span<const std::string_view> args, int idx,
                  std::vector<int>& out, std::string& error) {
  const int argc = static_cast<int>(args.size());
  if (idx >= argc) return arity_fail(cmd, error);
  const std::optional<long long> parsed = parse_redis_int(args[static_cast<size_t>(idx)]);
  const long long available = argc - idx - 1;
  switch (cmd.numkeys_errors) {
    case NK::kEval:
    case NK::kFunction:
    case NK::kNone:
      if (!parsed) {
        return fail(error, cmd.numkeys_errors == NK::kFunction ? "ERR Bad number of keys provided"
                                                               : "ERR value is not an integer or out of range");
      }
      if (*parsed > available) return fail(error, "ERR Number of keys can't be greater than number of args");
      if (*parsed < 0) return fail(error, "ERR Number of keys can't be negative");
      break;
    case NK::kZSetCombine:
      if (!parsed) return fail(error, "ERR value is not an integer or out of range");
      if (*parsed < 1) {
        return fail(error, "ERR at least 1 input key is needed for '" + lower_name(cmd) + "' command");
      }
      if (*parsed > available) return fail(error, "ERR syntax error");
      break;
    case NK::kMultiPop:
      if (!parsed || *parsed < 1) return fail(error, "ERR numkeys should be greater than 0");
      // LEFT|RIGHT or MIN|MAX must follow the keys.
      if (*parsed >= available) return fail(error, "ERR syntax error");
      break;
    case NK::kSetCard:
      if (!parsed || *parsed < 1) return fail(error, "ERR numkeys should be greater than 0");
      if (*parsed > available) return fail(error, "ERR Number of keys can't be greater than number of args");
      break;
  }
  for (long long k = 0; k < *parsed; ++k) out.push_back(idx + 1 + static_cast<int>(k));
  return true;
}

// Mirrors the option loop of Redis's xreadCommand: the keys are whatever it would read.
bool stream_keys(const CommandInfo& cmd, std::span<const std::string_view> args,
                 std::vector<int>& out, std::string& error) {
  const bool group_form = cmd.name == "XREADGROUP";
  const size_t argc = args.size();
  size_t streams_arg = 0;
  bool has_group = false;
  for (size_t i = 1; i < argc; ++i) {
    const size_t more = argc - i - 1;
    const std::string_view o = args[i];
    if (iequals(o, "BLOCK") && more > 0) {
      ++i;
    } else if (iequals(o, "COUNT") && more > 0) {
      ++i;
    } else if (iequals(o, "STREAMS") && more > 0) {
      streams_arg = i + 1;
      if ((argc - streams_arg) % 2 != 0) {
        return fail(error,
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.");
      }
      break;
    } else if (iequals(o, "GROUP") && more >= 2) {
      if (!group_form) {
        return fail(error, "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
      }
      has_group = true;
      i += 2;
    } else if (iequals(o, "NOACK")) {
      if (!group_form) {
        return fail(error, "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.");
      }
    } else {
      return fail(error, "ERR syntax error");
    }
  }
  if (streams_arg == 0) return fail(error, "ERR syntax error");
  if (group_form && !has_group) return fail(error, "ERR Missing GROUP option for XREADGROUP");
  const size_t count = (argc - streams_arg) / 2;
  for (size_t k = 0; k < count; ++k) out.push_back(static_cast<int>(streams_arg + k));
  return true;
}

// Mirrors the option loop of Redis's sortCommandGeneric. BY and GET patterns make Redis
// read keys named by the pattern, which may live in other slots (other groups): refused,
// except the forms that read no other key (BY without '*', GET #).
bool sort_keys(const CommandInfo& cmd, std::span<const std::string_view> args, std::vector<int>& out,
               std::string& error) {
  const size_t argc = args.size();
  if (argc < 2) return arity_fail(cmd, error);
  const bool read_only = cmd.name == "SORT_RO";
  size_t store = 0;
  for (size_t j = 2; j < argc; ++j) {
    const size_t left = argc - j - 1;
    const std::string_view o = args[j];
    if (iequals(o, "ASC") || iequals(o, "DESC") || iequals(o, "ALPHA")) {
      continue;
    } else if (iequals(o, "LIMIT") && left >= 2) {
      j += 2;
    } else if (!read_only && iequals(o, "STORE") && left >= 1) {
      store = ++j;
    } else if (iequals(o, "BY") && left >= 1) {
      if (args[++j].find('*') != std::string_view::npos) {
        return fail(error, "ERR SORT BY pattern is not supported by the proxy: the keys it names may live in "
                           "other slots");
      }
    } else if (iequals(o, "GET") && left >= 1) {
      if (args[++j] != "#") {
        return fail(error, "ERR SORT GET pattern is not supported by the proxy: the keys it names may live in "
                           "other slots");
      }
    } else {
      return fail(error, "ERR syntax error");
    }
  }
  out.push_back(1);
  if (store != 0) out.push_back(static_cast<int>(store));
  return true;
}

// Mirrors the option loop of Redis's georadiusGeneric: the last STORE/STOREDIST wins there,
// so only that key is written.
bool geo_store_keys(const CommandInfo& cmd, std::span<const std::string_view> args,
                    std::vector<int>& out, std::string& error) {
  const size_t argc = args.size();
  const size_t base = cmd.name == "GEORADIUSBYMEMBER" ? 5 : 6;
  if (argc < base) return arity_fail(cmd, error);
  size_t store = 0;
  for (size_t i = base; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    const std::string_view o = args[i];
    if (iequals(o, "WITHDIST") || iequals(o, "WITHHASH") || iequals(o, "WITHCOORD") || iequals(o, "ANY") ||
        iequals(o, "ASC") || iequals(o, "DESC")) {
      continue;
    } else if (iequals(o, "COUNT") && has_value) {
      ++i;
    } else if ((iequals(o, "STORE") || iequals(o, "STOREDIST")) && has_value) {
      store = ++i;
    } else {
      return fail(error, "ERR syntax error");
    }
  }
  out.push_back(1);
  if (store != 0) out.push_back(static_cast<int>(store));
  return true;
}

}  // namespace

std::span<const CommandInfo> all_commands() { return kCommands; }

const CommandInfo* find_command(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return nullptr;
  std::array<char, kMaxNameLength> buf;
  uint32_t h = kNameHashSeed;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = ascii_upper(name[i]);
    buf[i] = c;
    h = name_hash_step(h, c);
  }
  // Subcommands ("OBJECT|ENCODING") are not in the index, so such a name finds nothing.
  for (size_t p = h & (kNameIndexSize - 1);; p = (p + 1) & (kNameIndexSize - 1)) {
    const uint16_t i = kNameIndex[p];
    if (i == kNoEntry) return nullptr;
    const CommandInfo& c = kCommands[i];
    if (c.name.size() == name.size() && std::memcmp(c.name.data(), buf.data(), name.size()) == 0) return &c;
  }
}

const CommandInfo* find_subcommand(const CommandInfo& container, std::string_view sub) {
  if (!container.is_container() || sub.empty() || sub.size() > kMaxSubNameLength) return nullptr;
  const size_t prefix = container.name.size() + 1;  // "OBJECT|"
  for (size_t i = container.first_sub; i < size_t{container.first_sub} + container.num_subs; ++i) {
    if (iequals(kCommands[i].name.substr(prefix), sub)) return &kCommands[i];
  }
  return nullptr;
}

const CommandInfo* resolve_command(std::span<const std::string_view> args) {
  if (args.empty()) return nullptr;
  const CommandInfo* cmd = find_command(args[0]);
  if (cmd == nullptr || !cmd->is_container() || args.size() < 2) return cmd;
  const CommandInfo* sub = find_subcommand(*cmd, args[1]);
  return sub != nullptr ? sub : cmd;
}

bool arity_ok(const CommandInfo& cmd, size_t argc) {
  if (cmd.arity >= 0) return argc == static_cast<size_t>(cmd.arity);
  return argc >= static_cast<size_t>(-cmd.arity);
}

bool command_keys(const CommandInfo& cmd, std::span<const std::string_view> args, std::vector<int>& out,
                  std::string& error) {
  switch (cmd.key_spec) {
    case K::kNone:
      return true;
    case K::kRange:
      return range_keys(cmd, args, out, error);
    case K::kNumKeys:
    case K::kBlockNumKeys:
      return numkeys_keys(cmd, args, cmd.first_key, out, error);
    case K::kDestNumKeys: {
      if (static_cast<size_t>(cmd.first_key) >= args.size()) return arity_fail(cmd, error);
      const size_t mark = out.size();
      out.push_back(cmd.first_key);
      if (!numkeys_keys(cmd, args, cmd.first_key + 1, out, error)) {
        out.resize(mark);
        return false;
      }
      return true;
    }
    case K::kStreams:
      return stream_keys(cmd, args, out, error);
    case K::kSort:
      return sort_keys(cmd, args, out, error);
    case K::kGeoStore:
      return geo_store_keys(cmd, args, out, error);
    case K::kSubcommand: {
      if (args.size() < 2) return arity_fail(cmd, error);
      const CommandInfo* sub = find_subcommand(cmd, args[1]);
      if (sub == nullptr) {
        std::string text = "ERR unknown subcommand '";
        append_sanitized(text, args[1].substr(0, 128));
        text += "'. Try ";
        text += cmd.name;
        text += " HELP.";
        return fail(error, std::move(text));
      }
      return command_keys(*sub, args, out, error);
    }
  }
  return true;
}

bool request_blocks(const CommandInfo& cmd, std::span<const std::string_view> args) {
  if (!cmd.has(kFlagBlocking)) return false;
  if (cmd.key_spec != K::kStreams) return true;
  for (size_t i = 1; i < args.size(); ++i) {
    const size_t more = args.size() - i - 1;
    if (iequals(args[i], "BLOCK") && more > 0) return true;
    if (iequals(args[i], "STREAMS")) return false;
    if (iequals(args[i], "COUNT") && more > 0) {
      ++i;
    } else if (iequals(args[i], "GROUP") && more >= 2) {
      i += 2;
    }
  }
  return false;
}

std::string wrong_arity_error(const CommandInfo& cmd) {
  return "ERR wrong number of arguments for '" + lower_name(cmd) + "' command";
}

std::string unknown_command_error(std::span<const std::string_view> args) {
  // As Redis's processCommand: the name up to 128 bytes, then quoted arguments until the
  // list reaches 128 bytes.
  std::string list;
  for (size_t i = 1; i < args.size() && list.size() < 128; ++i) {
    const size_t room = 128 - list.size();
    list += '\'';
    list.append(args[i].substr(0, room));
    list += "' ";
  }
  std::string text = "ERR unknown command '";
  if (!args.empty()) append_sanitized(text, args[0].substr(0, 128));
  text += "', with args beginning with: ";
  append_sanitized(text, list);
  return text;
}

std::string refusal_error(const CommandInfo& cmd) {
  std::string text = "ERR command '" + display_name(cmd) + "' is not ";
  text += cmd.has(kFlagNotYet) ? "supported by the proxy yet" : "allowed";
  if (!cmd.note.empty()) {
    text += ": ";
    text += cmd.note;
  }
  return text;
}

}  // namespace codis::proxy
