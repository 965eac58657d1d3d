"""Every supported command family answers through the proxy exactly as a
single direct redis-server does, and the data lands on the right group."""

from __future__ import annotations

import pytest

from compare import Raw, U, assert_placement, run_and_compare
from harness import Err, Status, key_in_slots, tag_in_slots

# keys in group 1 (slots 0-511) and group 2 (512-1023)
A = key_in_slots(0, 511, "a")
B = key_in_slots(512, 1023, "b")
N1 = key_in_slots(0, 511, "n")
N2 = key_in_slots(512, 1023, "n")
L1 = key_in_slots(0, 511, "l")
L2 = key_in_slots(512, 1023, "l")
H1 = key_in_slots(0, 511, "h")
H2 = key_in_slots(512, 1023, "h")
S1 = key_in_slots(0, 511, "s")
S2 = key_in_slots(512, 1023, "s")
Z1 = key_in_slots(0, 511, "z")
Z2 = key_in_slots(512, 1023, "z")
X1 = key_in_slots(0, 511, "x")
X2 = key_in_slots(512, 1023, "x")
G1 = key_in_slots(0, 511, "g")
G2 = key_in_slots(512, 1023, "g")
P1 = key_in_slots(0, 511, "p")
P2 = key_in_slots(512, 1023, "p")
MISSING = key_in_slots(512, 1023, "missing")
T1 = tag_in_slots(0, 511)      # "{t:N}" in group 1
T2 = tag_in_slots(512, 1023)   # "{t:M}" in group 2

BIN = b"bin\x00\r\n\xff value"
BIG = b"x" * 100_000

STRINGS = [
    ("SET", A, "hello"), ("GET", A), Raw(("GET", A)),
    ("SET", B, "world", "EX", 100), ("TTL", B), ("GET", B),
    ("APPEND", A, " there"), ("STRLEN", A), ("GETRANGE", A, 0, 4), ("GETRANGE", A, -3, -1),
    ("SETRANGE", A, 6, "X"), ("GET", A), ("SUBSTR", A, 0, 2),
    ("SET", N1, 10), ("INCR", N1), ("INCRBY", N1, 5), ("DECR", N1), ("DECRBY", N1, 3),
    ("INCRBYFLOAT", N1, "1.5"), ("GET", N1), ("INCR", A), ("INCRBY", N2, "x"),
    ("SET", N2, "9223372036854775807"), ("INCR", N2),
    ("GETSET", A, "x"), ("SETNX", A, "y"), ("SETNX", key_in_slots(0, 511, "c"), "y"),
    ("SETEX", key_in_slots(512, 1023, "c"), 100, "v"), ("TTL", key_in_slots(512, 1023, "c")),
    ("SETEX", A, -1, "v"),
    ("SET", A, "v", "NX"), ("SET", A, "v2", "XX", "GET"), ("SET", MISSING, "v", "XX"),
    ("GETDEL", key_in_slots(0, 511, "c")), ("GETDEL", key_in_slots(0, 511, "c")),
    ("GETEX", B, "PERSIST"), ("TTL", B), ("GETEX", B, "EX", 50), ("TTL", B),
    ("SET", B, "kept", "KEEPTTL"), ("TTL", B),
    ("SET", A, BIN), ("GET", A), Raw(("GET", A)), ("SET", B, ""), ("GET", B), Raw(("GET", B)),
    ("SET", A, BIG), ("STRLEN", A), ("GET", A),
    ("GET", MISSING), Raw(("GET", MISSING)),
    ("MSETNX", T1 + "x", 1, T1 + "y", 2), ("MSETNX", T1 + "x", 1, T1 + "z", 2),
    ("MGET", T1 + "x", T1 + "y", T1 + "z"),
    ("SET", T2 + "a", "ohmytext"), ("SET", T2 + "b", "mynewtext"), ("LCS", T2 + "a", T2 + "b"),
    ("LCS", T2 + "a", T2 + "b", "LEN"),
    ("RPUSH", L1, "x"), ("GET", L1), ("APPEND", L1, "x"),
    ("SET", A, "v", "EX", "notanumber"), ("SET", A, "v", "BADOPT"),
]

BITS = [
    ("SETBIT", A, 7, 1), ("GETBIT", A, 7), ("GETBIT", A, 6), ("SETBIT", A, 100, 1),
    ("BITCOUNT", A), ("BITCOUNT", A, 0, 0), ("BITCOUNT", A, 0, -1, "BIT"),
    ("BITPOS", A, 1), ("BITPOS", A, 0), ("GET", A),
    ("BITFIELD", B, "SET", "u8", 0, 200, "GET", "u8", 0, "INCRBY", "u8", 0, 100,
     "OVERFLOW", "SAT", "INCRBY", "u8", 0, 100),
    ("BITFIELD_RO", B, "GET", "u8", 0), ("BITFIELD_RO", B, "SET", "u8", 0, 1),
    ("SET", T1 + "a", "abc"), ("SET", T1 + "b", "a c"),
    ("BITOP", "AND", T1 + "d", T1 + "a", T1 + "b"), ("GET", T1 + "d"),
    ("BITOP", "OR", T1 + "d", T1 + "a", T1 + "b"), ("GET", T1 + "d"),
    ("BITOP", "XOR", T1 + "d", T1 + "a", T1 + "b"), ("GET", T1 + "d"),
    ("BITOP", "NOT", T1 + "n", T1 + "a"), ("GET", T1 + "n"),
    ("SETBIT", A, -1, 1), ("SETBIT", A, 1, 2), ("GETBIT", MISSING, 5),
]

HASHES = [
    ("HSET", H1, "f1", "v1", "f2", "v2"), ("HSET", H1, "f1", "v1b"), ("HGET", H1, "f1"),
    ("HMGET", H1, "f1", "nope", "f2"), ("HGETALL", H1), ("HLEN", H1),
    ("HEXISTS", H1, "f2"), ("HEXISTS", H1, "nope"), ("HDEL", H1, "f2", "nope"),
    ("HINCRBY", H1, "cnt", 5), ("HINCRBY", H1, "cnt", -7), ("HINCRBYFLOAT", H1, "fl", "2.5"),
    ("HKEYS", H1), ("HVALS", H1), ("HSETNX", H1, "f1", "x"), ("HSETNX", H1, "new", "x"),
    ("HSTRLEN", H1, "f1"), ("HMSET", H2, "a", 1, "b", 2), ("HGETALL", H2),
    ("HSET", H2 + "one", "only", "val"), ("HRANDFIELD", H2 + "one"),
    ("HRANDFIELD", H2 + "one", 1, "WITHVALUES"),
    ("HINCRBY", H1, "f1", 1), ("HGET", A, "f"), ("SET", A, "s"), ("HGET", A, "f"),
    ("HGET", MISSING, "f"), ("HGETALL", MISSING), ("HSET", H1, "odd"),
    ("OBJECT", "ENCODING", H1), ("DEL", H1), ("HLEN", H1),
]

LISTS = [
    ("RPUSH", L1, "a", "b", "c"), ("LPUSH", L1, "z"), ("LRANGE", L1, 0, -1), ("LLEN", L1),
    ("LINDEX", L1, 1), ("LINDEX", L1, 99), ("LSET", L1, 0, "y"), ("LSET", L1, 99, "y"),
    ("LINSERT", L1, "BEFORE", "b", "x"), ("LINSERT", L1, "AFTER", "nope", "x"),
    ("LRANGE", L1, 0, -1), ("RPUSH", L1, "a", "a"), ("LREM", L1, 2, "a"), ("LPOS", L1, "c"),
    ("LPOS", L1, "nope"), ("LTRIM", L1, 1, -1), ("LRANGE", L1, 0, -1),
    ("LPUSHX", L1, "px"), ("RPUSHX", MISSING, "x"), ("LPOP", L1), ("RPOP", L1, 2),
    ("LRANGE", L1, 0, -1), ("LPOP", MISSING), ("RPOP", MISSING, 2),
    ("RPUSH", L2, 3, 1, 2), ("LRANGE", L2, -100, 100),
    ("RPUSH", T2 + "src", "1", "2", "3"), ("LMOVE", T2 + "src", T2 + "dst", "LEFT", "RIGHT"),
    ("RPOPLPUSH", T2 + "src", T2 + "dst"), ("LRANGE", T2 + "dst", 0, -1),
    ("LRANGE", T2 + "src", 0, -1),
    ("RPUSH", T1 + "b", "x", "y", "z"), ("LMPOP", 2, T1 + "a", T1 + "b", "LEFT", "COUNT", 2),
    ("LMPOP", 2, T1 + "a", T1 + "b", "RIGHT"), ("LMPOP", 2, T1 + "a", T1 + "b", "RIGHT"),
    ("LPUSH", A, "x"), ("SET", A, "s"), ("LPUSH", A, "x"), ("LLEN", MISSING),
]

SETS = [
    ("SADD", S1, "a", "b", "c"), ("SADD", S1, "a"), ("SCARD", S1), ("SISMEMBER", S1, "a"),
    ("SISMEMBER", S1, "q"), ("SMISMEMBER", S1, "a", "q", "c"), U(("SMEMBERS", S1)),
    ("SREM", S1, "b", "q"), U(("SMEMBERS", S1)),
    ("SADD", S2, 3, 1, 2), ("SMEMBERS", S2), ("OBJECT", "ENCODING", S2), ("OBJECT", "ENCODING", S1),
    ("SADD", T1 + "a", "x", "y", "z"), ("SADD", T1 + "b", "y", "z", "w"),
    U(("SINTER", T1 + "a", T1 + "b")), U(("SUNION", T1 + "a", T1 + "b")),
    U(("SDIFF", T1 + "a", T1 + "b")),
    ("SINTERSTORE", T1 + "i", T1 + "a", T1 + "b"), U(("SMEMBERS", T1 + "i")),
    ("SUNIONSTORE", T1 + "u", T1 + "a", T1 + "b"), ("SCARD", T1 + "u"),
    ("SDIFFSTORE", T1 + "d", T1 + "a", T1 + "b"), U(("SMEMBERS", T1 + "d")),
    ("SINTERCARD", 2, T1 + "a", T1 + "b"), ("SINTERCARD", 2, T1 + "a", T1 + "b", "LIMIT", 1),
    ("SMOVE", T1 + "a", T1 + "b", "x"), ("SMOVE", T1 + "a", T1 + "b", "nope"),
    U(("SMEMBERS", T1 + "b")),
    ("SADD", S2 + "one", "only"), ("SRANDMEMBER", S2 + "one"), ("SRANDMEMBER", S2 + "one", 3),
    ("SPOP", S2 + "one"), ("SPOP", S2 + "one"), ("EXISTS", S2 + "one"), ("SPOP", MISSING, 2),
    ("SADD", A), ("SET", A, "s"), ("SADD", A, "x"), ("SMEMBERS", MISSING),
]

ZSETS = [
    ("ZADD", Z1, 1, "a", 2, "b", 3, "c"), ("ZADD", Z1, "NX", 5, "a"),
    ("ZADD", Z1, "XX", "CH", 10, "a"), ("ZADD", Z1, "INCR", 1, "b"),
    ("ZSCORE", Z1, "a"), ("ZSCORE", Z1, "nope"), ("ZMSCORE", Z1, "a", "nope", "c"),
    ("ZINCRBY", Z1, "2.5", "c"), ("ZRANGE", Z1, 0, -1, "WITHSCORES"),
    ("ZRANGE", Z1, "(1", 10, "BYSCORE", "LIMIT", 0, 2), ("ZRANGE", Z1, 0, -1, "REV"),
    ("ZRANGEBYSCORE", Z1, "-inf", "+inf", "WITHSCORES"), ("ZREVRANGEBYSCORE", Z1, "+inf", 3),
    ("ZREVRANGE", Z1, 0, 1, "WITHSCORES"), ("ZRANK", Z1, "c"), ("ZREVRANK", Z1, "c"),
    ("ZRANK", Z1, "nope"), ("ZCARD", Z1), ("ZCOUNT", Z1, 3, 10),
    ("ZADD", Z2, 0, "a", 0, "b", 0, "c", 0, "d"), ("ZRANGEBYLEX", Z2, "[a", "(c"),
    ("ZREVRANGEBYLEX", Z2, "+", "-", "LIMIT", 1, 2), ("ZLEXCOUNT", Z2, "-", "+"),
    ("ZREMRANGEBYLEX", Z2, "[a", "[b"), ("ZRANGE", Z2, 0, -1),
    ("ZREM", Z1, "a", "nope"), ("ZADD", Z1, 7, "d", 8, "e", 9, "f"),
    ("ZREMRANGEBYSCORE", Z1, 7, 7), ("ZREMRANGEBYRANK", Z1, 0, 0), ("ZRANGE", Z1, 0, -1, "WITHSCORES"),
    ("ZPOPMIN", Z1), ("ZPOPMAX", Z1, 2), ("ZRANGE", Z1, 0, -1, "WITHSCORES"),
    ("ZADD", T2 + "a", 1, "x", 2, "y"), ("ZADD", T2 + "b", 10, "y", 20, "z"),
    ("ZUNIONSTORE", T2 + "o", 2, T2 + "a", T2 + "b", "WEIGHTS", 1, 2),
    ("ZRANGE", T2 + "o", 0, -1, "WITHSCORES"),
    ("ZINTERSTORE", T2 + "i", 2, T2 + "a", T2 + "b", "AGGREGATE", "MAX"),
    ("ZRANGE", T2 + "i", 0, -1, "WITHSCORES"),
    ("ZUNION", 2, T2 + "a", T2 + "b", "WITHSCORES"), ("ZINTER", 2, T2 + "a", T2 + "b"),
    ("ZDIFF", 2, T2 + "a", T2 + "b", "WITHSCORES"), ("ZINTERCARD", 2, T2 + "a", T2 + "b"),
    ("ZRANGESTORE", T2 + "r", T2 + "a", 0, 0), ("ZRANGE", T2 + "r", 0, -1),
    ("ZADD", Z2 + "one", 5, "only"), ("ZRANDMEMBER", Z2 + "one"),
    ("ZRANDMEMBER", Z2 + "one", 2, "WITHSCORES"),
    ("ZMPOP", 1, Z2, "MIN"), ("ZMPOP", 2, T2 + "a", T2 + "b", "MAX", "COUNT", 5),
    ("ZADD", Z1, "notafloat", "x"), ("ZADD", Z1, "NX", "XX", 1, "x"), ("ZSCORE", A, "x"),
    ("SET", A, "s"), ("ZADD", A, 1, "x"), ("ZCARD", MISSING),
]

STREAMS = [
    ("XADD", X1, "1-1", "f", "v1"), ("XADD", X1, "2-1", "f", "v2", "g", "w"),
    ("XADD", X1, "1-0", "f", "old"), ("XADD", X1, "3-0", "a", "b"), ("XLEN", X1),
    ("XRANGE", X1, "-", "+"), ("XRANGE", X1, "-", "+", "COUNT", 1), ("XREVRANGE", X1, "+", "-", "COUNT", 2),
    ("XDEL", X1, "1-1", "9-9"), ("XLEN", X1),
    ("XGROUP", "CREATE", X1, "grp", "0"), ("XGROUP", "CREATE", X1, "grp", "0"),
    ("XGROUP", "CREATECONSUMER", X1, "grp", "alice"),
    ("XACK", X1, "grp", "2-1"), ("XPENDING", X1, "grp"),
    ("XINFO", "STREAM", X1), ("XINFO", "GROUPS", X1),
    ("XTRIM", X1, "MAXLEN", 1), ("XRANGE", X1, "-", "+"),
    ("XADD", X2, "MAXLEN", 2, "5-0", "k", "v"), ("XADD", X2, "6-0", "k", "v"),
    ("XADD", X2, "7-0", "k", "v"), ("XADD", X2, "MAXLEN", 2, "8-0", "k", "v"),
    ("XLEN", X2), ("XRANGE", X2, "-", "+"), ("XSETID", X2, "100-0"),
    ("XADD", X2, "99-0", "k", "v"), ("XINFO", "STREAM", X2),
    ("XGROUP", "DESTROY", X1, "grp"), ("XGROUP", "DESTROY", X1, "grp"),
    ("XLEN", MISSING), ("XRANGE", MISSING, "-", "+"), ("SET", A, "s"), ("XADD", A, "1-0", "a", "b"),
]

HYPERLOGLOG = [
    ("PFADD", P1, "a", "b", "c"), ("PFADD", P1, "a"), ("PFCOUNT", P1), ("GET", P1),
    ("PFADD", P2), ("PFCOUNT", P2), ("PFCOUNT", MISSING),
    ("PFADD", T1 + "p", "a", "b"), ("PFADD", T1 + "q", "b", "c", "d"),
    ("PFCOUNT", T1 + "p", T1 + "q"), ("PFMERGE", T1 + "m", T1 + "p", T1 + "q"),
    ("PFCOUNT", T1 + "m"), ("SET", A, "notanhll"), ("PFADD", A, "x"), ("PFCOUNT", A),
]

GEO = [
    ("GEOADD", G1, "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"),
    ("GEOADD", G1, "NX", "13.361389", "38.115556", "Palermo"),
    ("GEODIST", G1, "Palermo", "Catania"), ("GEODIST", G1, "Palermo", "Catania", "km"),
    ("GEODIST", G1, "Palermo", "Nowhere"),
    ("GEOPOS", G1, "Palermo", "Nowhere"), ("GEOHASH", G1, "Palermo", "Catania"),
    ("GEOSEARCH", G1, "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km", "ASC", "WITHDIST", "WITHCOORD"),
    ("GEOSEARCH", G1, "FROMMEMBER", "Palermo", "BYBOX", 400, 400, "km", "DESC", "COUNT", 1),
    ("GEORADIUS", G1, 15, 37, 200, "km", "ASC"),
    ("GEORADIUS_RO", G1, 15, 37, 200, "km", "WITHDIST", "ASC"),
    ("GEORADIUSBYMEMBER", G1, "Palermo", 200, "km", "ASC"),
    ("GEOADD", T2 + "s", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"),
    ("GEOSEARCHSTORE", T2 + "d", T2 + "s", "FROMLONLAT", 15, 37, "BYRADIUS", 100, "km", "ASC"),
    ("ZRANGE", T2 + "d", 0, -1, "WITHSCORES"),
    ("GEOADD", G2, "200", "100", "bad"), ("GEOPOS", MISSING, "x"),
]

GENERIC = [
    ("SET", A, "v"), ("EXPIRE", A, 100), ("TTL", A), ("EXPIRE", A, 50, "GT"), ("TTL", A),
    ("EXPIRE", A, 50, "LT"), ("TTL", A), ("EXPIRE", MISSING, 10),
    ("EXPIREAT", A, 4102444800), ("EXPIRETIME", A), ("PEXPIRETIME", A),
    ("PEXPIREAT", A, 4102444800123), ("PEXPIRETIME", A),
    ("PERSIST", A), ("PERSIST", A), ("TTL", A), ("PTTL", A), ("TTL", MISSING), ("PTTL", MISSING),
    ("EXPIRETIME", MISSING),
    ("TYPE", A), ("RPUSH", L2, "x"), ("TYPE", L2), ("HSET", H2, "f", "v"), ("TYPE", H2),
    ("SADD", S1, "m"), ("TYPE", S1), ("ZADD", Z1, 1, "m"), ("TYPE", Z1), ("XADD", X1, "1-0", "a", "b"),
    ("TYPE", X1), ("TYPE", MISSING),
    ("SET", T1 + "a", "va"), ("SET", T1 + "e", "ve", "EX", 1000),
    ("RENAME", T1 + "a", T1 + "b"), ("GET", T1 + "b"), ("EXISTS", T1 + "a"),
    ("RENAME", T1 + "nope", T1 + "c"), ("RENAMENX", T1 + "b", T1 + "e"),
    ("RENAMENX", T1 + "b", T1 + "c"), ("RENAME", T1 + "e", T1 + "c"), ("TTL", T1 + "c"),
    ("COPY", T1 + "c", T1 + "d"), ("COPY", T1 + "c", T1 + "d"), ("SET", T1 + "c", "new"),
    ("COPY", T1 + "c", T1 + "d", "REPLACE"), ("GET", T1 + "d"), ("TTL", T1 + "d"),
    ("SET", N1, 12345), ("OBJECT", "ENCODING", N1), ("OBJECT", "ENCODING", A),
    ("SET", B, "x" * 100), ("OBJECT", "ENCODING", B), ("OBJECT", "ENCODING", L2),
    ("OBJECT", "ENCODING", Z1), ("OBJECT", "ENCODING", MISSING), ("OBJECT", "REFCOUNT", A),
    ("EXISTS", A), ("EXISTS", MISSING), ("TOUCH", A), ("DEL", A), ("DEL", A), ("UNLINK", B),
    ("UNLINK", B), ("EXISTS", A),
    ("SET", A, "v", "PX", 100000), ("PERSIST", A), ("TTL", A),
]

EVAL = [
    ("EVAL", "return redis.call('SET', KEYS[1], ARGV[1])", 1, A, "fromlua"), ("GET", A),
    ("EVAL", "return {KEYS[1], KEYS[2], redis.call('GET', KEYS[1]), tonumber(ARGV[1]) + 1}", 2,
     T1 + "a", T1 + "b", 41),
    ("EVAL", "redis.call('RPUSH', KEYS[1], 'x', 'y'); return redis.call('LRANGE', KEYS[1], 0, -1)",
     1, L2),
    ("EVAL", "return redis.call('INCR', KEYS[1])", 1, A),
    ("EVAL", "return redis.error_reply('MYERR custom')", 1, B),
    ("EVAL", "return {1, 'two', {3}, false, 4.7}", 1, B),
    ("EVAL", "return redis.call('GET', KEYS[1])", 1, MISSING),
    ("EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", 1, A),   # sha1("return 1") never loaded
    ("EVAL", "return 1", 1, A),
    ("EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", 1, A),
    ("EVAL", "this is not lua", 1, A),
]

FAMILIES = {
    "strings": STRINGS, "bits": BITS, "hashes": HASHES, "lists": LISTS, "sets": SETS,
    "zsets": ZSETS, "streams": STREAMS, "hyperloglog": HYPERLOGLOG, "geo": GEO,
    "generic": GENERIC, "eval": EVAL,
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_matches_direct_redis(cluster, family):
    with cluster.proxy.conn() as pc, cluster.direct.conn() as dc:
        run_and_compare(pc, dc, FAMILIES[family], family)
        assert pc.call("PING") == Status("PONG")
    assert_placement(cluster)


def test_stream_reads_non_blocking(cluster):
    cmds = [
        ("XADD", X1, "1-0", "a", "1"), ("XADD", X1, "2-0", "b", "2"),
        ("XREAD", "COUNT", 10, "STREAMS", X1, "0"), ("XREAD", "STREAMS", X1, "1-0"),
        ("XREAD", "COUNT", 1, "STREAMS", X1, "$"),
        ("XADD", T2 + "s1", "1-0", "a", "1"), ("XADD", T2 + "s2", "1-0", "b", "1"),
        ("XREAD", "STREAMS", T2 + "s1", T2 + "s2", "0", "0"),
        ("XGROUP", "CREATE", X1, "g", "0"),
        ("XREADGROUP", "GROUP", "g", "c1", "COUNT", 1, "STREAMS", X1, ">"),
        ("XREADGROUP", "GROUP", "g", "c1", "STREAMS", X1, "0"),
        ("XACK", X1, "g", "1-0"), ("XPENDING", X1, "g"),
        ("XREADGROUP", "GROUP", "nogroup", "c1", "STREAMS", X1, ">"),
    ]
    with cluster.proxy.conn() as pc, cluster.direct.conn() as dc:
        run_and_compare(pc, dc, cmds, "stream reads")
    assert_placement(cluster)


def test_key_scans(cluster):
    """HSCAN/SSCAN/ZSCAN are single-key commands (unlike SCAN)."""
    cmds = [
        ("HSET", H1, "a", 1, "b", 2), ("HSCAN", H1, 0), ("HSCAN", H1, 0, "MATCH", "a*", "COUNT", 10),
        ("SADD", S2, 1, 2, 3), ("SSCAN", S2, 0), ("ZADD", Z1, 1, "a"), ("ZSCAN", Z1, 0),
    ]
    with cluster.proxy.conn() as pc, cluster.direct.conn() as dc:
        run_and_compare(pc, dc, cmds, "key scans")


def test_sort(cluster):
    cmds = [
        ("RPUSH", L1, 3, 1, 2), ("SORT", L1), ("SORT", L1, "DESC", "LIMIT", 0, 2),
        ("RPUSH", L2, "b", "a"), ("SORT", L2, "ALPHA"), ("SORT", L2),
        ("SORT_RO", L1), ("SORT", T1 + "src", "STORE", T1 + "dst"),
    ]
    with cluster.proxy.conn() as pc, cluster.direct.conn() as dc:
        run_and_compare(pc, dc, cmds, "sort")


def test_dump_restore(cluster):
    """DUMP through the proxy equals DUMP on direct Redis, and RESTORE of it
    works through the proxy into either group."""
    setup = [("RPUSH", L1, "a", "b", "c"), ("HSET", H2, "f", "v"), ("SET", A, "str")]
    with cluster.proxy.conn() as pc, cluster.direct.conn() as dc:
        run_and_compare(pc, dc, setup, "dump setup")
        for key, target in ((L1, L2), (H2, H1), (A, B)):
            payload = pc.call("DUMP", key)
            assert isinstance(payload, bytes) and payload == dc.call("DUMP", key)
            run_and_compare(pc, dc, [
                ("RESTORE", target, 0, payload), ("RESTORE", target, 0, payload),
                ("RESTORE", target, 0, payload, "REPLACE"), ("TYPE", target),
                ("RESTORE", target, 0, b"garbage", "REPLACE"),
                ("DUMP", MISSING),
            ], f"restore {key}->{target}")
        assert pc.call("LRANGE", L2, 0, -1) == [b"a", b"b", b"c"]
    assert_placement(cluster)


def test_binary_keys(cluster):
    """Keys with NUL, CR/LF, 0xff and braces route by Codis's slot rule."""
    keys = [b"\x00a\x00", b"k{\x00a\x00}v", b"\xff\xfe", b"line\r\nbreak", b"{}empty", b"a}b{c}", b"", b"x{a{b}c}"]
    cmds = []
    for i, k in enumerate(keys):
        cmds += [("SET", k, b"v%d" % i), ("GET", k), ("APPEND", k, b"\r\n"), ("STRLEN", k)]
    with cluster.proxy.conn() as pc, cluster.direct.conn() as dc:
        run_and_compare(pc, dc, cmds, "binary keys")
    assert_placement(cluster)
