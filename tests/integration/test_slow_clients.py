"""Slow and idle clients, connection limits and health (issue 15, item 1).

Measured before: 1,000 connections that each sent half a command filled
proxy_max_clients and stayed for session_recv_timeout (30 minutes); a load
balancer's PING check then got `max number of clients reached` and marked the
proxy down. Now a started command must arrive whole within
session_request_timeout, new connections over a limit get an error while open
sessions go on, an optional per-source limit exists, and /health on the admin
port (not the client port) says whether the proxy should get clients; systemd
gets READY=1 and watchdog pings."""

from __future__ import annotations

import os
import re
import socket
import time

import pytest

from harness import RespConn, Status, http, key_in_slot, slot_table, wait_until

pytestmark = pytest.mark.real_proxy

HALF = b"*3\r\n$3\r\nSET\r\n$3\r\nabc\r\n$10\r\nhal"  # a SET whose value never arrives whole


def metric(proxy, name, labels="") -> float:
    text = proxy.get("/metrics").text
    m = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else -1


def one_group(addr):
    return slot_table({1: (addr, [(0, 1023)])})


def stalled(port, n, data=HALF):
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(data)
        socks.append(s)
    return socks


def closed_by_peer(s) -> bool:
    s.settimeout(0.05)
    try:
        return s.recv(4096) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


def no_sessions(proxy):
    """Until the proxy has closed every session (the harness's readiness probe too): the limits count them."""
    wait_until(lambda: proxy.get("/proxy/stats").json()["sessions"]["alive"] == 0, 10, what="no session open")


def first_line(port) -> bytes:
    """What a new connection is told before anything is sent (an over-limit error), b"" if closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.settimeout(2)
        try:
            return s.recv(4096)
        except socket.timeout:
            return b"(nothing)"


def test_a_half_sent_command_is_cut_after_session_request_timeout(make_redis, make_proxy):
    r = make_redis()
    p = make_proxy(one_group(r.addr), {"session_request_timeout": "2s", "session_recv_timeout": "30m"})
    socks = stalled(p.port, 20)
    idle = socket.create_connection(("127.0.0.1", p.port), timeout=5)  # sent nothing: idle, not stalled
    with p.conn() as busy:
        try:
            t0 = time.monotonic()
            wait_until(lambda: all(closed_by_peer(s) for s in socks), 10, interval=0.2,
                       what="the stalled connections closed by the proxy")
            took = time.monotonic() - t0
            assert 1.5 < took < 6, took
            # The idle connection and a working client are untouched.
            assert not closed_by_peer(idle)
            assert busy.call("SET", key_in_slot(1, "k"), "v") == Status("OK")
            assert metric(p, "codis_proxy_request_timeouts_total") >= 20
            assert "session_request_timeout" in p.tail(20000)
        finally:
            for s in socks + [idle]:
                s.close()


def test_a_slow_but_moving_pipeline_is_not_cut(make_redis, make_proxy):
    """The clock runs per command: a client whose commands keep completing is never cut, even if
    bytes of a next command are always pending."""
    r = make_redis()
    p = make_proxy(one_group(r.addr), {"session_request_timeout": "2s"})
    cmd = b"*3\r\n$3\r\nSET\r\n$3\r\nabc\r\n$1\r\nx\r\n"
    with socket.create_connection(("127.0.0.1", p.port), timeout=5) as s:
        end = time.monotonic() + 5
        sent = 0
        while time.monotonic() < end:
            s.sendall(cmd[:10])      # half of one command...
            time.sleep(0.5)
            s.sendall(cmd[10:])      # ...completed half a second later
            sent += 1
        s.settimeout(5)
        got = b""
        while got.count(b"+OK\r\n") < sent:
            chunk = s.recv(4096)
            assert chunk, f"closed after {got.count(b'+OK')} of {sent} replies"
            got += chunk
    assert metric(p, "codis_proxy_request_timeouts_total") == 0


def test_over_proxy_max_clients_new_ones_get_an_error_and_old_ones_go_on(make_redis, make_proxy):
    r = make_redis()
    p = make_proxy(one_group(r.addr), {"proxy_max_clients": 10, "session_request_timeout": "0"})
    no_sessions(p)
    with p.conn() as c:
        socks = stalled(p.port, 9)  # with c: 10, the limit
        try:
            wait_until(lambda: p.get("/proxy/stats").json()["sessions"]["alive"] == 10, 5,
                       what="10 sessions open")
            for _ in range(5):
                assert first_line(p.port) == b"-ERR max number of clients reached\r\n"
            assert c.call("SET", key_in_slot(1, "k"), "v") == Status("OK")  # the open session goes on
            assert metric(p, "codis_proxy_clients_refused_total", '{limit="proxy_max_clients"}') == 5
            # One line a second at most, not one per refusal.
            assert p.tail(20000).count("refused a client") <= 2
            assert http("GET", p.admin_url + "/health").status == 200  # the admin port is not affected
        finally:
            for s in socks:
                s.close()
    wait_until(lambda: first_line(p.port) == b"(nothing)", 5, what="room again once clients left")


def test_per_source_limit(make_redis, make_proxy):
    r = make_redis()
    p = make_proxy(one_group(r.addr), {"proxy_max_clients_per_source": 3})
    no_sessions(p)
    conns = [p.conn() for _ in range(3)]
    try:
        assert first_line(p.port) == b"-ERR max number of clients from this address reached\r\n"
        for c in conns:
            assert c.call("PING") == "PONG"
        assert metric(p, "codis_proxy_clients_refused_total", '{limit="proxy_max_clients_per_source"}') == 1
        conns.pop().close()
        wait_until(lambda: first_line(p.port) == b"(nothing)", 5, what="a slot free again for the address")
    finally:
        for c in conns:
            c.close()


def test_health_says_whether_to_send_clients(make_redis, make_proxy):
    r = make_redis()
    p = make_proxy(None)  # no routing yet: not online
    h = http("GET", p.admin_url + "/health", auth=None)
    assert h.status == 503 and "not online" in h.text, h
    p2 = make_proxy(one_group(r.addr))  # --fillslots: online
    h = http("GET", p2.admin_url + "/health", auth=None)
    assert h.status == 200 and h.text == "OK\n", h
    # Shutting down: 503 before the port closes (the load balancer stops sending clients).
    assert http("PUT", p2.admin_url + f"/api/proxy/shutdown/{p2.xauth}").status == 200
    try:
        h = http("GET", p2.admin_url + "/health", auth=None)
        assert h.status == 503 and "shutting down" in h.text, h
    except OSError:
        pass  # already gone: as good for a load balancer


def test_systemd_ready_and_watchdog(make_redis, make_proxy, tmp_path):
    r = make_redis()
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    try:
        make_proxy(one_group(r.addr), env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
        got = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and got.count(b"WATCHDOG=1") < 2:
            got.append(sock.recv(4096))
        assert got[0] == b"READY=1", got
        assert got.count(b"WATCHDOG=1") >= 2, got
    finally:
        sock.close()
        os.unlink(path)
