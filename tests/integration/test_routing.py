"""Multi-key commands split across groups, CROSSSLOT, refused / unsupported /
unknown commands, arity errors."""

from __future__ import annotations

import pytest

from compare import assert_placement, run_and_compare
from harness import Err, Status, key_in_slots, keys_in_slots, slot_of, tag_in_slots

pytestmark = pytest.mark.real_proxy

K1 = keys_in_slots(0, 511, 4, "m")          # group 1
K2 = keys_in_slots(512, 1023, 4, "m")       # group 2
MISS1 = key_in_slots(0, 511, "nokey")
MISS2 = key_in_slots(512, 1023, "nokey")
CROSSSLOT = Err("CROSSSLOT Keys in request don't hash to the same slot")


def test_split_multikey_commands_match_direct(cluster):
    a, b, c, d = K1
    w, x, y, z = K2
    cmds = [
        ("MSET", a, "va", w, "vw", b, "vb", x, "vx"),
        ("MGET", a, w, b, x, MISS1, MISS2),
        ("MGET", w, a, w, a, MISS2),                         # duplicates, order kept
        ("MSET", c, "1", y, "2", c, "3", y, "4"),             # duplicate keys: last wins
        ("MGET", c, y),
        ("EXISTS", a, w, MISS1, MISS2, a, a, w),              # duplicates count twice
        ("TOUCH", a, w, MISS1, b, x, MISS2),
        ("DEL", a, w, MISS1, MISS2),
        ("MGET", a, w, b, x),
        ("UNLINK", b, x, b, x, MISS2),
        ("EXISTS", a, b, c, w, x, y),
        ("MSET", d, "d", z, "z"), ("DEL", d, z, d, z),
        ("MGET", MISS1), ("DEL", MISS2), ("EXISTS", MISS1), ("UNLINK", MISS1), ("TOUCH", MISS2),
        ("MSET", a, "odd", w), ("MSET",), ("MGET",), ("DEL",), ("EXISTS",),
        ("RPUSH", a, "list"), ("MGET", a, y, c),               # wrong type -> nil in MGET
    ]
    with cluster.proxy.conn() as pc, cluster.direct.conn() as dc:
        run_and_compare(pc, dc, cmds, "split multi-key")
    assert_placement(cluster)


def test_mset_data_lands_on_owning_group(cluster):
    keys = keys_in_slots(0, 1023, 40, "spread")
    assert {slot_of(k) < 512 for k in keys} == {True, False}
    args = []
    for k in keys:
        args += [k, "val-" + k]
    with cluster.proxy.conn() as pc:
        assert pc.call("MSET", *args) == Status("OK")
        assert pc.call("MGET", *keys) == [("val-" + k).encode() for k in keys]
    for k in keys:
        own, other = cluster.backend_for(k), cluster.other_backend_for(k)
        with own.conn() as oc, other.conn() as xc:
            assert oc.call("GET", k) == ("val-" + k).encode(), k
            assert xc.call("EXISTS", k) == 0, k
    with cluster.proxy.conn() as pc:
        assert pc.call("DEL", *keys, "nokey") == len(keys)
    for g in (cluster.g1, cluster.g2):
        with g.conn() as c:
            assert c.call("DBSIZE") == 0


def test_big_mget_across_groups(cluster):
    keys = keys_in_slots(0, 1023, 2000, "big")
    r = cluster.proxy.client()
    r.mset({k: k.upper() for k in keys})
    assert r.mget(keys) == [k.upper().encode() for k in keys]
    assert r.exists(*keys) == len(keys)
    assert r.delete(*keys) == len(keys)


def test_crossslot(cluster):
    t1, t2 = tag_in_slots(0, 511), tag_in_slots(512, 1023)
    a1, a2 = keys_in_slots(0, 511, 2, "cs")        # same group, different slots
    assert slot_of(a1) != slot_of(a2)
    cross = [
        ("RENAME", t1 + "a", t2 + "b"),
        ("RENAME", a1, a2),                           # same group is not enough
        ("SUNIONSTORE", t1 + "d", t1 + "a", t2 + "b"),
        ("SINTER", t1 + "a", t2 + "b"),
        ("MSETNX", t1 + "a", 1, t2 + "b", 2),
        ("LMOVE", t1 + "a", t2 + "b", "LEFT", "RIGHT"),
        ("RPOPLPUSH", a1, a2),
        ("SMOVE", a1, a2, "m"),
        ("ZUNIONSTORE", t1 + "d", 2, t1 + "a", t2 + "b"),
        ("BITOP", "AND", t1 + "d", t1 + "a", t2 + "b"),
        ("PFMERGE", t1 + "d", t2 + "a"),
        ("PFCOUNT", t1 + "a", t2 + "a"),
        ("COPY", t1 + "a", t2 + "a"),
        ("EVAL", "return 1", 2, t1 + "a", t2 + "b"),
        ("LCS", a1, a2),
    ]
    with cluster.proxy.conn() as pc:
        pc.call("SET", t1 + "a", "1")
        got = [(c, pc.call(*c)) for c in cross]
        bad = [(c, r) for c, r in got if r != CROSSSLOT]
        assert not bad, "expected CROSSSLOT for:\n" + "\n".join(f"{c}: {r!r}" for c, r in bad)
        assert pc.call("GET", t1 + "a") == b"1"
        # same slot passes
        assert pc.call("RENAME", t1 + "a", t1 + "b") == Status("OK")
        assert pc.call("GET", t1 + "b") == b"1"
        assert pc.call("PING") == Status("PONG")


# internal and admin commands named by the contract (or obviously admin):
# must be answered "-ERR command '<name>' is not allowed..."
REFUSED = [
    ("SLOTSMGRT-EXEC-WRAPPER", "k", "SET", "k", "v"),
    ("slotsmgrt-exec-wrapper", "k", "GET", "k"),
    ("SlotsMgrt-Exec-Wrapper", "k", "DEL", "k"),
    ("SLOTSMGRTTAGONE", "127.0.0.1", 6379, 1000, "k"),
    ("slotsmgrttagone", "127.0.0.1", 6379, 1000, "k"),
    ("SLOTSMGRTTAGSLOT-ASYNC", "127.0.0.1", 6379, 1000, 10, 1024, 0, 10),
    ("slotsrestore", "k", 0, "x"),
    ("SLOTSRESTORE-ASYNC", "del", "k"),
    ("SlotsInfo",), ("slotsscan", 0, 0), ("SLOTSDEL", 1), ("SLOTSHASHKEY", "k"), ("slotscheck",),
    ("config", "set", "maxmemory", "1"), ("CoNfIg", "RESETSTAT"),
    ("DEBUG", "SLEEP", 0), ("debug", "segfault"),
    ("SHUTDOWN",), ("shutdown", "NOSAVE"),
    ("SYNC",), ("psync", "?", -1), ("REPLICAOF", "127.0.0.1", 1), ("slaveof", "no", "one"),
    ("MONITOR",), ("FLUSHALL",), ("flushall", "ASYNC"),
]

# other dangerous commands the contract does not classify: they must be
# refused (either "not allowed" or "not supported") and never reach a backend
REFUSED_EITHER_WAY = [
    ("FlushDB",), ("BGSAVE",), ("save",), ("bgrewriteaof",),
    ("migrate", "127.0.0.1", 1, "k", 0, 1000), ("MODULE", "LIST"), ("ACL", "SETUSER", "x"),
    ("CLUSTER", "INFO"), ("SWAPDB", 0, 1), ("FAILOVER",),
    ("CLIENT", "KILL", "TYPE", "normal"),
]

UNSUPPORTED = [
    ("client", "list"),
]


def _name_in_message(msg: str, name: str) -> bool:
    """The quoted command in the message is the command (a subcommand may follow)."""
    m = msg.lower()
    return f"'{name.lower()}'" in m or f"'{name.lower()} " in m


def test_refused_internal_and_admin_commands(cluster):
    with cluster.proxy.conn() as pc:
        pc.call("SET", K1[0], "survives")
        pc.call("SET", K2[0], "survives")
        bad = []
        for cmd in REFUSED:
            r = pc.call(*cmd)
            ok = (isinstance(r, Err) and r.message.startswith("ERR command '")
                  and "is not allowed" in r.message and _name_in_message(r.message, cmd[0]))
            if not ok:
                bad.append(f"{cmd}: {r!r}")
            p = pc.call("PING")
            if p != Status("PONG"):
                bad.append(f"PING after {cmd}: {p!r}")
                break
        for cmd in REFUSED_EITHER_WAY:
            r = pc.call(*cmd)
            ok = (isinstance(r, Err) and r.message.startswith("ERR command '")
                  and ("is not allowed" in r.message or "is not supported" in r.message))
            if not ok:
                bad.append(f"{cmd}: {r!r}")
            p = pc.call("PING")
            if p != Status("PONG"):
                bad.append(f"PING after {cmd}: {p!r}")
                break
        assert not bad, "refused commands not refused as specified:\n" + "\n".join(bad)
        assert pc.call("MGET", K1[0], K2[0]) == [b"survives", b"survives"]
    # nothing reached the backends: data, config and replication untouched
    for g in (cluster.g1, cluster.g2):
        assert g.alive()
        with g.conn() as c:
            assert c.call("DBSIZE") == 1
            assert c.call("CONFIG", "GET", "maxmemory") == [b"maxmemory", b"0"]
            info = c.call("INFO", "replication")
            assert b"role:master" in info and b"connected_slaves:0" in info


def test_unsupported_commands(cluster):
    with cluster.proxy.conn() as pc:
        bad = []
        for cmd in UNSUPPORTED:
            r = pc.call(*cmd)
            ok = (isinstance(r, Err) and r.message.startswith("ERR command '")
                  and "is not supported by the proxy yet" in r.message
                  and _name_in_message(r.message, cmd[0]))
            if not ok:
                bad.append(f"{cmd}: {r!r}")
            p = pc.call("PING")
            if p != Status("PONG"):
                bad.append(f"PING after {cmd}: {p!r}")
                break
        assert not bad, "unsupported commands not answered as specified:\n" + "\n".join(bad)
        assert pc.call("SET", K1[1], "v") == Status("OK")
        assert pc.call("GET", K1[1]) == b"v"


def test_unknown_command_and_arity(cluster):
    with cluster.proxy.conn() as pc, cluster.direct.conn() as dc:
        r = pc.call("NOSUCHCOMMAND", "a", "b")
        assert isinstance(r, Err) and r.message.startswith("ERR unknown command"), r
        assert "nosuchcommand" in r.message.lower()
        assert pc.call("GET") == Err("ERR wrong number of arguments for 'get' command")
        assert pc.call("get", "a", "b") == Err("ERR wrong number of arguments for 'get' command")
        # exact Redis 7 text for a few more
        for cmd in [("SET", "k"), ("HSET", "h", "f"), ("LPUSH", "l"), ("EXPIRE", "k"),
                    ("ZADD", "z", 1), ("MGET",), ("MSET", "a"), ("DEL",), ("EXISTS",),
                    ("INCRBY", "k"), ("EVAL", "return 1")]:
            rp, rd = pc.call(*cmd), dc.call(*cmd)
            assert isinstance(rp, Err), (cmd, rp)
            assert rp == rd, (cmd, rp, rd)
        assert pc.call("PING") == Status("PONG")


def test_empty_and_odd_requests_keep_connection(cluster):
    with cluster.proxy.conn() as pc:
        # an empty multibulk is ignored by Redis (no reply)
        pc.send_raw(b"*0\r\n")
        assert pc.call("PING") == Status("PONG")
        r = pc.call("")
        assert isinstance(r, Err) and r.message.startswith("ERR unknown command"), r
        assert pc.call("ECHO", "still here") == b"still here"
