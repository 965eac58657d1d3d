"""A planned switchover (group/promote of a replica) under traffic gives no
client error and loses no write (issue 15): the proxies hold the group's
requests while the dashboard waits for the replica to have everything the
master acknowledged, then route to it. Real processes: ZooKeeper, 2 groups
of master + replica, 3 sentinels, the dashboard and 2 proxies.
"""

from __future__ import annotations

import socket
import threading

from harness import ConnClosed, Err, RespConn, wait_until
from sentinel_harness import SentinelCluster, dump_logs


class Writer(threading.Thread):
    """SET {prefix}:{n} n through one proxy; every 10th write is followed by
    WAIT 1 100 (a WAIT pending on a master that turns replica used to fail)."""

    def __init__(self, port, prefix):
        super().__init__(daemon=True)
        self.port, self.prefix = port, prefix
        self.stop = threading.Event()
        self.acked = []
        self.errors = []

    def run(self):
        n = 0
        with RespConn(self.port, timeout=10) as c:
            while not self.stop.is_set():
                key = f"{self.prefix}:{n}"
                try:
                    r = c.call("SET", key, n, timeout=10)
                    if isinstance(r, Err):
                        self.errors.append(f"SET {key}: {r.message}")
                    else:
                        self.acked.append(key)
                    if n % 10 == 0:
                        w = c.call("WAIT", 1, 100, timeout=10)
                        if isinstance(w, Err):
                            self.errors.append(f"WAIT: {w.message}")
                except (OSError, ConnClosed, socket.timeout) as e:
                    self.errors.append(f"{key}: {e!r}")
                    return
                n += 1


def test_promote_under_traffic_no_error_no_loss(tmp_path, zookeeper):
    c = SentinelCluster(tmp_path, zookeeper.addr, "codis-switchover").start()
    try:
        writers = [Writer(p.port, f"sw{i}-{j}") for i, p in enumerate(c.proxies) for j in range(2)]
        for w in writers:
            w.start()
        for round_ in range(4):
            gid = 1 + round_ % 2
            servers, _ = c.group_servers(gid)
            before = len(writers[0].acked)
            c.dashboard.ok("PUT", f"/api/topom/group/promote/{{x}}/{gid}/{servers[1]}")
            after, _ = c.group_servers(gid)
            assert after[0] == servers[1], after
            # traffic goes on after each switch
            wait_until(lambda: len(writers[0].acked) > before + 50, 20, what="writes after the switchover")
        for w in writers:
            w.stop.set()
        for w in writers:
            w.join(15)
        errors = [e for w in writers for e in w.errors]
        assert not errors, (errors[:10], dump_logs(c))
        # every acknowledged write is there, read through a proxy
        with RespConn(c.proxies[0].port, timeout=30) as r:
            for w in writers:
                for i in range(0, len(w.acked), 500):
                    chunk = w.acked[i:i + 500]
                    got = r.call("MGET", *chunk, timeout=30)
                    missing = [k for k, v in zip(chunk, got) if v is None]
                    assert not missing, missing[:10]
        assert sum(len(w.acked) for w in writers) > 1000
    finally:
        c.stop()
