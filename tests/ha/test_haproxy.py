"""Two codis-proxies behind a real HAProxy configured from
deploy/configs/haproxy.cfg. Clients write continuously through HAProxy; one
proxy is killed with SIGKILL. Its clients reconnect through HAProxy and go on
(no acknowledged write lost), new connections never reach the dead proxy,
HAProxy's health check marks it DOWN, and UP again once it is restarted."""

import os
import signal
import socket
import time

import pytest

from harness import Proxy, RedisServer, RespConn, free_port, slot_table, wait_until
from ha_helpers import HAPROXY, HAProxy, ReconnectingWriter

pytestmark = pytest.mark.skipif(not os.path.exists(HAPROXY), reason="haproxy is not installed")


def make_cluster(tmp_path, config=None):
    server = proxies = haproxy = None
    try:
        server = RedisServer(tmp_path).start()
        slots = slot_table({1: (server.addr, [(0, 1023)])})
        proxies = [Proxy(tmp_path, slots, {"product_name": "codis-ha", **(config or {})}).start() for _ in range(2)]
        haproxy = HAProxy(tmp_path / "haproxy", free_port(), free_port(),
                          [(f"proxy-{i + 1}", p.addr, p.admin_port) for i, p in enumerate(proxies)]).start()
        wait_until(lambda: haproxy.stat() == {"proxy-1": "UP", "proxy-2": "UP"}, 15,
                   what="both proxies UP in HAProxy")
        yield server, proxies, haproxy
    finally:
        if haproxy:
            haproxy.stop()
        for p in proxies or []:
            p.stop()
        if server:
            server.stop()


@pytest.fixture
def cluster(tmp_path):
    yield from make_cluster(tmp_path)


def alive_sessions(proxy) -> int:
    return proxy.get("/proxy/stats").json()["sessions"]["alive"]


def ping(port) -> bool:
    with RespConn(port, timeout=3) as c:
        return c.call("PING") == "PONG"


def test_kill_one_proxy_behind_haproxy(cluster):
    server, proxies, haproxy = cluster
    writers = [ReconnectingWriter(haproxy.port, f"w{i}") for i in range(4)]
    for w in writers:
        w.start()
    try:
        # leastconn: the 4 clients are spread over both proxies
        wait_until(lambda: all(len(w.acked) > 20 for w in writers), 20, what="writers running")
        wait_until(lambda: all(alive_sessions(p) >= 1 for p in proxies), 10, what="sessions on both proxies")
        victim, survivor = proxies
        before = {id(w): len(w.acked) for w in writers}

        os.kill(victim.proc.pid, signal.SIGKILL)
        victim.proc.wait(10)
        killed_at = time.monotonic()

        # New connections go to the live proxy at once (a refused connect is
        # redispatched), even before the health check has noticed.
        for _ in range(10):
            assert ping(haproxy.port)

        # HAProxy marks the dead proxy DOWN (2 failed checks, 1 s apart).
        wait_until(lambda: haproxy.stat().get("proxy-1") == "DOWN", 10, what="proxy-1 DOWN in HAProxy")
        marked_down = time.monotonic() - killed_at
        assert haproxy.stat().get("proxy-2") == "UP"

        # Every writer goes on; those that were on the victim reconnected.
        wait_until(lambda: all(len(w.acked) > before[id(w)] + 50 for w in writers), 20,
                   what="every writer writing again")
        broken = [w for w in writers if w.reconnects]
        assert broken, "no client connection was on the killed proxy"
        for w in broken:
            for _, gap in w.reconnects:
                assert gap < 3, f"{w.prefix}: {gap:.1f}s without a write after its proxy died"
            # Only the write in flight when a connection broke; a reconnect that HAProxy was still
            # retrying toward the dead proxy when it marked it DOWN (shutdown-sessions) breaks once more.
            assert len(w.unknown) <= 2 * len(w.reconnects), w.unknown

        # The proxy comes back: HAProxy marks it UP and gives it connections again.
        victim.start()
        wait_until(lambda: haproxy.stat().get("proxy-1") == "UP", 15, what="proxy-1 UP again")
        conns = [RespConn(haproxy.port, timeout=3) for _ in range(6)]
        try:
            for c in conns:
                assert c.call("PING") == "PONG"
            wait_until(lambda: alive_sessions(victim) >= 1, 5, what="new clients on the restarted proxy")
        finally:
            for c in conns:
                c.close()
    finally:
        for w in writers:
            w.stop()

    for w in writers:
        assert not w.errors, w.errors[:5]
    # No acknowledged write is lost: every key with an OK is on the server.
    with server.conn() as c:
        for w in writers:
            for i in range(0, len(w.acked), 500):
                chunk = w.acked[i:i + 500]
                values = c.call("MGET", *chunk)
                missing = [k for k, v in zip(chunk, values) if v != k.split(":")[1].encode()]
                assert not missing, f"acknowledged writes lost: {missing[:5]}"
    total = sum(len(w.acked) for w in writers)
    print(f"\n{total} acknowledged writes, proxy marked DOWN after {marked_down:.1f}s, "
          f"reconnect gaps {[round(g, 2) for w in writers for _, g in w.reconnects]}")


def test_a_slow_client_flood_does_not_take_the_proxies_down(tmp_path):
    """Measured before: connections that each send half a command filled proxy_max_clients, HAProxy's
    PING check on the client port was refused (`max number of clients reached`), both proxies were
    marked DOWN and every session was cut. Now the check is /health on the admin port, the open
    sessions go on, and the stalled connections are closed after session_request_timeout."""
    gen = make_cluster(tmp_path, {"proxy_max_clients": 40, "session_request_timeout": "4s"})
    server, proxies, haproxy = next(gen)
    writers = [ReconnectingWriter(haproxy.port, f"f{i}") for i in range(4)]
    flood = []
    try:
        for w in writers:
            w.start()
        wait_until(lambda: all(len(w.acked) > 20 for w in writers), 20, what="writers running")
        for p in proxies:  # more than the limit, straight to each proxy's client port
            for _ in range(60):
                s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
                s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nstall")
                flood.append(s)
        end = time.monotonic() + 3.5  # HAProxy would have marked a failing proxy DOWN within ~2 s
        while time.monotonic() < end:
            assert haproxy.stat() == {"proxy-1": "UP", "proxy-2": "UP"}, haproxy.stat()
            time.sleep(0.25)
        before = [len(w.acked) for w in writers]
        wait_until(lambda: all(len(w.acked) > b + 20 for w, b in zip(writers, before)), 10,
                   what="the writers' sessions go on during the flood")
        # After session_request_timeout the stalled connections are gone and there is room again.
        wait_until(lambda: all(p.get("/proxy/stats").json()["sessions"]["alive"] <= 8 for p in proxies), 15,
                   what="stalled connections closed")
        with RespConn(haproxy.port, timeout=3) as c:
            assert c.call("PING") == "PONG"
    finally:
        for s in flood:
            s.close()
        for w in writers:
            w.stop()
        gen.close()
    for w in writers:
        assert not w.errors, w.errors[:5]
        assert not w.reconnects, f"{w.prefix}: its session was cut: {w.reconnects}"
