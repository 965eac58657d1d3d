"""Async migration (SLOTSMGRT*-ASYNC): big keys split into chunks, TTLs,
replicas on both sides, writers through SLOTSMGRT-EXEC-WRAPPER losing
nothing, and failures (target killed, wrong password, cancel, timeout)
leaving the source intact."""

import threading
import time

import pytest
import redis

from conftest import keys_in_slot, scan_keys, slot_of, tag_in_slot, wait_replica
from test_migration import FakeTarget

SLOT = 321
TAG = tag_in_slot(SLOT)
BIG = 1_000_000
MEDIUM = 1_000_000  # the issue asks for 1M-element hash, set, sorted set and list

FILL_BIG = """
local kind, key, n = ARGV[1], KEYS[1], tonumber(ARGV[2])
for i = 1, n, 1000 do
  local args = {}
  for j = i, math.min(i + 999, n) do
    if kind == 'hash' then args[#args+1] = 'f' .. j; args[#args+1] = j
    elseif kind == 'zset' then args[#args+1] = j; args[#args+1] = 'm' .. j
    else args[#args+1] = 'e' .. j end
  end
  if kind == 'hash' then redis.call('HSET', key, unpack(args))
  elseif kind == 'zset' then redis.call('ZADD', key, unpack(args))
  elseif kind == 'set' then redis.call('SADD', key, unpack(args))
  else redis.call('RPUSH', key, unpack(args)) end
end
return n
"""


def fill_big(c, kind, key, n):
    c.eval(FILL_BIG, 1, key, kind, n)


def digests(c, keys):
    return {k: c.execute_command("DEBUG", "DIGEST-VALUE", k)[0] for k in keys}


def migrate_slot(s, port, slot, maxbulks=500, maxbytes=1 << 20, numkeys=50, timeout=10000, tag=True):
    cmd = "SLOTSMGRTTAGSLOT-ASYNC" if tag else "SLOTSMGRTSLOT-ASYNC"
    calls = 0
    while True:
        moved, remaining = s.execute_command(cmd, "127.0.0.1", port, timeout, maxbulks, maxbytes, slot, numkeys)
        calls += 1
        if remaining == 0:
            return calls


class LatencyProbe:
    """PINGs the server from another connection and records the worst delay."""

    def __init__(self, server):
        self.c = server.client()
        self.worst = 0.0
        self.samples = []
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            t0 = time.perf_counter()
            self.c.ping()
            dt = time.perf_counter() - t0
            self.samples.append(dt)
            self.worst = max(self.worst, dt)
            time.sleep(0.001)

    def finish(self):
        self.stop = True
        self.t.join()
        return self.worst


@pytest.mark.timeout(180)
def test_async_slot_with_big_keys_and_replicas(make_redis):
    src, dst = make_redis(), make_redis()
    src_r, dst_r = make_redis(), make_redis()
    src_r.make_replica_of(src)
    dst_r.make_replica_of(dst)
    s, d = src.client(), dst.client()
    small = keys_in_slot(SLOT, 300)
    s.mset({k: f"v-{k}" for k in small})
    ttl_keys = keys_in_slot(SLOT, 20, prefix="ttl")
    for k in ttl_keys:
        s.set(k, "t", px=300000)
    tagged = [f"{{{TAG}}}:{i}" for i in range(30)]
    for i, k in enumerate(tagged):
        s.hset(k, mapping={f"f{j}": j for j in range(i + 1)})
    big = {"hash": f"{{{TAG}}}:bighash", "set": f"{{{TAG}}}:bigset",
           "zset": f"{{{TAG}}}:bigzset", "list": f"{{{TAG}}}:biglist"}
    fill_big(s, "hash", big["hash"], BIG)
    for kind in ("set", "zset", "list"):
        fill_big(s, kind, big[kind], MEDIUM)
    s.pexpire(big["hash"], 400000)
    stream = keys_in_slot(SLOT, 1, prefix="stream")[0]
    for i in range(50):
        s.xadd(stream, {"i": i})
    others = keys_in_slot(SLOT + 1, 10)
    s.mset({k: 1 for k in others})
    keys = small + ttl_keys + tagged + list(big.values()) + [stream]
    before = digests(s, keys)
    ttls = {k: s.pttl(k) for k in keys}
    wait_replica(s)

    probe = LatencyProbe(src)
    t0 = time.time()
    migrate_slot(s, dst.port, SLOT)
    elapsed = time.time() - t0
    worst = probe.finish()
    print(f"async migration of {len(keys)} keys (1M-element hash, set, sorted set and list): {elapsed:.2f}s, "
          f"worst PING {worst * 1000:.1f} ms")

    wait_replica(s)
    wait_replica(d)
    assert digests(d, keys) == before
    assert digests(dst_r.client(), keys) == before
    for k in keys:
        if ttls[k] > 0:
            assert 0 < d.pttl(k) <= ttls[k] and ttls[k] - d.pttl(k) < 60000, k
        else:
            assert d.pttl(k) == -1, k
    for server in (src, src_r):
        assert [k for k in scan_keys(server, 0) if slot_of(k) == SLOT] == []
        assert server.client().execute_command("SLOTSINFO", SLOT, 1) == []
    assert s.exists(*others) == len(others)
    assert d.execute_command("SLOTSINFO", SLOT, 1) == [[SLOT, len(keys)]]
    assert s.execute_command("SLOTSMGRT-ASYNC-STATUS") is None


def test_async_one_and_tagone(make_redis):
    src, dst = make_redis(), make_redis()
    s, d = src.client(2), dst.client(2)
    s.mset({"a": 1, "{u}x": 1, "{u}y": 2, "b": 3})
    s.zadd("{u}z", {f"m{i}": i for i in range(1000)})
    assert s.execute_command("SLOTSMGRTONE-ASYNC", "127.0.0.1", dst.port, 1000, 100, 100000, "a", "b", "nokey") == 2
    assert s.execute_command("SLOTSMGRTTAGONE-ASYNC", "127.0.0.1", dst.port, 1000, 100, 100000, "{u}x") == 3
    assert s.dbsize() == 0
    assert d.zcard("{u}z") == 1000 and d.zscore("{u}z", "m999") == 999 and d.ttl("{u}z") == -1
    assert sorted(d.keys()) == [b"a", b"b", b"{u}x", b"{u}y", b"{u}z"]
    assert s.execute_command("SLOTSMGRTONE-ASYNC", "127.0.0.1", dst.port, 1000, 100, 100000, "a") == 0


@pytest.mark.timeout(120)
def test_wrapper_writers_lose_nothing(make_redis):
    src, dst = make_redis(), make_redis()
    s = src.client()
    counters = [f"{{{TAG}}}:counter{i}" for i in range(20)] + keys_in_slot(SLOT, 20, prefix="cnt")
    s.mset({k: 0 for k in counters})
    fill_big(s, "hash", f"{{{TAG}}}:bighash", 300000)
    acked = {k: 0 for k in counters}
    lock = threading.Lock()
    stop = threading.Event()
    locked_seen = [0]

    def writer(idx):
        sc, dc = src.client(), dst.client()
        i = idx
        while not stop.is_set():
            k = counters[i % len(counters)]
            i += 7
            code, reply = sc.execute_command("SLOTSMGRT-EXEC-WRAPPER", k, "INCR", k)
            if code == 2:
                with lock:
                    acked[k] += 1
            elif code == 1:
                locked_seen[0] += 1  # being migrated: retry later (the proxy waits)
                time.sleep(0.001)
            elif code == 0:
                dc.incr(k)  # already on the target: the proxy sends it there
                with lock:
                    acked[k] += 1
            else:
                raise AssertionError(reply)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    migrate_slot(s, dst.port, SLOT, maxbulks=200, numkeys=5)
    time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join()
    d = dst.client()
    assert {k: int(d.get(k)) for k in counters} == acked
    assert sum(acked.values()) > 100
    # Keys are locked only while in flight (from their first message until
    # they are deleted here): writers meet that rarely.
    print(f"writes refused (key in flight): {locked_seen[0]}")
    # Reads of a key under migration are allowed; writes to other keys too.
    assert s.dbsize() == 0


@pytest.mark.timeout(90)
def test_target_killed_mid_migration(make_redis):
    src, dst = make_redis(), make_redis()
    s = src.client()
    key = f"{{{TAG}}}:bighash"
    fill_big(s, "hash", key, BIG)
    before = digests(s, [key])
    result = {}

    def migrate():
        try:
            result["r"] = src.client().execute_command(
                "SLOTSMGRTTAGSLOT-ASYNC", "127.0.0.1", dst.port, 5000, 100, 64 * 1024, SLOT, 10)
        except redis.ResponseError as e:
            result["e"] = str(e)

    t = threading.Thread(target=migrate)
    t.start()
    deadline = time.time() + 10
    while time.time() < deadline and dst.client().hlen(key) < 10000:
        time.sleep(0.01)
    partial_ttl = dst.client().pttl(key)
    dst.kill()
    t.join(20)
    assert "IOERR" in result.get("e", ""), result
    assert 0 < partial_ttl <= 15000  # the half copy expires by itself (3 x timeout)
    assert digests(s, [key]) == before
    assert s.execute_command("SLOTSMGRT-ASYNC-STATUS") is None


def test_wrong_password_and_timeout(make_redis):
    src = make_redis(args=["--requirepass", "secret"])
    other = make_redis(args=["--requirepass", "other"])
    s = src.client()
    s.set("k", 1)
    with pytest.raises(redis.ResponseError, match="target refused AUTH"):
        s.execute_command("SLOTSMGRTONE-ASYNC", "127.0.0.1", other.port, 1000, 100, 10000, "k")
    assert s.get("k") == b"1"
    silent = FakeTarget(None)
    try:
        t0 = time.time()
        with pytest.raises(redis.ResponseError, match="timeout"):
            s.execute_command("SLOTSMGRTONE-ASYNC", "127.0.0.1", silent.port, 300, 100, 10000, "k")
        assert time.time() - t0 < 5
    finally:
        silent.close()
    garbage = FakeTarget(b"what?\r\n")
    try:
        with pytest.raises(redis.ResponseError, match="garbage"):
            s.execute_command("SLOTSMGRTONE-ASYNC", "127.0.0.1", garbage.port, 1000, 100, 10000, "k")
    finally:
        garbage.close()
    assert s.get("k") == b"1"


@pytest.mark.timeout(60)
def test_cancel_and_fence(make_redis):
    src, dst = make_redis(), make_redis()
    s = src.client()
    key = f"{{{TAG}}}:bighash"
    fill_big(s, "hash", key, 500000)
    before = digests(s, [key])
    result = {}

    def migrate():
        try:
            result["r"] = src.client().execute_command(
                "SLOTSMGRTTAGSLOT-ASYNC", "127.0.0.1", dst.port, 5000, 50, 16 * 1024, SLOT, 10)
        except redis.ResponseError as e:
            result["e"] = str(e)

    t = threading.Thread(target=migrate)
    t.start()
    while s.execute_command("SLOTSMGRT-ASYNC-STATUS") is None and t.is_alive():
        time.sleep(0.005)
    status = s.execute_command("SLOTSMGRT-ASYNC-STATUS")
    fields = dict(zip(status[::2], status[1::2]))
    assert fields[b"port"] == str(dst.port).encode() and fields[b"keys"] == b"1"
    with pytest.raises(redis.ResponseError, match="already|still running"):
        s.execute_command("SLOTSMGRTONE-ASYNC", "127.0.0.1", dst.port, 1000, 100, 10000, key)
    assert s.execute_command("SLOTSMGRT-ASYNC-CANCEL") == 1
    t.join(10)
    assert "canceled" in result.get("e", ""), result
    assert s.execute_command("SLOTSMGRT-ASYNC-CANCEL") == 0
    assert digests(s, [key]) == before
    # Fence: returns once a running batch has ended.
    t = threading.Thread(target=migrate)
    t.start()
    while s.execute_command("SLOTSMGRT-ASYNC-STATUS") is None and t.is_alive():
        time.sleep(0.005)
    assert s.execute_command("SLOTSMGRT-ASYNC-FENCE") == b"OK"
    assert s.execute_command("SLOTSMGRT-ASYNC-STATUS") is None
    t.join(30)
    assert result.get("r") == [1, 0], result
    assert not s.exists(key)
    assert dst.client().hlen(key) == 500000 and dst.client().ttl(key) == -1


def test_restore_async_target_side(make_redis):
    server = make_redis()
    t = server.client()
    ack = lambda *a: t.execute_command("SLOTSRESTORE-ASYNC", *a)  # noqa: E731
    assert ack("select", 3) == [b"SLOTSRESTORE-ASYNC-ACK", b"0", b"3"]
    assert ack("hash", "h", 5000, 4, "a", 1, "b", 2) == [b"SLOTSRESTORE-ASYNC-ACK", b"0", b"2"]
    assert ack("hash", "h", 5000, 4, "c", 3) == [b"SLOTSRESTORE-ASYNC-ACK", b"0", b"3"]
    assert ack("expire", "h", 0)[1] == b"0"
    assert ack("zset", "z", 0, 0, "m", "1.5")[1] == b"0"
    assert ack("dict", "s", 0, 0, "x", "y")[2] == b"2"
    assert ack("list", "l", 0, 0, "x", "y")[2] == b"2"
    assert ack("delete", "l") == [b"SLOTSRESTORE-ASYNC-ACK", b"0", b"1"]
    assert ack("bogus", "k", 0)[1] == b"-1"
    assert ack("hash", "h", 0, 0, "odd")[1] == b"-1"
    assert ack("expire", "missing", 100)[1] == b"-1"
    assert ack("object", "o", 0, b"garbage")[1] == b"-1"
    assert ack("list", "h", 0, 0, "x")[1] == b"-1"  # WRONGTYPE
    assert ack("hash", "h", -5, 0)[1] == b"-1"
    assert t.execute_command("SLOTSRESTORE-ASYNC")[1] == b"-1"
    assert t.execute_command("SLOTSRESTORE-ASYNC-SELECT", 0)[1] == b"0"
    assert t.execute_command("SLOTSRESTORE-ASYNC-AUTH", "pw")[1] == b"-1"  # no password set
    t3 = server.client(3)  # "select 3" switched the connection's db
    assert t3.hgetall("h") == {b"a": b"1", b"b": b"2", b"c": b"3"} and t3.ttl("h") == -1
    assert t3.zscore("z", "m") == 1.5 and t.dbsize() == 0


def test_restore_async_auth(make_redis):
    t = make_redis(args=["--requirepass", "pw"])
    raw = redis.Redis(host="127.0.0.1", port=t.port)  # not authenticated
    with pytest.raises(redis.AuthenticationError):
        raw.execute_command("SLOTSRESTORE-ASYNC", "delete", "k")
    assert raw.execute_command("SLOTSRESTORE-ASYNC-AUTH", "bad")[1] == b"-1"
    assert raw.execute_command("SLOTSRESTORE-ASYNC-AUTH", "pw") == [b"SLOTSRESTORE-ASYNC-ACK", b"0", b"OK"]
    assert raw.execute_command("SLOTSRESTORE-ASYNC", "dict", "s", 0, 0, "x")[1] == b"0"
    assert t.client().smembers("s") == {b"x"}
