#!/usr/bin/env python3
"""Client memory of codis-proxy: what an idle connection costs, and the RSS
of a burst of big requests (during, and after the clients are gone).

    bench/client_memory.py [--proxy-bin build/proxy/codis-proxy] [--idle 5000]
                           [--clients 8] [--send-mb 100] [--bulk-mb 500]
                           [--config proxy_max_client_memory=512mb ...]

Starts one redis-server and one codis-proxy (--ncpu 2, all slots on the one
server) on free loopback ports, then:

1. idle: RSS before, N connections opened (nothing sent), RSS after; then the
   same N connections each send one PING and go idle again. Prints the bytes
   per connection, (after - before) / N, for both.
2. burst: C clients each send the header of a SET whose value is BULK MB, then
   SEND MB of it (concurrently), and stop there; RSS is sampled meanwhile. Then
   they close, and RSS is read again once it settles (after the proxy's
   housekeeping second). Prints the peak and the RSS after.

RSS is VmRSS of /proc/PID/status. See docs/benchmarks.md "Client memory".
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from harness import Proxy, RedisServer, RespConn, Status, slot_table, wait_until  # noqa: E402


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def settled_rss_kb(pid: int, seconds: float = 2.5) -> int:
    """RSS once the proxy's once-a-second housekeeping has run (a few samples, the last)."""
    time.sleep(seconds)
    return rss_kb(pid)


def sessions_alive(proxy: Proxy) -> int:
    return proxy.get("/proxy/stats").json()["sessions"]["alive"]


def idle_cost(proxy: Proxy, n: int) -> dict:
    pid = proxy.proc.pid
    wait_until(lambda: sessions_alive(proxy) == 0, 10, what="no sessions")
    before = settled_rss_kb(pid)
    socks = []
    try:
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
            socks.append(s)
        wait_until(lambda: sessions_alive(proxy) == n, 30, interval=0.2, what=f"{n} sessions")
        fresh = settled_rss_kb(pid)
        for s in socks:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
        for s in socks:
            buf = b""
            while not buf.endswith(b"\r\n"):
                chunk = s.recv(64)
                if not chunk:
                    raise RuntimeError("connection closed")
                buf += chunk
            assert buf == b"+PONG\r\n", buf
        used = settled_rss_kb(pid)
    finally:
        for s in socks:
            s.close()
    wait_until(lambda: sessions_alive(proxy) == 0, 30, interval=0.2, what="sessions closed")
    after = settled_rss_kb(pid)
    return {
        "connections": n,
        "rss_before_kb": before,
        "rss_idle_kb": fresh,
        "rss_after_ping_kb": used,
        "rss_after_close_kb": after,
        "bytes_per_idle_connection": round((fresh - before) * 1024 / n),
        "bytes_per_connection_after_ping": round((used - before) * 1024 / n),
    }


def burst(proxy: Proxy, clients: int, send_mb: int, bulk_mb: int) -> dict:
    pid = proxy.proc.pid
    wait_until(lambda: sessions_alive(proxy) == 0, 10, what="no sessions")
    before = settled_rss_kb(pid)
    header = b"*3\r\n$3\r\nSET\r\n$9\r\nbigvalue0\r\n$%d\r\n" % (bulk_mb << 20)
    chunk = b"x" * (1 << 20)
    done = threading.Barrier(clients + 1)
    cut = []
    socks = []

    def sender(i: int):
        s = socket.create_connection(("127.0.0.1", proxy.port), timeout=30)
        socks.append(s)
        try:
            s.sendall(header)
            for _ in range(send_mb):
                s.sendall(chunk)
        except OSError:
            cut.append(i)  # closed by the proxy (over the client memory budget)
        done.wait()

    threads = [threading.Thread(target=sender, args=(i,), daemon=True) for i in range(clients)]
    peak = before
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads) and done.n_waiting < clients:
        peak = max(peak, rss_kb(pid))
        time.sleep(0.02)
    peak = max(peak, rss_kb(pid))
    time.sleep(0.5)  # what was sent is read by now
    peak = max(peak, rss_kb(pid))
    held = rss_kb(pid)
    done.wait()
    for s in socks:
        s.close()
    wait_until(lambda: sessions_alive(proxy) == 0, 30, interval=0.2, what="sessions closed")
    after = settled_rss_kb(pid)
    return {
        "clients": clients,
        "sent_mb_each": send_mb,
        "bulk_mb": bulk_mb,
        "clients_cut": len(cut),
        "rss_before_kb": before,
        "rss_peak_kb": peak,
        "rss_held_kb": held,
        "rss_after_close_kb": after,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--proxy-bin", default=str(ROOT / "build" / "proxy" / "codis-proxy"))
    ap.add_argument("--idle", type=int, default=5000, help="idle connections (0: skip)")
    ap.add_argument("--clients", type=int, default=8, help="burst clients (0: skip)")
    ap.add_argument("--send-mb", type=int, default=100)
    ap.add_argument("--bulk-mb", type=int, default=500)
    ap.add_argument("--ncpu", type=int, default=2)
    ap.add_argument("--config", action="append", default=[], help="KEY=VALUE for proxy.toml")
    args = ap.parse_args()

    need = args.idle + 200
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))

    import tempfile
    work = Path(tempfile.mkdtemp(prefix="client-memory-"))
    redis = RedisServer(work).start()
    config = {"proxy_max_clients": max(1000, args.idle + 100), "proxy_max_bulk_len": "1gb"}
    for kv in args.config:
        k, v = kv.split("=", 1)
        config[k] = int(v) if v.isdigit() else v
    proxy = Proxy(work, slot_table({1: (redis.addr, [(0, 1023)])}), config,
                  binary=Path(args.proxy_bin), extra_args=["--ncpu", str(args.ncpu)])
    result = {"proxy_bin": args.proxy_bin, "config": config}
    try:
        proxy.start()
        with RespConn(proxy.port) as c:  # warm up: the backend connections, a few requests
            for i in range(100):
                assert c.call("SET", f"warm:{i}", "v" * 100) == Status("OK")
        if args.idle:
            result["idle"] = idle_cost(proxy, args.idle)
        if args.clients:
            result["burst"] = burst(proxy, args.clients, args.send_mb, args.bulk_mb)
            with RespConn(proxy.port) as c:
                assert c.call("PING") == Status("PONG")
    finally:
        proxy.stop()
        redis.stop()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
