"""Routing of a slot under migration, with a scripted fake source backend
(tests/integration/fake_backend.py) and a real target redis-server."""

from __future__ import annotations

import time

import pytest

from fake_backend import wrapper_reply
from harness import Err, Status, key_in_slot, key_in_slots, two_group_slots

pytestmark = pytest.mark.real_proxy

SLOT = 700                       # normally group 2
KEY = key_in_slot(SLOT, "mig")   # no braces: the hash key is the key itself
OTHER = key_in_slots(0, 511, "other")


def _migrating_table(g1, target, fake, method, locked=False):
    slots = two_group_slots(g1.addr, target.addr)
    slots[SLOT] = {"id": SLOT, "backend_addr": target.addr, "backend_addr_group_id": 2,
                   "migrate_from": fake.addr, "migrate_from_group_id": 3,
                   "forward_method": method, "locked": locked}
    return slots


def _upper0(args):
    return [args[0].upper()] + list(args[1:])


def _commandstats(server) -> dict:
    with server.conn() as c:
        info = c.call("INFO", "commandstats").decode()
    out = {}
    for line in info.splitlines():
        if line.startswith("cmdstat_"):
            name, rest = line[len("cmdstat_"):].split(":", 1)
            out[name] = int(rest.split("calls=")[1].split(",")[0])
    return out


@pytest.fixture
def setup(make_redis, make_proxy, fake_backend):
    def make(method, locked=False):
        g1, target = make_redis(), make_redis()
        fake = fake_backend()
        proxy = make_proxy(_migrating_table(g1, target, fake, method, locked))
        return g1, target, fake, proxy
    return make


@pytest.mark.timeout(60)
def test_semi_async_retries_busy_then_goes_to_target(setup):
    g1, target, fake, proxy = setup(method=1)
    fake.script("SLOTSMGRT-EXEC-WRAPPER",
                [wrapper_reply(1, b"key is being migrated")] * 2,
                default=wrapper_reply(0, b"key not found"))
    with proxy.conn() as c:
        t0 = time.monotonic()
        assert c.call("SET", KEY, "v1", timeout=10) == Status("OK")
        assert time.monotonic() - t0 < 5
        got = [_upper0(a) for a in fake.received("SLOTSMGRT-EXEC-WRAPPER")]
        assert got == [[b"SLOTSMGRT-EXEC-WRAPPER", KEY.encode(), b"SET", KEY.encode(), b"v1"]] * 3, got
        with target.conn() as t:
            assert t.call("GET", KEY) == b"v1"
        # a read takes the same path: wrapper says "not here" -> target answers
        assert c.call("GET", KEY) == b"v1"
        got = [_upper0(a) for a in fake.received("SLOTSMGRT-EXEC-WRAPPER")]
        assert got[-1][:3] == [b"SLOTSMGRT-EXEC-WRAPPER", KEY.encode(), b"GET"], got
        assert len(got) == 4
        # other slots are untouched by the migration
        assert c.call("SET", OTHER, "o") == Status("OK")
        with g1.conn() as g:
            assert g.call("GET", OTHER) == b"o"
    # the fake (source) never got a plain, unwrapped data command
    plain = [a for a in fake.received_non_housekeeping() if a[0].upper() != b"SLOTSMGRT-EXEC-WRAPPER"]
    assert not plain, plain


@pytest.mark.timeout(60)
def test_semi_async_executed_on_source(setup):
    g1, target, fake, proxy = setup(method=1)
    fake.script("SLOTSMGRT-EXEC-WRAPPER",
                [wrapper_reply(2, b":42\r\n"), wrapper_reply(2, b"$5\r\nhello\r\n"),
                 wrapper_reply(2, b"-ERR from source\r\n"), wrapper_reply(2, b"*2\r\n$1\r\na\r\n$-1\r\n")],
                default=b"-ERR unexpected\r\n")
    with proxy.conn() as c:
        assert c.call("INCR", KEY) == 42
        assert c.call("GET", KEY) == b"hello"
        assert c.call("LPUSH", KEY, "x") == Err("ERR from source")
        assert c.call("HMGET", KEY, "a", "b") == [b"a", None]
        assert c.call("PING") == Status("PONG")
    got = [_upper0(a) for a in fake.received("SLOTSMGRT-EXEC-WRAPPER")]
    k = KEY.encode()
    assert got == [[b"SLOTSMGRT-EXEC-WRAPPER", k, b"INCR", k],
                   [b"SLOTSMGRT-EXEC-WRAPPER", k, b"GET", k],
                   [b"SLOTSMGRT-EXEC-WRAPPER", k, b"LPUSH", k, b"x"],
                   [b"SLOTSMGRT-EXEC-WRAPPER", k, b"HMGET", k, b"a", b"b"]], got
    # nothing reached the target for this slot
    stats = _commandstats(target)
    assert not any(stats.get(n) for n in ("incr", "get", "lpush", "hmget")), stats
    with target.conn() as t:
        assert t.call("EXISTS", KEY) == 0


@pytest.mark.timeout(60)
def test_sync_method_migrates_key_first(setup):
    g1, target, fake, proxy = setup(method=0)
    fake.script("SLOTSMGRTTAGONE", [], default=b":1\r\n")
    with proxy.conn() as c:
        assert c.call("SET", KEY, "synced") == Status("OK")
        got = fake.received("SLOTSMGRTTAGONE")
        assert len(got) == 1, got
        cmd, host, port, timeout, key = got[0]
        assert (host, port, key) == (b"127.0.0.1", str(target.port).encode(), KEY.encode()), got
        assert int(timeout) >= 0
        with target.conn() as t:
            assert t.call("GET", KEY) == b"synced"
        assert c.call("GET", KEY) == b"synced"
        assert len(fake.received("SLOTSMGRTTAGONE")) == 2
        assert c.call("SET", OTHER, "o") == Status("OK")
    plain = [a for a in fake.received_non_housekeeping() if a[0].upper() != b"SLOTSMGRTTAGONE"]
    assert not plain, plain


@pytest.mark.timeout(60)
def test_locked_slot_holds_until_unlocked(setup):
    g1, target, fake, proxy = setup(method=1, locked=True)
    fake.script("SLOTSMGRT-EXEC-WRAPPER", [], default=wrapper_reply(0, b"key not found"))
    with target.conn() as t:
        t.call("SET", KEY, "target-value")
        t.call("CONFIG", "RESETSTAT")
    held = proxy.conn(timeout=10)
    try:
        held.send("GET", KEY)
        held.send("PING")                      # queued behind the held request
        assert held.poll_nothing(1.5), f"locked slot answered early: {held.pending_bytes()!r}"
        with proxy.conn() as other:            # other slots keep flowing
            assert other.call("SET", OTHER, "x") == Status("OK")
            assert other.call("GET", OTHER) == b"x"
        assert held.poll_nothing(0.5)
        # nothing reached either group for the locked slot
        assert _commandstats(target).get("get", 0) == 0, _commandstats(target)
        assert not fake.received("SLOTSMGRT-EXEC-WRAPPER"), fake.received()
        assert not [a for a in fake.received_non_housekeeping()], fake.received()
        # unlock: migration finished, slot now plainly on the target
        r = proxy.fillslots([{"id": SLOT, "backend_addr": target.addr, "backend_addr_group_id": 2,
                              "locked": False, "migrate_from": "", "migrate_from_group_id": 0,
                              "forward_method": 1}])
        assert r.status == 200, r
        assert held.read_reply(timeout=5) == b"target-value"
        assert held.read_reply(timeout=5) == Status("PONG")
        assert held.call("GET", KEY) == b"target-value"
    finally:
        held.close()
    assert _commandstats(target).get("get", 0) >= 2


@pytest.mark.timeout(60)
def test_locked_then_migrating_then_finished(setup):
    """The dashboard's sequence prepared -> migrating -> finished."""
    g1, target, fake, proxy = setup(method=1, locked=True)
    fake.script("SLOTSMGRT-EXEC-WRAPPER", [wrapper_reply(2, b"$3\r\nsrc\r\n")],
                default=wrapper_reply(0, b"key not found"))
    with target.conn() as t:
        t.call("SET", KEY, "tgt")
    with proxy.conn(timeout=10) as held:
        held.send("GET", KEY)
        assert held.poll_nothing(1.0)
        migrating = {"id": SLOT, "backend_addr": target.addr, "backend_addr_group_id": 2,
                     "migrate_from": fake.addr, "migrate_from_group_id": 3,
                     "forward_method": 1, "locked": False}
        assert proxy.fillslots([migrating]).status == 200
        assert held.read_reply(timeout=5) == b"src"         # executed on the source
        assert held.call("GET", KEY) == b"tgt"              # gone from source -> target
        assert len(fake.received("SLOTSMGRT-EXEC-WRAPPER")) == 2
        finished = {"id": SLOT, "backend_addr": target.addr, "backend_addr_group_id": 2}
        assert proxy.fillslots([finished]).status == 200
        assert held.call("GET", KEY) == b"tgt"
        assert len(fake.received("SLOTSMGRT-EXEC-WRAPPER")) == 2   # no more wrappers


def _source_executes(args):
    """Fake source that executes every wrapped command itself:
    GET -> "src", MGET -> "src" per key, SET/MSET -> OK, DEL/EXISTS/... -> key count."""
    cmd = args[2].upper()
    keys = args[3:]
    if cmd == b"GET":
        return wrapper_reply(2, b"$3\r\nsrc\r\n")
    if cmd == b"MGET":
        return wrapper_reply(2, b"*%d\r\n" % len(keys) + b"$3\r\nsrc\r\n" * len(keys))
    if cmd in (b"SET", b"MSET"):
        return wrapper_reply(2, b"+OK\r\n")
    if cmd in (b"DEL", b"UNLINK", b"EXISTS", b"TOUCH"):
        return wrapper_reply(2, b":%d\r\n" % len(keys))
    return wrapper_reply(2, b"-ERR fake source cannot run %s\r\n" % cmd)


@pytest.mark.timeout(60)
def test_split_commands_on_migrating_slot_ask_the_source(setup):
    """MGET/MSET/DEL spanning a migrating slot and a normal one: the part for
    the migrating slot goes through the source's wrapper, never straight to
    the target."""
    g1, target, fake, proxy = setup(method=1)
    fake.script("SLOTSMGRT-EXEC-WRAPPER", [], default=_source_executes)
    with g1.conn() as g:
        g.call("SET", OTHER, "g1-value")
    with target.conn() as t:
        t.call("SET", KEY, "stale-target-value")
        t.call("CONFIG", "RESETSTAT")
    with proxy.conn() as c:
        assert c.call("MGET", OTHER, KEY) == [b"g1-value", b"src"]
        assert c.call("MSET", KEY, "new", OTHER, "new-other") == Status("OK")
        assert c.call("EXISTS", KEY, OTHER) == 2
        assert c.call("DEL", OTHER, KEY) == 2
    wrapped = [a for a in fake.received("SLOTSMGRT-EXEC-WRAPPER")]
    assert len(wrapped) >= 4, wrapped
    assert all(a[1] == KEY.encode() and KEY.encode() in a[3:] and OTHER.encode() not in a
               for a in wrapped), wrapped
    stats = _commandstats(target)
    assert not any(stats.get(n) for n in ("get", "mget", "set", "mset", "del", "exists")), \
        f"commands for the migrating slot reached the target directly: {stats}"
    with target.conn() as t:
        assert t.call("GET", KEY) == b"stale-target-value"
    with g1.conn() as g:
        assert g.call("EXISTS", OTHER) == 0


@pytest.mark.timeout(60)
def test_wrapper_runs_in_the_client_db(setup):
    g1, target, fake, proxy = setup(method=1)
    fake.script("SLOTSMGRT-EXEC-WRAPPER", [], default=wrapper_reply(0, b"key not found"))
    with proxy.conn() as c:
        assert c.call("SELECT", 3) == Status("OK")
        assert c.call("SET", KEY, "in-db3") == Status("OK")
    with target.conn(3) as t:
        assert t.call("GET", KEY) == b"in-db3"
    log = fake.received_with_conn()
    wr = [(cid, a) for cid, a in log if a[0].upper() == b"SLOTSMGRT-EXEC-WRAPPER"]
    assert wr, log
    cid = wr[0][0]
    # the last SELECT on that source connection before the wrapper chose db 3
    before = [a for c2, a in log[:log.index(wr[0])] if c2 == cid and a[0].upper() == b"SELECT"]
    assert before and before[-1][1] == b"3", f"no SELECT 3 before the wrapper on its connection: {log}"


@pytest.mark.timeout(60)
def test_sync_method_split_migrates_each_key(setup):
    """MGET over two keys of one sync-migrating slot with different hash keys:
    SLOTSMGRTTAGONE moves one tag, so each key must be migrated on its own."""
    g1, target, fake, proxy = setup(method=0)
    fake.script("SLOTSMGRTTAGONE", [], default=b":1\r\n")
    k1 = key_in_slot(SLOT, "a")
    k2 = key_in_slot(SLOT, "b")
    assert k1 != k2
    with target.conn() as t:
        t.call("SET", k1, "v1")
        t.call("SET", k2, "v2")
    with proxy.conn() as c:
        assert c.call("MGET", k1, OTHER, k2) == [b"v1", None, b"v2"]
    moved = sorted(a[4] for a in fake.received("SLOTSMGRTTAGONE"))
    assert moved == sorted([k1.encode(), k2.encode()]), moved
