"""Sync migration (SLOTSMGRTSLOT / -ONE / -TAGSLOT / -TAGONE): contents and
TTLs arrive intact on the target and its replica, the source and its replica
lose the slot; failures leave the source intact and never block the server."""

import socket
import threading
import time

import pytest
import redis

from conftest import keys_in_slot, scan_keys, slot_of, tag_in_slot, wait_replica

SLOT = 123


def digests(c, keys):
    return {k: (c.execute_command("DEBUG", "DIGEST-VALUE", k)[0], c.type(k)) for k in keys}


def fill_slot(c):
    small = keys_in_slot(SLOT, 200)
    c.mset({k: f"value-{k}" for k in small})
    ttl = keys_in_slot(SLOT, 30, prefix="ttl")
    for k in ttl:
        c.set(k, "t", px=100000)
    tag = tag_in_slot(SLOT)
    tagged = [f"{{{tag}}}:{i}" for i in range(40)]
    for i, k in enumerate(tagged):
        c.rpush(k, *range(i + 1)) if i % 2 else c.sadd(k, *range(i + 1))
    big = f"{{{tag}}}:bighash"
    pipe = c.pipeline(transaction=False)
    for i in range(0, 100000, 5000):
        pipe.hset(big, mapping={f"field:{j}": f"v{j}" for j in range(i, i + 5000)})
    pipe.execute()
    c.pexpire(big, 200000)
    zkey = keys_in_slot(SLOT, 1, prefix="zset")[0]
    c.zadd(zkey, {f"m{i}": i for i in range(5000)})
    skey = keys_in_slot(SLOT, 1, prefix="stream")[0]
    for i in range(100):
        c.xadd(skey, {"i": i})
    # Keys of other slots must stay.
    c.mset({k: "stay" for k in keys_in_slot(SLOT + 1, 20)})
    return small + ttl + tagged + [big, zkey, skey]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("command", ["SLOTSMGRTTAGSLOT", "SLOTSMGRTSLOT"])
def test_migrate_slot_with_replicas(make_redis, command):
    src, dst = make_redis(), make_redis()
    src_r, dst_r = make_redis(), make_redis()
    src_r.make_replica_of(src)
    dst_r.make_replica_of(dst)
    s, d = src.client(), dst.client()
    keys = fill_slot(s)
    before = digests(s, keys)
    ttls = {k: s.pttl(k) for k in keys}
    calls = 0
    while True:
        moved, remaining = s.execute_command(command, "127.0.0.1", dst.port, 5000, SLOT)
        calls += 1
        if remaining == 0:
            break
        assert moved > 0
    if command == "SLOTSMGRTTAGSLOT":
        assert calls < len(keys) - 30  # the 41 tagged keys moved together
    assert s.execute_command(command, "127.0.0.1", dst.port, 5000, SLOT) == [0, 0]
    wait_replica(s)
    wait_replica(d)
    assert digests(d, keys) == before
    assert digests(dst_r.client(), keys) == before
    for k in keys:
        if ttls[k] > 0:
            assert 0 < d.pttl(k) <= ttls[k], k
            assert ttls[k] - d.pttl(k) < 20000, k
        else:
            assert d.pttl(k) == -1, k
    for server in (src, src_r):
        assert [k for k in scan_keys(server, 0) if slot_of(k) == SLOT] == []
        assert SLOT not in [sl for sl, _ in server.client().execute_command("SLOTSINFO")]
    assert len([k for k in scan_keys(src, 0) if slot_of(k) == SLOT + 1]) == 20
    assert d.execute_command("SLOTSINFO", SLOT, 1) == [[SLOT, len(keys)]]
    assert dst_r.client().execute_command("SLOTSINFO", SLOT, 1) == [[SLOT, len(keys)]]


def test_migrate_one_and_tagone(make_redis):
    src, dst = make_redis(), make_redis()
    s, d = src.client(3), dst.client(3)  # a non-zero db travels with SELECT
    s.set("plain", 1)
    s.mset({"{u1}a": 1, "{u1}b": 2, "{u1}c": 3, "{u2}a": 4})
    assert s.execute_command("SLOTSMGRTONE", "127.0.0.1", dst.port, 1000, "plain") == 1
    assert s.execute_command("SLOTSMGRTONE", "127.0.0.1", dst.port, 1000, "plain") == 0
    assert s.execute_command("SLOTSMGRTTAGONE", "127.0.0.1", dst.port, 1000, "{u1}b") == 3
    assert s.execute_command("SLOTSMGRTTAGONE", "127.0.0.1", dst.port, 1000, "{u1}b") == 0
    assert s.execute_command("SLOTSMGRTTAGONE", "127.0.0.1", dst.port, 1000, "missing") == 0
    assert sorted(s.keys()) == [b"{u2}a"]
    assert sorted(d.keys()) == [b"plain", b"{u1}a", b"{u1}b", b"{u1}c"]
    assert dst.client(0).dbsize() == 0


def test_migrate_with_password(make_redis):
    src = make_redis(args=["--requirepass", "secret"])
    dst = make_redis(args=["--requirepass", "secret"])
    wrong = make_redis(args=["--requirepass", "other"])
    s = src.client()
    s.set("k", 1)
    with pytest.raises(redis.ResponseError, match="target refused AUTH"):
        s.execute_command("SLOTSMGRTONE", "127.0.0.1", wrong.port, 1000, "k")
    assert s.get("k") == b"1" and wrong.client().dbsize() == 0
    assert s.execute_command("SLOTSMGRTONE", "127.0.0.1", dst.port, 1000, "k") == 1
    assert dst.client().get("k") == b"1" and not s.exists("k")


class FakeTarget:
    """A TCP server that accepts and then replies garbage, or nothing."""

    def __init__(self, reply: bytes | None):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        self.conns = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            if self.reply is not None:
                try:
                    conn.recv(65536)
                    conn.sendall(self.reply)
                except OSError:
                    pass

    def close(self):
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.mark.parametrize(
    "reply, match",
    [(b"hello there\r\n", "garbage"), (b"-ERR nope\r\n", "target refused SELECT 0: ERR nope"), (None, "timeout reading")],
)
def test_bad_target_leaves_source_intact(make_redis, reply, match):
    src = make_redis()
    s = src.client()
    s.hset("h", mapping={"a": 1})
    target = FakeTarget(reply)
    try:
        result = {}

        def migrate():
            try:
                result["r"] = src.client().execute_command("SLOTSMGRTONE", "127.0.0.1", target.port, 500, "h")
            except redis.ResponseError as e:
                result["e"] = str(e)

        t = threading.Thread(target=migrate)
        t.start()
        # Only the caller is blocked: the server keeps answering meanwhile.
        t0 = time.time()
        for _ in range(20):
            assert s.ping()
        assert time.time() - t0 < 0.3
        t.join(10)
        assert match in result.get("e", ""), result
    finally:
        target.close()
    assert s.hgetall("h") == {b"a": b"1"}
    assert s.execute_command("SLOTSINFO", slot_of("h"), 1) == [[slot_of("h"), 1]]


def test_dead_target(make_redis):
    src = make_redis()
    s = src.client()
    s.set("k", 1)
    with socket.socket() as tmp:
        tmp.bind(("127.0.0.1", 0))
        port = tmp.getsockname()[1]
    with pytest.raises(redis.ResponseError, match="can't connect to target"):
        s.execute_command("SLOTSMGRTONE", "127.0.0.1", port, 200, "k")
    with pytest.raises(redis.ResponseError, match="can't resolve target"):
        s.execute_command("SLOTSMGRTONE", "no-such-host.invalid", 6379, 200, "k")
    assert s.get("k") == b"1"


def test_target_restart_reconnects(make_redis):
    src, dst = make_redis(), make_redis()
    s = src.client()
    s.mset({"a": 1, "b": 2})
    assert s.execute_command("SLOTSMGRTONE", "127.0.0.1", dst.port, 1000, "a") == 1
    dst.client().client_kill_filter(_type="normal", skipme=True)  # drops the cached connection
    assert s.execute_command("SLOTSMGRTONE", "127.0.0.1", dst.port, 1000, "b") == 1
    assert dst.client().mget("a", "b") == [b"1", b"2"]


def test_migration_inside_multi_is_refused(make_redis):
    src, dst = make_redis(), make_redis()
    s = src.client()
    s.set("k", 1)
    pipe = s.pipeline(transaction=True)
    pipe.execute_command("SLOTSMGRTONE", "127.0.0.1", dst.port, 1000, "k")
    with pytest.raises(redis.ResponseError, match="cannot run inside MULTI"):
        pipe.execute()
    assert s.get("k") == b"1"
