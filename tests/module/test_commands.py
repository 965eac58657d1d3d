"""SLOTSHASHKEY / SLOTSINFO / SLOTSSCAN / SLOTSDEL / SLOTSCHECK / SLOTSRESTORE /
SLOTSMGRT-EXEC-WRAPPER replies (Codis 3.2 shapes) and argument errors."""

import pytest
import redis

from conftest import assert_index_matches, keys_in_slot, slot_of, tag_in_slot


@pytest.fixture
def server(make_redis):
    return make_redis()


def test_slotshashkey_matches_codis_rule(server):
    c = server.client()
    keys = ["foo", "", "{}", "{}x", "a{b}c", "a{b", "a}b{c}", "{{x}}", "{user1}:name", "x" * 300, "\xff\x00bin"]
    assert c.execute_command("SLOTSHASHKEY", *keys) == [slot_of(k) for k in keys]
    assert c.execute_command("SLOTSHASHKEY") == []
    # Known values from Codis (crc32 % 1024).
    assert c.execute_command("SLOTSHASHKEY", "foo") == [slot_of("foo")]


def test_slotsinfo_and_slotsscan(server):
    c = server.client()
    s = 7
    keys = keys_in_slot(s, 250)
    c.mset({k: "v" for k in keys})
    c.set("other", 1)
    info = c.execute_command("SLOTSINFO")
    assert [s, 250] in info and [slot_of("other"), 1] in info and len(info) == 2
    assert c.execute_command("SLOTSINFO", s, 1) == [[s, 250]]
    assert c.execute_command("SLOTSINFO", s + 1) == ([[slot_of("other"), 1]] if slot_of("other") > s else [])
    assert c.execute_command("SLOTSINFO", 0, 0) == []
    # Full SLOTSSCAN iteration with deletions and insertions in between: every
    # key present throughout is returned.
    seen, cursor, rounds = set(), b"0", 0
    while True:
        cursor, batch = c.execute_command("SLOTSSCAN", s, cursor, "COUNT", 20)
        assert len(batch) <= 20
        seen.update(x.decode() for x in batch)
        rounds += 1
        if rounds == 3:
            c.delete(*keys[200:])
            c.mset({k: "v" for k in keys_in_slot(s, 300)[250:]})
        if cursor == b"0":
            break
    assert set(keys[:200]) <= seen
    assert rounds >= 10
    cursor, batch = c.execute_command("SLOTSSCAN", 1000, 0)
    assert (cursor, batch) == (b"0", [])
    # Other dbs have their own index.
    assert server.client(3).execute_command("SLOTSINFO") == []


def test_slotsdel(server):
    c = server.client()
    a, b = keys_in_slot(1, 50), keys_in_slot(2, 5)
    c.mset({k: "v" for k in a + b})
    c.sadd("{" + tag_in_slot(1) + "}set", "x")
    assert c.execute_command("SLOTSDEL", 1, 3) == [[1, 0], [3, 0]]
    assert c.execute_command("SLOTSINFO") == [[2, 5]]
    assert all(not c.exists(k) for k in a)
    assert c.dbsize() == 5


def test_slotscheck_ok_and_repairs(make_redis):
    from conftest import MODULE
    server = make_redis(module=False, args=["--enable-module-command", "yes"])
    c = server.client()
    c.mset({f"k{i}": i for i in range(100)})
    server.client(5).set("in-db5", 1)
    # Keys that existed before the module was loaded are not in the index:
    # SLOTSCHECK reports the drift and repairs it.
    c.execute_command("MODULE", "LOAD", str(MODULE))
    c.set("after-load", 1)
    with pytest.raises(redis.ResponseError, match=r"drift repaired: db 0: 0 stale, 100 missing .*db 5: 0 stale, 1 missing"):
        c.execute_command("SLOTSCHECK")
    assert c.execute_command("SLOTSCHECK") == b"OK"
    assert_index_matches(server, [0, 5])


def test_slotsrestore(server, make_redis):
    c = server.client()
    c.hset("h", mapping={"a": 1, "b": 2})
    c.set("s", "x")
    dh, ds = c.dump("h"), c.dump("s")
    other = make_redis().client()
    other.set("s", "old")
    assert other.execute_command("SLOTSRESTORE", "h", 0, dh, "s", 50000, ds) == b"OK"
    assert other.hgetall("h") == {b"a": b"1", b"b": b"2"}
    assert other.get("s") == b"x"
    assert 40000 < other.pttl("s") <= 50000
    assert other.ttl("h") == -1
    with pytest.raises(redis.ResponseError, match="SLOTSRESTORE of key 'z'"):
        other.execute_command("SLOTSRESTORE", "z", 0, b"garbage")
    with pytest.raises(redis.ResponseError, match="invalid ttl"):
        other.execute_command("SLOTSRESTORE", "z", -1, dh)
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        other.execute_command("SLOTSRESTORE", "z", 0)
    assert not other.exists("z")


def test_exec_wrapper(server):
    c = server.client()
    c.set("k", 5)
    assert c.execute_command("SLOTSMGRT-EXEC-WRAPPER", "k", "INCR", "k") == [2, 6]
    assert c.execute_command("SLOTSMGRT-EXEC-WRAPPER", "k", "GET", "k") == [2, b"6"]
    r = c.execute_command("SLOTSMGRT-EXEC-WRAPPER", "missing", "GET", "missing")
    assert r[0] == 0 and "doesn't exist" in str(r[1])
    r = c.execute_command("SLOTSMGRT-EXEC-WRAPPER", "k", "NOSUCHCMD", "k")
    assert r[0] == -1 and "unknown command" in str(r[1])
    r = c.execute_command("SLOTSMGRT-EXEC-WRAPPER", "k", "GET")
    assert r[0] == -1 and "wrong number of arguments" in str(r[1])
    r = c.execute_command("SLOTSMGRT-EXEC-WRAPPER", "k")
    assert r[0] == -1
    r = c.execute_command("SLOTSMGRT-EXEC-WRAPPER", "k", "LPUSH", "k", "x")
    assert r[0] == 2 and "WRONGTYPE" in str(r[1])


@pytest.mark.parametrize(
    "cmd, match",
    [
        (["SLOTSINFO", "x"], "invalid slot number"),
        (["SLOTSINFO", 1024], "invalid slot number"),
        (["SLOTSINFO", -1], "invalid slot number"),
        (["SLOTSINFO", 0, -5], "invalid slot count"),
        (["SLOTSINFO", 0, 1, 2], "wrong number of arguments"),
        (["SLOTSSCAN", 1], "wrong number of arguments"),
        (["SLOTSSCAN", 1024, 0], "invalid slot number"),
        (["SLOTSSCAN", 1, "abc"], "invalid cursor"),
        (["SLOTSSCAN", 1, 0, "COUNT", 0], "invalid COUNT"),
        (["SLOTSSCAN", 1, 0, "LIMIT", 5], "syntax error"),
        (["SLOTSDEL"], "wrong number of arguments"),
        (["SLOTSDEL", 1, "x"], "invalid slot number"),
        (["SLOTSCHECK", "x"], "wrong number of arguments"),
        (["SLOTSMGRTONE", "127.0.0.1", "notaport", 100, "k"], "invalid port"),
        (["SLOTSMGRTONE", "127.0.0.1", 70000, 100, "k"], "invalid port"),
        (["SLOTSMGRTONE", "127.0.0.1", 6379, -1, "k"], "invalid timeout"),
        (["SLOTSMGRTSLOT", "127.0.0.1", 6379, 100, 5000], "invalid slot number"),
        (["SLOTSMGRTTAGSLOT", "127.0.0.1", 6379, 100], "wrong number of arguments"),
        (["SLOTSMGRTTAGONE", "127.0.0.1", 6379, 100, "k", "extra"], "wrong number of arguments"),
    ],
)
def test_bad_arguments(server, cmd, match):
    c = server.client()
    c.set("k", 1)
    with pytest.raises(redis.ResponseError, match=match):
        c.execute_command(*cmd)
    assert c.get("k") == b"1"
    assert c.ping()
