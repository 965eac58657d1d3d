"""Sentinel failover, with real processes: ZooKeeper, 2 groups of master +
replica (redis-server with codis_slots.so), 3 sentinels, codis-dashboard and
2 codis-proxies.

* kill -9 a group's master while clients write through both proxies: the
  sentinels promote the replica, the proxies re-route on their own, the
  dashboard records the new master; clients see errors only between the kill
  and their first successful write to that group, and every write
  acknowledged and confirmed replicated (WAIT) before the kill reads back.
  The figures (failover time, errors, writes lost) are printed
  (pytest -s shows them; CODIS_HA_DOWN_AFTER=5s measures with another
  sentinel_down_after than the suite's 1s).
* the proxies follow the sentinels with the dashboard down, and a dashboard
  started after the failover records the new master from the sentinels.
* dead or bogus sentinels block neither the dashboard nor the proxy.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import pytest

from harness import ConnClosed, NSLOTS, Proxy, ProtocolViolation, RespConn, Status, slot_of, wait_until
from sentinel_harness import Sentinel, SentinelCluster, dump_logs, role, subscriptions
from dashboard_harness import Dashboard, codis_server

FAILOVER_BOUND = 30.0  # seconds from the kill to the first successful write again


def group_of_key(key, ngroups=2):
    return min(slot_of(key) // (NSLOTS // ngroups), ngroups - 1) + 1


class Writer(threading.Thread):
    """SET {prefix}:{n} n in a loop through one proxy, one connection,
    recording what was acknowledged and what failed, with times; every 25
    writes a WAIT 1 200 confirms that every earlier acknowledged write
    reached a replica of every group."""

    def __init__(self, port, prefix):
        super().__init__(daemon=True)
        self.port = port
        self.prefix = prefix
        self.stop_flag = threading.Event()
        self.acked = []      # (n, key, time acknowledged)
        self.errors = []     # (time, key, what)
        self.confirmed = []  # (time WAIT returned >= 1, acked writes covered: acked[:count])
        self.lock = threading.Lock()

    def key(self, n):
        return f"{self.prefix}:{n}"

    def run(self):
        conn = None
        n = 0
        while not self.stop_flag.is_set():
            key = self.key(n)
            try:
                if conn is None:
                    conn = RespConn(self.port, timeout=3)
                r = conn.call("SET", key, str(n))
                now = time.monotonic()
                with self.lock:
                    if r == Status("OK"):
                        self.acked.append((n, key, now))
                    else:
                        self.errors.append((now, key, repr(r)))
                if r != Status("OK"):
                    time.sleep(0.005)
                elif n % 25 == 24:
                    covered = len(self.acked)
                    w = conn.call("WAIT", 1, 200)
                    if isinstance(w, int) and w >= 1:
                        with self.lock:
                            self.confirmed.append((time.monotonic(), covered))
            except (OSError, ConnClosed, ProtocolViolation, socket.timeout) as e:
                with self.lock:
                    self.errors.append((time.monotonic(), key, repr(e)))
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.01)
            n += 1
        if conn is not None:
            conn.close()

    def first_success_after(self, t, gid):
        with self.lock:
            for n, key, at in self.acked:
                if at > t and group_of_key(key) == gid:
                    return at
        return None

    def recovered(self, t_kill, gid):
        """The end of the switch window: the first successful write to group
        gid after the first error since the kill (a write in flight at the
        kill may still have been acknowledged by the dying master)."""
        with self.lock:
            errors = [t for t, _, _ in self.errors if t >= t_kill]
        if not errors:
            return None
        return self.first_success_after(min(errors), gid)

    def stop(self):
        self.stop_flag.set()
        self.join(10)


def read_back(proxy, keys):
    """{key: value or None} through the proxy, in MGET batches."""
    out = {}
    with RespConn(proxy.port, timeout=10) as c:
        for i in range(0, len(keys), 200):
            batch = keys[i:i + 200]
            vals = c.call("MGET", *batch)
            assert isinstance(vals, list), vals
            out.update(zip(batch, vals))
    return out


@pytest.fixture
def cluster(tmp_path, zookeeper, request):
    product = f"codis-ha-{request.node.name[5:25].replace('_', '-')}-{int(time.time() * 1000) % 100000}"
    # CODIS_HA_DOWN_AFTER (e.g. "5s") measures with another sentinel_down_after.
    c = SentinelCluster(tmp_path, zookeeper.addr, product,
                        down_after=os.environ.get("CODIS_HA_DOWN_AFTER", "1s")).start()
    try:
        yield c
    finally:
        c.stop()


def test_kill_master_under_load(cluster):
    c = cluster
    gid = 1
    old, new = c.masters[gid], c.replicas[gid]
    writers = [Writer(p.port, f"fo{i}") for i, p in enumerate(c.proxies)]
    for w in writers:
        w.start()
    try:
        wait_until(lambda: all(len(w.confirmed) >= 4 for w in writers), 20, what="writes confirmed by WAIT")
        t_kill = time.monotonic()
        old.kill()  # SIGKILL

        # Every writer writes to group 1 again within the bound.
        firsts = {}
        for w in writers:
            firsts[w.prefix] = wait_until(lambda: w.recovered(t_kill, gid),
                                          FAILOVER_BOUND, interval=0.02,
                                          what=f"writer {w.prefix}: a write to group {gid} after the kill")
        time.sleep(1.0)  # keep writing on the new master for a while
    finally:
        for w in writers:
            w.stop()

    # The sentinels promoted the replica.
    wait_until(lambda: c.sentinel_masters(gid) == {new.addr}, 10, what="every sentinel to name the replica")
    assert role(new.port) == "master"
    # The proxies route group 1 to it (they re-routed on their own, before any push).
    for p in c.proxies:
        assert c.proxy_backends(p, gid) == {new.addr}, dump_logs(c)
        assert c.proxy_backends(p, 2) == {c.masters[2].addr}
        assert "by sentinel" in p.log_file.read_text()
    # The dashboard recorded it: servers[0] is the new master, the group is out of sync (Codis).
    wait_until(lambda: c.group_servers(gid)[0][0] == new.addr, 15, what="the dashboard to record the new master")
    servers, out_of_sync = c.group_servers(gid)
    assert servers == [new.addr, old.addr] and out_of_sync is True
    assert f"group-[{gid}] master switched from {old.addr} to {new.addr} by sentinel" in c.dashboard.log()
    stats = c.dashboard.ok("GET", "/api/topom/stats/{x}")
    assert stats["sentinels"]["masters"].get(str(gid)) == new.addr
    pstats = c.proxies[0].get("/proxy/stats").json()
    assert pstats["sentinels"]["masters"][str(gid)] == new.addr and pstats["sentinels"]["switched"] is True

    # Errors only inside each writer's switch window, and only for group 1.
    figures = []
    for w in writers:
        first = firsts[w.prefix]
        for t, key, what in w.errors:
            assert t_kill <= t <= first, (w.prefix, t - t_kill, first - t_kill, key, what)
            assert group_of_key(key) == gid, (key, what)
        # Every write acknowledged and confirmed replicated before the kill reads back.
        confirmed = max((covered for at, covered in w.confirmed if at < t_kill), default=0)
        assert confirmed > 0
        acked = list(w.acked)
        values = read_back(c.proxies[0], [key for _, key, _ in acked])
        lost = [(n, key) for n, key, at in acked if values[key] != str(n).encode()]
        for i, (n, key, at) in enumerate(acked[:confirmed]):
            assert values[key] == str(n).encode(), (key, values[key], "confirmed before the kill, lost")
        # Anything lost was acknowledged before the kill, unconfirmed, by the dead master.
        for n, key in lost:
            at = next(a for m, k, a in acked if m == n)
            assert at < t_kill and group_of_key(key) == gid, (key, at - t_kill)
        figures.append((w.prefix, first - t_kill, len(w.errors), len(lost), len(acked), confirmed))

    print()
    for prefix, secs, nerr, nlost, nacked, nconf in figures:
        print(f"FAILOVER writer {prefix}: kill -> first successful write to the group {secs:.2f}s, "
              f"errors {nerr}, writes acknowledged but lost {nlost} "
              f"(of {nacked} acknowledged; {nconf} confirmed by WAIT before the kill, all read back)")
    for secs in (f[1] for f in figures):
        assert secs < FAILOVER_BOUND


def test_proxy_follows_without_dashboard_and_dashboard_reconciles(cluster):
    c = cluster
    gid = 2
    old, new = c.masters[gid], c.replicas[gid]
    key = next(f"r:{n}" for n in range(10000) if group_of_key(f"r:{n}") == gid)
    with c.proxies[0].conn() as conn:
        assert conn.call("SET", key, "before") == Status("OK")
        assert conn.call("WAIT", 1, 2000) >= 1

    # The dashboard goes away; then the group's master dies.
    c.dashboard.stop()
    old.kill()
    t_kill = time.monotonic()

    def writes_again(p):
        try:
            with p.conn(timeout=2) as conn:
                return conn.call("SET", key, "after") == Status("OK")
        except (OSError, ConnClosed, socket.timeout):
            return False
    for p in c.proxies:
        wait_until(lambda: writes_again(p), FAILOVER_BOUND, interval=0.1,
                   what=f"proxy {p.addr} to write to group {gid} without a dashboard")
    print(f"\nFAILOVER without dashboard: kill -> both proxies write again {time.monotonic() - t_kill:.2f}s")
    for p in c.proxies:
        assert c.proxy_backends(p, gid) == {new.addr}
        assert c.proxy_backends(p, 1) == {c.masters[1].addr}
    with c.proxies[1].conn() as conn:
        assert conn.call("GET", key) == b"after"

    # A proxy started from ZooKeeper now reads the old master there, and the
    # sentinel list: it follows the sentinels at once.
    late = Proxy(c.tmp, None, {"product_name": c.product}, extra_args=["--zookeeper", c.zk_addr])
    c.proxies.append(late.start())
    wait_until(lambda: c.proxy_backends(late, gid) == {new.addr}, 10, what="the late proxy to follow the sentinels")
    assert c.proxy_backends(late, 1) == {c.masters[1].addr}
    with late.conn() as conn:
        assert conn.call("GET", key) == b"after"

    # A dashboard started now learns the new master from the sentinels.
    c.dashboard = c.new_dashboard().start()
    wait_until(lambda: c.group_servers(gid)[0][0] == new.addr, 20, what="the new dashboard to reconcile")
    assert c.group_servers(gid) == ([new.addr, old.addr], True)
    assert c.group_servers(1)[0] == [c.masters[1].addr, c.replicas[1].addr]  # untouched
    assert f"group-[{gid}] master switched from {old.addr} to {new.addr} by sentinel" in c.dashboard.log()
    # Its pushes carry the new master too.
    for p in c.proxies:
        c.dashboard.ok("PUT", f"/api/topom/proxy/reinit/{{x}}/{p.token}")
        assert c.proxy_backends(p, gid) == {new.addr}
    with c.proxies[0].conn() as conn:
        assert conn.call("GET", key) == b"after"


def test_dead_or_bogus_sentinels_block_nothing(tmp_path, zookeeper):
    product = f"codis-ha-bogus-{int(time.time() * 1000) % 100000}"
    server = codis_server(tmp_path).start()
    proxy = Proxy(tmp_path, None, {"product_name": product}).start()
    sentinel = Sentinel(tmp_path)
    dash = Dashboard(tmp_path, product, zookeeper.addr).start()
    try:
        dash.ok("PUT", "/api/topom/group/create/{x}/1")
        dash.ok("PUT", f"/api/topom/group/add/{{x}}/1/{server.addr}")
        dash.ok("PUT", f"/api/topom/proxy/create/{{x}}/127.0.0.1:{proxy.admin_port}")
        dash.ok("PUT", "/api/topom/slots/assign/{x}", [{"id": i, "group_id": 1} for i in range(NSLOTS)])
        dash.ok("PUT", f"/api/topom/sentinels/add/{{x}}/{sentinel.addr}")
        dash.ok("PUT", "/api/topom/sentinels/resync-all/{x}")
        wait_until(lambda: sentinel.addr in subscriptions(proxy.log_file.read_text()), 10,
                   what="the proxy to subscribe")
        wait_until(lambda: sentinel.addr in subscriptions(dash.log()), 10, what="the dashboard to subscribe")

        # The sentinel dies: both daemons keep serving at full speed.
        sentinel.kill()
        t0 = time.monotonic()
        dash.ok("GET", "/api/topom/stats/{x}")
        dash.ok("PUT", "/api/topom/group/create/{x}/2")
        assert "not reachable" in dash.err("PUT", "/api/topom/sentinels/resync-all/{x}")
        with proxy.conn() as conn:
            assert conn.call("SET", "a", "1") == Status("OK")
            assert conn.call("GET", "a") == b"1"
        assert time.monotonic() - t0 < 3

        # Bogus sentinels for the proxy: refused port, unroutable address, no port.
        t0 = time.monotonic()
        body = {"servers": ["127.0.0.1:1", "10.255.255.1:26379", "no-port"], "out_of_sync": False}
        r = proxy.put(f"/api/proxy/sentinels/{proxy.xauth}", body)
        assert r.status == 200, r
        r = proxy.put(f"/api/proxy/sentinels/{proxy.xauth}/rewatch")
        assert r.status == 200, r
        assert time.monotonic() - t0 < 2
        with proxy.conn() as conn:
            for i in range(100):
                assert conn.call("SET", f"k{i}", i) == Status("OK")
        assert proxy.get("/proxy/stats").json()["sentinels"]["servers"] == body["servers"]
        assert proxy.get("/proxy/slots").status == 200

        # The sentinel comes back on the same port: the dashboard re-subscribes by itself.
        before = subscriptions(dash.log()).get(sentinel.addr, 0)
        sentinel.start()
        wait_until(lambda: subscriptions(dash.log()).get(sentinel.addr, 0) > before, 15,
                   what="the dashboard to re-subscribe")

        # Both stop promptly, with watchers running (and one of them stuck connecting).
        for proc in (proxy.proc, dash.proc):
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
            assert time.monotonic() - t0 < 5
    finally:
        for p in (dash, proxy, sentinel, server):
            p.stop()
