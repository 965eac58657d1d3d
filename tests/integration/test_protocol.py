"""Deep pipelines, reply ordering, protocol errors."""

from __future__ import annotations

import threading
import time

import pytest

from harness import ConnClosed, Err, RespConn, Status, encode, key_in_slots

pytestmark = pytest.mark.real_proxy


def _pipeline(conn: RespConn, payload: bytes, nreplies: int, timeout: float = 60):
    """Send payload in one sendall (from a thread, so a proxy that applies
    back-pressure cannot deadlock us) while reading nreplies replies."""
    err = []

    def sender():
        try:
            conn.sock.sendall(payload)
        except Exception as e:  # noqa: BLE001
            err.append(e)

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    replies = []
    deadline = time.monotonic() + timeout
    for _ in range(nreplies):
        replies.append(conn.read_reply(timeout=max(0.1, deadline - time.monotonic())))
    t.join(10)
    assert not err, err
    return replies


@pytest.mark.timeout(120)
def test_pipeline_100k_in_order(cluster):
    n = 50_000   # SET + GET each: 100k commands
    parts = []
    for i in range(n):
        k = f"pl:{i}"
        parts.append(encode("SET", k, f"v{i}"))
        parts.append(encode("GET", k))
    payload = b"".join(parts)
    with cluster.proxy.conn(timeout=30) as pc:
        replies = _pipeline(pc, payload, 2 * n)
        bad = []
        for i in range(n):
            if replies[2 * i] != Status("OK") or replies[2 * i + 1] != f"v{i}".encode():
                bad.append((i, replies[2 * i], replies[2 * i + 1]))
                if len(bad) > 5:
                    break
        assert not bad, f"out-of-order or wrong replies: {bad}"
        assert pc.call("PING") == Status("PONG")
    n1 = cluster.g1.conn().call("DBSIZE")
    n2 = cluster.g2.conn().call("DBSIZE")
    assert n1 + n2 == n and n1 > n // 4 and n2 > n // 4, (n1, n2)


@pytest.mark.timeout(60)
def test_pipeline_mixed_local_split_and_errors_in_order(cluster):
    a, b = key_in_slots(0, 511, "mix"), key_in_slots(512, 1023, "mix")
    cmds, expect = [], []
    for i in range(2000):
        cmds += [("SET", a, i), ("PING",), ("MSET", a, i, b, -i), ("MGET", a, b),
                 ("NOSUCH",), ("ECHO", i), ("INCR", b), ("CONFIG", "SET", "x", "y")]
        expect += [Status("OK"), Status("PONG"), Status("OK"), [str(i).encode(), str(-i).encode()],
                   "unknown", str(i).encode(), -i + 1, "notallowed"]
    with cluster.proxy.conn(timeout=30) as pc:
        replies = _pipeline(pc, b"".join(encode(*c) for c in cmds), len(cmds))
    for idx, (c, r, e) in enumerate(zip(cmds, replies, expect)):
        if e == "unknown":
            ok = isinstance(r, Err) and r.message.startswith("ERR unknown command")
        elif e == "notallowed":
            ok = isinstance(r, Err) and "not allowed" in r.message
        else:
            ok = r == e
        assert ok, f"reply #{idx} to {c}: {r!r}, expected {e!r}"


def _expect_protocol_error_and_close(port: int, payload: bytes, before=()):
    with RespConn(port, timeout=5) as c:
        c.send_raw(payload)
        for want in before:
            assert c.read_reply() == want
        r = c.read_reply()
        assert isinstance(r, Err) and r.message.startswith("ERR Protocol error"), r
        assert c.wait_closed(5), "connection not closed after a protocol error"
        return r


PROTOCOL_ERRORS = {
    "not-a-bulk": b"*1\r\nfoo\r\n",
    "bad-multibulk-len": b"*abc\r\n",
    "negative-bulk-len": b"*1\r\n$-5\r\n",
    "bulk-2GB": b"*2\r\n$3\r\nSET\r\n$2147483648\r\n",
    "bulk-over-max": b"*1\r\n$536870913\r\n",
    "array-10M": b"*10000000\r\n",
}


@pytest.mark.parametrize("case", list(PROTOCOL_ERRORS))
def test_protocol_error_closes_connection_only(cluster, case):
    key = key_in_slots(0, 1023, "pe")
    with cluster.proxy.conn() as bystander:
        assert bystander.call("SET", key, "alive") == Status("OK")
        _expect_protocol_error_and_close(cluster.proxy.port, PROTOCOL_ERRORS[case])
        assert bystander.call("GET", key) == b"alive"
    assert cluster.proxy.alive()
    with cluster.proxy.conn() as c:
        assert c.call("PING") == Status("PONG")


def test_protocol_error_after_valid_requests(cluster):
    payload = encode("PING") + encode("ECHO", "x") + b"*1\r\nbogus\r\n" + encode("PING")
    _expect_protocol_error_and_close(cluster.proxy.port, payload, before=[Status("PONG"), b"x"])


def test_slow_byte_by_byte_request(cluster):
    """A request split into 1-byte writes is reassembled."""
    with cluster.proxy.conn() as c:
        for b in encode("SET", "slowkey", "slowval") + encode("GET", "slowkey"):
            c.send_raw(bytes([b]))
        assert c.read_reply() == Status("OK")
        assert c.read_reply() == b"slowval"


def test_large_values(cluster):
    big = bytes(range(256)) * 40_000   # ~10 MB
    with cluster.proxy.conn(timeout=30) as c:
        assert c.call("SET", "bigval", big) == Status("OK")
        assert c.call("GET", "bigval") == big
        assert c.call("STRLEN", "bigval") == len(big)
