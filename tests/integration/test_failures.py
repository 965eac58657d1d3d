"""Backend failure and recovery, authentication, client limits, idle timeout."""

from __future__ import annotations

import socket
import time

import pytest

from harness import (ConnClosed, Err, RespConn, Status, encode, key_in_slots,
                     two_group_slots, wait_until)

pytestmark = pytest.mark.real_proxy

A = key_in_slots(0, 511, "f")      # group 1
B = key_in_slots(512, 1023, "f")   # group 2


@pytest.mark.timeout(90)
def test_killed_backend_errors_fast_then_recovers(make_redis, make_proxy):
    g1, g2 = make_redis(), make_redis()
    proxy = make_proxy(two_group_slots(g1.addr, g2.addr), {"backend_ping_period": "1s"})
    with proxy.conn() as c:
        assert c.call("SET", A, "a1") == Status("OK")
        assert c.call("SET", B, "b1") == Status("OK")
        g2.kill()
        # requests for group 2 fail quickly, repeatedly, without hanging
        for _ in range(3):
            t0 = time.monotonic()
            r = c.call("GET", B, timeout=5)
            assert isinstance(r, Err) and r.message.startswith("ERR"), r
            assert time.monotonic() - t0 < 3, "error for a dead backend took too long"
        # split command touching the dead group fails as a whole, with an error
        r = c.call("MGET", A, B, timeout=5)
        assert isinstance(r, Err), r
        # group 1 keeps working on the same connection and on new ones
        assert c.call("GET", A) == b"a1"
        with proxy.conn() as c2:
            assert c2.call("SET", A, "a2") == Status("OK")
        # a pipeline mixing both groups: answers in order, errors only for group 2
        c.send_raw(b"".join(encode(*x) for x in [("GET", A), ("GET", B), ("PING",), ("GET", A)]))
        r1, r2, r3, r4 = (c.read_reply() for _ in range(4))
        assert r1 == b"a2" and isinstance(r2, Err) and r3 == Status("PONG") and r4 == b"a2", (r1, r2, r3, r4)

        # backend comes back on the same port (empty): the proxy reconnects by itself
        g2.start()
        t0 = time.monotonic()

        def served():
            return c.call("SET", B, "b2", timeout=5) == Status("OK")
        wait_until(served, 10, interval=0.2, what="proxy to serve group 2 again")
        assert time.monotonic() - t0 < 10
        assert c.call("GET", B) == b"b2"
        assert c.call("MGET", A, B) == [b"a2", b"b2"]
        # a session in another db keeps its db on the new backend connection
        with proxy.conn() as c3:
            assert c3.call("SELECT", 3) == Status("OK")
            assert c3.call("SET", B, "b-db3") == Status("OK")
    assert proxy.alive()
    with g2.conn() as d:
        assert d.call("GET", B) == b"b2"
    with g2.conn(3) as d:
        assert d.call("GET", B) == b"b-db3"


@pytest.mark.timeout(60)
def test_backend_restart_reauths(make_redis, make_proxy):
    g1, g2 = make_redis(password="pw"), make_redis(password="pw")
    proxy = make_proxy(two_group_slots(g1.addr, g2.addr), {"product_auth": "pw"})
    with proxy.conn() as c:
        assert c.call("SELECT", 2) == Status("OK")
        assert c.call("SET", B, "before") == Status("OK")
        g2.restart()
        wait_until(lambda: c.call("SET", B, "after", timeout=5) == Status("OK"), 10, interval=0.2,
                   what="proxy to re-AUTH and serve group 2 after a restart")
    with g2.conn(2) as d:
        assert d.call("GET", B) == b"after"


@pytest.mark.timeout(60)
def test_backend_killed_with_requests_in_flight(make_redis, make_proxy):
    g1, g2 = make_redis(), make_redis()
    proxy = make_proxy(two_group_slots(g1.addr, g2.addr))
    with proxy.conn() as c, g2.conn() as d:
        # A request held by the backend (paused), known to be in flight from
        # the proxy's own count before the backend dies.
        assert d.call("CLIENT", "PAUSE", "10000", "ALL") == Status("OK")
        c.send("GET", B)

        def in_flight():
            backends = proxy.get("/proxy/stats").json().get("backends", [])
            return any(b["addr"] == g2.addr and b["pending"] >= 1 for b in backends)
        wait_until(in_flight, 5, what="the GET in flight at group 2")
        g2.kill()
        r = c.read_reply(timeout=5)
        assert isinstance(r, Err) and r.message.startswith("ERR"), r
        assert c.call("PING") == Status("PONG")
    assert proxy.alive()


def test_session_auth_and_product_auth(make_redis, make_proxy):
    product_auth = "backend-pass"
    g1, g2 = make_redis(password=product_auth), make_redis(password=product_auth)
    direct = make_redis(password="s3cret")
    proxy = make_proxy(two_group_slots(g1.addr, g2.addr),
                       {"product_auth": product_auth, "session_auth": "s3cret"})
    with proxy.conn() as c, RespConn(direct.port) as dc:
        for cmd in (("GET", A), ("SET", B, "x"), ("PING",), ("MGET", A, B), ("SELECT", 1)):
            r = c.call(*cmd)
            assert r == Err("NOAUTH Authentication required."), (cmd, r)
            assert dc.call(*cmd) == r, "harness: direct Redis differs"
        bad_p, bad_d = c.call("AUTH", "wrong"), dc.call("AUTH", "wrong")
        assert isinstance(bad_p, Err) and isinstance(bad_d, Err)
        assert bad_p.code == bad_d.code, (bad_p, bad_d)    # WRONGPASS ... as Redis 7
        assert c.call("GET", A) == Err("NOAUTH Authentication required.")
        assert c.call("AUTH", "s3cret") == Status("OK")
        assert c.call("PING") == Status("PONG")
        assert c.call("MSET", A, "va", B, "vb") == Status("OK")
        assert c.call("MGET", A, B) == [b"va", b"vb"]
        assert c.call("SELECT", 2) == Status("OK")
        assert c.call("SET", A, "db2") == Status("OK")
    for key, g, val in ((A, g1, b"va"), (B, g2, b"vb")):
        with g.conn() as gc:
            assert gc.call("GET", key) == val
    with g1.conn(2) as gc:
        assert gc.call("GET", A) == b"db2"
    with RespConn(proxy.port) as c2:      # a new session starts unauthenticated
        assert c2.call("GET", A) == Err("NOAUTH Authentication required.")
        assert c2.call("AUTH", "s3cret") == Status("OK")
        assert c2.call("GET", A) == b"va"


def test_auth_without_session_auth(cluster):
    with cluster.proxy.conn() as c, cluster.direct.conn() as dc:
        rp, rd = c.call("AUTH", "whatever"), dc.call("AUTH", "whatever")
        assert isinstance(rp, Err) and isinstance(rd, Err)
        assert rp.code == rd.code, (rp, rd)
        assert c.call("PING") == Status("PONG")


def _connect_and_first_reply(port: int):
    """Return the first reply a new connection gets (sending PING if the
    proxy says nothing on its own), or 'closed'."""
    s = RespConn(port, timeout=3)
    try:
        try:
            s.sock.settimeout(0.3)
            s._fill(0.3)
        except socket.timeout:
            s.send("PING")
        except (ConnClosed, ConnectionResetError):
            return s, "closed"
        try:
            return s, s.read_reply(timeout=3)
        except (ConnClosed, ConnectionResetError, BrokenPipeError):
            return s, "closed"
    except (BrokenPipeError, ConnectionResetError):
        return s, "closed"


@pytest.mark.timeout(60)
def test_max_clients(make_redis, make_proxy):
    g1, g2 = make_redis(), make_redis()
    proxy = make_proxy(two_group_slots(g1.addr, g2.addr), {"proxy_max_clients": 5})
    # the readiness probe's connection must be released before we count
    wait_until(lambda: proxy.get("/proxy/stats").json()["sessions"]["alive"] == 0, 5,
               what="readiness-probe session to be released")
    conns = [proxy.conn() for _ in range(5)]
    try:
        for c in conns:
            assert c.call("PING") == Status("PONG")
        extra, r = _connect_and_first_reply(proxy.port)
        assert isinstance(r, Err) and r.message.startswith("ERR"), \
            f"6th connection should get an error reply, got {r!r}"
        assert "max" in r.message.lower() and "clients" in r.message.lower(), r
        assert extra.wait_closed(3), "over-limit connection left open"
        extra.close()
        for c in conns:      # the 5 admitted ones are unaffected
            assert c.call("SET", A, "v") == Status("OK")
        conns.pop().close()

        def admitted():
            s, r2 = _connect_and_first_reply(proxy.port)
            s.close()
            return r2 == Status("PONG")
        wait_until(admitted, 5, interval=0.2, what="a slot freed by a closed client")
    finally:
        for c in conns:
            c.close()
    assert proxy.alive()


@pytest.mark.timeout(60)
def test_idle_timeout(make_redis, make_proxy):
    g1, g2 = make_redis(), make_redis()
    proxy = make_proxy(two_group_slots(g1.addr, g2.addr), {"session_recv_timeout": "1s"})
    idle = proxy.conn()
    busy = proxy.conn()
    assert idle.call("PING") == Status("PONG")
    t0 = time.monotonic()
    closed_at = None
    while time.monotonic() - t0 < 5:
        try:   # a connection active every ~0.1 s must never be closed as idle
            assert busy.call("PING") == Status("PONG")
        except (ConnClosed, ConnectionResetError):
            pytest.fail(f"active connection (PING every ~0.1s) closed after "
                        f"{time.monotonic() - t0:.2f}s with session_recv_timeout=1s")
        if closed_at is None and idle.wait_closed(0.1):
            closed_at = time.monotonic() - t0
    assert closed_at is not None, "idle connection not closed within 5 s (session_recv_timeout=1s)"
    assert 0.5 <= closed_at <= 3.5, f"idle connection closed after {closed_at:.2f}s"
    assert busy.call("SET", B, "x") == Status("OK")
    idle.close()
    busy.close()


def test_idle_timeout_zero_means_none(make_redis, make_proxy):
    g1, g2 = make_redis(), make_redis()
    proxy = make_proxy(two_group_slots(g1.addr, g2.addr), {"session_recv_timeout": "0"})
    with proxy.conn() as c:
        assert c.call("PING") == Status("PONG")
        assert not c.wait_closed(2.5)
        assert c.call("PING") == Status("PONG")


@pytest.mark.timeout(60)
def test_size_limits(make_redis, make_proxy):
    g1, g2 = make_redis(), make_redis()
    proxy = make_proxy(two_group_slots(g1.addr, g2.addr),
                       {"proxy_max_bulk_len": "1kb", "proxy_max_array_len": 8})
    with proxy.conn() as ok:
        assert ok.call("SET", A, "x" * 1024) == Status("OK")
        assert ok.call("MSET", A, 1, B, 2, A, 3) == Status("OK")      # 7 elements
        for payload in (encode("SET", A, "x" * 1025), encode("MSET", A, 1, B, 2, A, 3, B, 4)):
            with RespConn(proxy.port) as c:
                c.send_raw(payload)
                try:
                    r = c.read_reply(timeout=5)
                except (ConnClosed, ConnectionResetError):
                    r = "closed without a reply"
                assert isinstance(r, Err) and r.message.startswith("ERR"), (payload[:40], r)
        assert ok.call("GET", A) == b"3"
    assert proxy.alive()


def test_wrong_product_auth_gives_errors_not_hangs(make_redis, make_proxy):
    g1, g2 = make_redis(password="right"), make_redis(password="right")
    proxy = make_proxy(two_group_slots(g1.addr, g2.addr), {"product_auth": "wrong"})
    with proxy.conn() as c:
        for cmd in (("GET", A), ("SET", B, "x"), ("MGET", A, B)):
            t0 = time.monotonic()
            r = c.call(*cmd, timeout=5)
            assert isinstance(r, Err), (cmd, r)
            assert time.monotonic() - t0 < 3
        assert c.call("PING") == Status("PONG")


@pytest.mark.timeout(90)
def test_abrupt_client_disconnects(make_redis, make_proxy):
    """Clients vanishing mid-pipeline or mid-request do not hurt the proxy."""
    g1, g2 = make_redis(), make_redis()
    proxy = make_proxy(two_group_slots(g1.addr, g2.addr))
    big = b"".join(encode("SET", f"ab:{i}", "v" * 100) + encode("GET", f"ab:{i}") for i in range(5000))
    for i in range(30):
        c = RespConn(proxy.port, timeout=2)
        try:
            if i % 3 == 0:
                c.send_raw(big)                      # never reads the replies
            elif i % 3 == 1:
                c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nhalf")   # half a request
            else:
                c.send_raw(big[:len(big) // 2])
        except socket.timeout:
            pass                                     # back-pressure is fine
        if i % 2:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()                                    # RST when linger 0
    assert proxy.alive()
    with proxy.conn() as c:
        assert c.call("SET", A, "fine") == Status("OK")
        assert c.call("MGET", A, B) == [b"fine", None]

    def sessions_drained():
        st = proxy.get("/proxy/stats").json()
        return st["sessions"]["alive"] <= 1
    wait_until(sessions_drained, 15, interval=0.3, what="sessions of vanished clients to be released")
    assert proxy.alive()


def test_session_break_on_failure(make_redis, make_proxy):
    from harness import key_in_slot, two_group_slots, Err
    g1, g2 = make_redis(), make_redis()
    proxy = make_proxy(two_group_slots(g1.addr, g2.addr), config={"session_break_on_failure": True})
    with proxy.conn() as c:
        assert c.call("SET", key_in_slot(900, "b"), 1) is not None
        g1.kill()
        r = c.call("GET", key_in_slot(5, "b"))
        assert isinstance(r, Err) and "backend" in r.message
        assert c.wait_closed(5)                 # the connection is closed after the error
    with proxy.conn() as c:                     # other connections are fine
        assert c.call("GET", key_in_slot(900, "b")) == b"1"
