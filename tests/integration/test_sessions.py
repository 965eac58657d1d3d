"""Blocking commands and transactions: each runs on a backend connection of
the session's own."""

from __future__ import annotations

import threading
import time

import pytest

from harness import Err, Status, key_in_slot, two_group_slots, wait_until

pytestmark = pytest.mark.real_proxy

Q1 = key_in_slot(10, "q")      # group 1
Q2 = key_in_slot(900, "q")     # group 2


def _info_field(server, section: str, field: str) -> int:
    with server.conn() as c:
        for line in c.call("INFO", section).decode().splitlines():
            if line.startswith(field + ":"):
                return int(line.split(":", 1)[1])
    raise AssertionError(f"{field} not in INFO {section}")


def test_blpop_waits_and_gets_pushed_value(cluster):
    with cluster.proxy.conn(timeout=10) as blocked, cluster.proxy.conn() as other:
        t0 = time.monotonic()
        blocked.send("BLPOP", Q1, 5)
        wait_until(lambda: _info_field(cluster.g1, "clients", "blocked_clients") == 1, 5, what="client blocked")
        # the shared connections are not stalled meanwhile
        for i in range(50):
            assert other.call("SET", Q2 + str(i), i) == Status("OK")
        assert other.call("RPUSH", Q1, "hello") == 1
        assert blocked.read_reply() == [Q1.encode(), b"hello"]
        assert time.monotonic() - t0 < 4


def test_blocking_timeout_is_respected(cluster):
    with cluster.proxy.conn(timeout=10) as c:
        t0 = time.monotonic()
        assert c.call("BRPOP", Q2, 1) is None
        assert 0.9 <= time.monotonic() - t0 < 3
        assert c.call("BZPOPMIN", key_in_slot(11, "z"), "0.2") is None
        assert c.call("BLMPOP", "0.1", 1, Q1, "LEFT") is None
        # XREAD BLOCK too
        assert c.call("XREAD", "BLOCK", 200, "STREAMS", key_in_slot(12, "s"), "$") is None
        # cross-slot blocking: CROSSSLOT, connection fine
        r = c.call("BLPOP", Q1, Q2, 1)
        assert isinstance(r, Err) and r.code == "CROSSSLOT"
        assert c.call("PING") == Status("PONG")


def test_blocking_timeout_longer_than_backend_recv_timeout(make_redis, make_proxy):
    g1, g2 = make_redis(), make_redis()
    proxy = make_proxy(two_group_slots(g1.addr, g2.addr),
                       config={"backend_recv_timeout": "1s", "backend_ping_period": "1s"})
    with proxy.conn(timeout=10) as c:
        t0 = time.monotonic()
        assert c.call("BLPOP", Q1, 3) is None          # not cut by the 1 s reply timeout
        assert time.monotonic() - t0 >= 2.9


def test_client_disconnect_releases_backend_connection(cluster):
    before = _info_field(cluster.g1, "clients", "connected_clients")
    c = cluster.proxy.conn(timeout=10)
    c.send("BLPOP", Q1, 0)
    wait_until(lambda: _info_field(cluster.g1, "clients", "blocked_clients") == 1, 5, what="client blocked")
    c.close()
    wait_until(lambda: _info_field(cluster.g1, "clients", "blocked_clients") == 0, 5, what="blocked client released")
    wait_until(lambda: _info_field(cluster.g1, "clients", "connected_clients") <= before, 5,
               what="dedicated connection closed")
    # a later push is not eaten by a ghost BLPOP
    with cluster.proxy.conn() as o:
        o.call("RPUSH", Q1, "kept")
        assert o.call("LRANGE", Q1, 0, -1) == [b"kept"]


def test_blocked_client_whose_backend_dies(make_redis, make_proxy):
    g1, g2 = make_redis(), make_redis()
    proxy = make_proxy(two_group_slots(g1.addr, g2.addr))
    with proxy.conn(timeout=10) as c:
        c.send("BLPOP", Q1, 0)
        wait_until(lambda: _info_field(g1, "clients", "blocked_clients") == 1, 5, what="client blocked")
        g1.kill()
        r = c.read_reply(timeout=5)
        assert isinstance(r, Err) and "backend" in r.message, r
        assert c.call("PING") == Status("PONG")
        g1.start()
        wait_until(lambda: c.call("RPUSH", Q1, "x") == 1, 10, what="group 1 back")
        assert c.call("BLPOP", Q1, 1) == [Q1.encode(), b"x"]


def test_transaction_on_one_slot(cluster):
    a, b = "{acct}:a", "{acct}:b"
    with cluster.proxy.conn() as c, cluster.direct.conn() as d:
        script = [("MULTI",), ("SET", a, 10), ("INCRBY", b, 5), ("MGET", a, b), ("PING",), ("EXEC",)]
        got = [c.call(*cmd) for cmd in script]
        want = [d.call(*cmd) for cmd in script]
        assert got == want == [Status("OK"), Status("QUEUED"), Status("QUEUED"), Status("QUEUED"),
                               Status("QUEUED"), [Status("OK"), 5, [b"10", b"5"], Status("PONG")]]
        # a runtime error inside EXEC is Redis's own (the others still run)
        script = [("MULTI",), ("SET", a, "x"), ("INCR", a), ("GET", a), ("EXEC",)]
        got = [c.call(*cmd) for cmd in script]
        want = [d.call(*cmd) for cmd in script]
        assert repr(got) == repr(want)
        assert c.call("DISCARD") == Err("ERR DISCARD without MULTI")
        assert c.call("EXEC") == Err("ERR EXEC without MULTI")
        assert c.call("MULTI") == Status("OK")
        assert c.call("MULTI") == Err("ERR MULTI calls can not be nested")
        assert c.call("SET", a, 1) == Status("QUEUED")
        assert c.call("DISCARD") == Status("OK")
        assert c.call("GET", a) == b"x"
        assert c.call("MULTI") == Status("OK") and c.call("EXEC") == []


def test_transaction_cross_slot_aborts(cluster):
    with cluster.proxy.conn() as c:
        c.call("SET", Q1, "before")
        assert c.call("MULTI") == Status("OK")
        assert c.call("SET", Q1, "in-tx") == Status("QUEUED")
        r = c.call("SET", Q2, "other")
        assert isinstance(r, Err) and r.code == "CROSSSLOT"
        r = c.call("EXEC")
        assert isinstance(r, Err) and r.message.startswith("EXECABORT"), r
        assert c.call("GET", Q1) == b"before"                # nothing ran
        assert c.call("MULTI") == Status("OK")
        assert isinstance(c.call("KEYS", "*"), Err)          # cluster-wide inside MULTI: rejected
        assert c.call("EXEC").message.startswith("EXECABORT")
        assert c.call("MULTI") == Status("OK")
        assert c.call("SET", Q1, "x") == Status("QUEUED")
        assert c.call("NOSUCHCMD").message.startswith("ERR unknown command")
        assert c.call("EXEC").message.startswith("EXECABORT")  # as Redis: an unknown command aborts
        assert c.call("GET", Q1) == b"before"


def test_watch_detects_concurrent_change(cluster):
    k = "{w}:counter"
    with cluster.proxy.conn() as c, cluster.proxy.conn() as other:
        c.call("SET", k, 1)
        assert c.call("WATCH", k) == Status("OK")
        assert other.call("INCR", k) == 2                   # touched by someone else
        assert c.call("MULTI") == Status("OK")
        assert c.call("INCR", k) == Status("QUEUED")
        assert c.call("EXEC") is None                       # aborted: retry
        assert c.call("GET", k) == b"2"
        # untouched: runs
        assert c.call("WATCH", k) == Status("OK")
        assert c.call("MULTI") == Status("OK")
        assert c.call("INCR", k) == Status("QUEUED")
        assert c.call("EXEC") == [3]
        # WATCH on one slot, then a key of another slot in the transaction
        assert c.call("WATCH", k) == Status("OK")
        assert c.call("MULTI") == Status("OK")
        r = c.call("SET", Q2, 1)
        assert isinstance(r, Err) and r.code == "CROSSSLOT"
        assert c.call("EXEC").message.startswith("EXECABORT")
        assert c.call("WATCH", Q1, Q2).code == "CROSSSLOT"
        assert c.call("UNWATCH") == Status("OK")


def test_transaction_on_migrating_slot_is_retryable(make_redis, make_proxy, fake_backend):
    g1, g2 = make_redis(), make_redis()
    slots = two_group_slots(g1.addr, g2.addr)
    proxy = make_proxy(slots)
    k = key_in_slot(20, "mig")
    with proxy.conn() as c:
        assert c.call("WATCH", k) == Status("OK")
        assert c.call("MULTI") == Status("OK")
        assert c.call("SET", k, 1) == Status("QUEUED")
        fake = fake_backend()
        slots[20] = {"id": 20, "backend_addr": g2.addr, "backend_addr_group_id": 2,
                     "migrate_from": fake.addr, "migrate_from_group_id": 1, "forward_method": 1}
        proxy.fillslots([slots[20]])
        r = c.call("EXEC")
        assert isinstance(r, Err) and r.code == "TRYAGAIN", r
        assert c.call("BLPOP", k, 1).code == "TRYAGAIN"      # blocking on a migrating slot too
    with g1.conn() as d:
        assert d.call("EXISTS", k) == 0
    with g2.conn() as d:
        assert d.call("EXISTS", k) == 0


def _link_up(replica) -> bool:
    with replica.conn() as c:
        return b"master_link_status:up" in c.call("INFO", "replication")


def test_wait_counts_replicas_of_every_group(make_redis, make_proxy):
    fast_sync = ("--repl-diskless-sync-delay", "0")
    g1, g2 = make_redis(extra=fast_sync), make_redis(extra=fast_sync)
    r1 = make_redis(extra=("--replicaof", "127.0.0.1", str(g1.port)))
    proxy = make_proxy(two_group_slots(g1.addr, g2.addr))
    with proxy.conn(timeout=10) as c:
        wait_until(lambda: _link_up(r1), 10, what="replica attached")
        # pipelined: WAIT goes out only after the SETs were answered
        c.send_raw(b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n" % (len(k), k.encode())
                            for k in (Q1, Q2)) + b"*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$3\r\n500\r\n")
        assert c.read_reply() == Status("OK") and c.read_reply() == Status("OK")
        t0 = time.monotonic()
        assert c.read_reply() == 0            # group 2 has no replica: the minimum is 0
        assert time.monotonic() - t0 >= 0.3  # it did wait (for group 2) up to the timeout
    r2 = make_redis(extra=("--replicaof", "127.0.0.1", str(g2.port)))
    wait_until(lambda: _link_up(r2), 10, what="replica attached")
    with proxy.conn(timeout=10) as c:
        assert c.call("SET", Q2, "w") == Status("OK")
        assert c.call("WAIT", 1, 2000) == 1
        with r2.conn() as r:
            assert r.call("GET", Q2) == b"w"
        assert isinstance(c.call("WAIT", "x", 1), Err)


def test_idle_timeout_spares_blocked_and_subscribed_clients(make_redis, make_proxy):
    g1, g2 = make_redis(), make_redis()
    proxy = make_proxy(two_group_slots(g1.addr, g2.addr), config={"session_recv_timeout": "1s"})
    with proxy.conn(timeout=10) as blocked, proxy.conn(timeout=10) as sub, proxy.conn(timeout=10) as idle:
        assert idle.call("PING") == Status("PONG")
        blocked.send("BLPOP", Q1, 4)
        sub.send("SUBSCRIBE", "news")
        assert sub.read_reply()[0] == b"subscribe"
        assert idle.wait_closed(6)                       # the idle one is closed after ~1-2 s
        assert blocked.read_reply(timeout=6) is None     # the blocked one got its (timed out) reply
        sub.send("PING")
        assert sub.read_reply() == [b"pong", b""]        # the subscriber is still there
