"""Cluster-wide commands: answered for the whole cluster as one Redis would
(DBSIZE, KEYS, RANDOMKEY, SCAN, FLUSHDB/FLUSHALL, SCRIPT/FUNCTION
broadcast, keyless EVAL), plus the proxy-local handshake answers."""

from __future__ import annotations

import pytest

from harness import Err, Status, keys_in_slots, two_group_slots

pytestmark = pytest.mark.real_proxy

A = keys_in_slots(0, 511, 40, "ca")       # group 1
B = keys_in_slots(512, 1023, 40, "cb")    # group 2


def _fill(c, keys, value="v"):
    for k in keys:
        assert c.call("SET", k, value) == Status("OK")


def test_dbsize_keys_randomkey(cluster):
    with cluster.proxy.conn() as c:
        assert c.call("DBSIZE") == 0
        assert c.call("RANDOMKEY") is None
        _fill(c, A + B)
        with cluster.g1.conn() as g1, cluster.g2.conn() as g2:
            assert g1.call("DBSIZE") == len(A) and g2.call("DBSIZE") == len(B)
        assert c.call("DBSIZE") == len(A) + len(B)
        assert sorted(c.call("KEYS", "c*")) == sorted(k.encode() for k in A + B)
        assert sorted(c.call("KEYS", "cb*")) == sorted(k.encode() for k in B)
        assert c.call("KEYS", "nomatch*") == []
        seen = {c.call("RANDOMKEY") for _ in range(30)}
        assert seen <= {k.encode() for k in A + B} and len(seen) > 1
        c.call("SELECT", 3)
        assert c.call("DBSIZE") == 0                       # per database, as in Redis


def test_keys_guard(make_redis, make_proxy):
    g1, g2 = make_redis(), make_redis()
    proxy = make_proxy(two_group_slots(g1.addr, g2.addr), config={"proxy_keys_max_results": 50})
    with proxy.conn() as c:
        _fill(c, A + B)                                   # 80 keys
        r = c.call("KEYS", "*")
        assert isinstance(r, Err) and "proxy_keys_max_results" in r.message and "SCAN" in r.message
        assert len(c.call("KEYS", "ca*")) == 40           # under the limit: fine
        assert c.call("PING") == Status("PONG")


def test_scan_visits_every_group_once(cluster):
    with cluster.proxy.conn() as c:
        _fill(c, A + B)
        c.call("HSET", "chash{x}", "f", "v")
        for count in (1, 7, 1000):
            cursor, seen, rounds = b"0", [], 0
            while True:
                cursor, keys = c.call("SCAN", cursor, "COUNT", count)
                seen += keys
                rounds += 1
                assert rounds < 10000
                if cursor == b"0":
                    break
            assert sorted(set(seen)) == sorted({k.encode() for k in A + B} | {b"chash{x}"}), count
        # MATCH and TYPE go through to every group
        cursor, seen = b"0", []
        while True:
            cursor, keys = c.call("SCAN", cursor, "MATCH", "cb*", "COUNT", 100)
            seen += keys
            if cursor == b"0":
                break
        assert sorted(set(seen)) == sorted(k.encode() for k in B)
        cursor, seen = b"0", []
        while True:
            cursor, keys = c.call("SCAN", cursor, "TYPE", "hash", "COUNT", 100)
            seen += keys
            if cursor == b"0":
                break
        assert seen == [b"chash{x}"]
        assert isinstance(c.call("SCAN", "notanumber"), Err)
        assert c.call("SCAN", 5000) == [b"0", []]         # past the last group: done
        assert c.call("PING") == Status("PONG")


def test_flush_disabled_by_default(cluster):
    with cluster.proxy.conn() as c:
        _fill(c, A[:3] + B[:3])
        for cmd in (("FLUSHDB",), ("FLUSHALL",), ("flushall", "ASYNC")):
            r = c.call(*cmd)
            assert isinstance(r, Err) and "proxy_allow_flush" in r.message, r
        assert c.call("DBSIZE") == 6


def test_flush_when_allowed(make_redis, make_proxy):
    g1, g2 = make_redis(), make_redis()
    proxy = make_proxy(two_group_slots(g1.addr, g2.addr), config={"proxy_allow_flush": True})
    with proxy.conn() as c:
        _fill(c, A + B)
        c.call("SELECT", 1)
        _fill(c, A[:2])
        assert c.call("FLUSHDB") == Status("OK")          # db 1 only
        assert c.call("DBSIZE") == 0
        c.call("SELECT", 0)
        assert c.call("DBSIZE") == len(A) + len(B)
        assert c.call("FLUSHALL") == Status("OK")
        assert c.call("DBSIZE") == 0
    for g in (g1, g2):
        with g.conn() as d:
            assert d.call("DBSIZE") == 0


def test_scripts_loaded_everywhere(cluster):
    script = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
    with cluster.proxy.conn() as c:
        sha = c.call("SCRIPT", "LOAD", script)
        with cluster.direct.conn() as d:
            assert sha == d.call("SCRIPT", "LOAD", script)
        assert c.call("SCRIPT", "EXISTS", sha, "0" * 40) == [1, 0]
        for k in (A[0], B[0]):                              # both groups have it
            assert c.call("EVALSHA", sha, 1, k, 5) == 5
        assert c.call("EVAL", "return 40 + 2", 0) == 42     # no keys: any group
        assert c.call("EVAL", "return ARGV[1]", 0, "x") == b"x"
        assert c.call("SCRIPT", "FLUSH") == Status("OK")
        assert c.call("SCRIPT", "EXISTS", sha) == [0]
        r = c.call("EVALSHA", sha, 1, A[0], 1)
        assert isinstance(r, Err) and r.message.startswith("NOSCRIPT"), r
        # one group missing the script: EXISTS says 0 (EVALSHA would fail there)
        with cluster.g1.conn() as g1:
            g1.call("SCRIPT", "LOAD", script)
        assert c.call("SCRIPT", "EXISTS", sha) == [0]


def test_functions_loaded_everywhere(cluster):
    lib = "#!lua name=cdlib\nredis.register_function('cdget', function(keys, args) return redis.call('GET', keys[1]) end)"
    with cluster.proxy.conn() as c:
        try:
            assert c.call("FUNCTION", "LOAD", lib) == b"cdlib"
            _fill(c, [A[1], B[1]], "fv")
            assert c.call("FCALL", "cdget", 1, A[1]) == b"fv"
            assert c.call("FCALL", "cdget", 1, B[1]) == b"fv"
            listing = c.call("FUNCTION", "LIST")
            assert b"cdlib" in repr(listing).encode()
            r = c.call("FUNCTION", "LOAD", lib)             # already there: Redis's own error
            assert isinstance(r, Err) and "already exists" in r.message
            assert c.call("FUNCTION", "DELETE", "cdlib") == Status("OK")
            assert isinstance(c.call("FCALL", "cdget", 1, A[1]), Err)
        finally:
            c.call("FUNCTION", "FLUSH")
        for g in (cluster.g1, cluster.g2):
            with g.conn() as d:
                assert d.call("FUNCTION", "LIST") == []


def test_handshakes(cluster):
    with cluster.proxy.conn() as c:
        assert c.call("CONFIG", "GET", "databases") == [b"databases", b"16"]
        got = c.call("CONFIG", "GET", "maxmemory*")
        assert got[0::2] == [b"maxmemory", b"maxmemory-policy"]
        assert c.call("CONFIG", "GET", "nosuchparam") == []
        assert isinstance(c.call("CONFIG", "SET", "maxmemory", "1"), Err)
        assert c.call("CLIENT", "GETNAME") is None
        assert c.call("CLIENT", "SETNAME", "app1") == Status("OK")
        assert c.call("CLIENT", "GETNAME") == b"app1"
        assert isinstance(c.call("CLIENT", "ID"), int)
        info = c.call("CLIENT", "INFO")
        assert b"name=app1" in info and b"db=0" in info
        c.call("SELECT", 2)
        assert c.call("RESET") == Status("RESET")
        assert c.call("CLIENT", "GETNAME") is None
        c.call("SET", A[0], "db0")
        with cluster.g1.conn() as g1:
            assert g1.call("GET", A[0]) == b"db0"          # RESET went back to db 0


def test_scan_while_a_slot_migrates(make_redis, make_proxy):
    """Keys of a slot moving from group 1 to group 2 in the middle of a SCAN
    are all returned (at least once); the cursor stays valid across the
    routing change."""
    g1, g2 = make_redis(), make_redis()
    slots = two_group_slots(g1.addr, g2.addr)
    proxy = make_proxy(slots)
    from harness import key_in_slot as kis
    moving = [kis(77, f"mv{i}-") for i in range(20)]
    moving = sorted(set(moving))
    with proxy.conn() as c:
        _fill(c, A + B + moving)
        cursor, seen = b"0", []
        cursor, keys = c.call("SCAN", cursor, "COUNT", 5)
        seen += keys
        assert cursor != b"0"
        # migrate slot 77: copy to group 2, delete from group 1, route with migrate_from
        with g1.conn() as s1, g2.conn() as s2:
            for k in moving:
                dump = s1.call("DUMP", k)
                assert s2.call("RESTORE", k, 0, dump) == Status("OK")
                s1.call("DEL", k)
        slots[77] = {"id": 77, "backend_addr": g2.addr, "backend_addr_group_id": 2,
                     "migrate_from": g1.addr, "migrate_from_group_id": 1, "forward_method": 1}
        proxy.fillslots([slots[77]])
        rounds = 0
        while cursor != b"0":
            cursor, keys = c.call("SCAN", cursor, "COUNT", 5)
            seen += keys
            rounds += 1
            assert rounds < 1000
        assert set(seen) >= {k.encode() for k in A + B + moving}
