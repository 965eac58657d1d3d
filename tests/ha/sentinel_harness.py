"""Redis Sentinel for tests, and a whole Sentinel-watched cluster.

* Sentinel: a stock sentinel (Debian's redis-server in sentinel mode:
  `redis-server sentinel.conf --sentinel`, the same code as redis-sentinel)
  on a free loopback port; kill() / start() again keep port and config.
* SentinelCluster: ZooKeeper (given) + N groups of master and replica
  (redis-server with codis_slots.so, replication set by the dashboard's
  group/resync) + codis-dashboard (short sentinel_down_after) + proxies
  registered with the dashboard + 1024 slots spread over the groups + 3
  sentinels added and resync-all'ed. ready() waits until the sentinels know
  each other and the replicas, and every daemon subscribed to
  +switch-master on every sentinel. stop() stops every process it started.

Used by tests/ha/test_sentinel_failover.py and tests/dashboard/test_sentinels.py.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path

from dashboard_harness import Dashboard, codis_server
from harness import (REDIS_SERVER, NSLOTS, Proxy, RespConn, free_port, http, kill_proc, ping_ok, spawn,
                     wait_until)


class Sentinel:
    def __init__(self, workdir):
        self.port = free_port()
        self.dir = Path(workdir) / f"sentinel-{self.port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "sentinel.conf"
        self.logfile = self.dir / "sentinel.log"
        self.conf.write_text(f"port {self.port}\nbind 127.0.0.1\nprotected-mode no\ndir {self.dir}\n"
                             f"logfile {self.logfile}\n")
        self.proc = None
        self.start()

    def start(self):
        self.proc = spawn([REDIS_SERVER, self.conf, "--sentinel"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.STDOUT)
        wait_until(lambda: ping_ok(self.port), 10, what=f"sentinel on {self.port}")
        return self

    @property
    def addr(self):
        return f"127.0.0.1:{self.port}"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def masters(self):
        with RespConn(self.port) as c:
            out = {}
            for m in c.call("SENTINEL", "MASTERS"):
                fields = {m[i].decode(): m[i + 1].decode() for i in range(0, len(m), 2)}
                out[fields["name"]] = fields
            return out

    def master_addr(self, name):
        with RespConn(self.port) as c:
            r = c.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)
        return None if r is None else f"{r[0].decode()}:{r[1].decode()}"

    def log(self):
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    def kill(self):
        kill_proc(self.proc, signal.SIGKILL)
        self.proc = None

    def stop(self):
        kill_proc(self.proc)
        self.proc = None


def role(port):
    with RespConn(port, timeout=2) as c:
        return c.call("ROLE")[0].decode()


def link_up(port):
    with RespConn(port, timeout=2) as c:
        return b"master_link_status:up" in c.call("INFO", "replication")


SUBSCRIBED = re.compile(r"sentinel (\S+): subscribed to \+switch-master")


def subscriptions(log_text):
    """How many times each sentinel address was (re)subscribed, from a daemon's log."""
    out = {}
    for m in SUBSCRIBED.finditer(log_text):
        out[m.group(1)] = out.get(m.group(1), 0) + 1
    return out


class SentinelCluster:
    def __init__(self, tmp, zk_addr, product, groups=2, proxies=2, sentinels=3,
                 down_after="1s", failover_timeout="10s"):
        self.tmp = Path(tmp)
        self.zk_addr = zk_addr
        self.product = product
        self.ngroups = groups
        self.nproxies = proxies
        self.nsentinels = sentinels
        self.down_after = down_after
        self.failover_timeout = failover_timeout
        self.masters = {}    # gid -> RedisServer (the master at start)
        self.replicas = {}   # gid -> RedisServer
        self.proxies = []
        self.sentinels = []
        self.dashboard = None

    # -- life cycle
    def new_dashboard(self):
        d = Dashboard(self.tmp, self.product, self.zk_addr)
        with open(d.config_file, "a") as f:
            f.write(f'sentinel_quorum = 2\n'
                    f'sentinel_down_after = "{self.down_after}"\n'
                    f'sentinel_failover_timeout = "{self.failover_timeout}"\n'
                    f'sentinel_parallel_syncs = 1\n'
                    f'sentinel_client_timeout = "3s"\n')
        return d

    def start(self):
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self):
        for gid in range(1, self.ngroups + 1):
            self.masters[gid] = codis_server(self.tmp).start()
            self.replicas[gid] = codis_server(self.tmp).start()
        self.dashboard = self.new_dashboard().start()
        d = self.dashboard
        for gid in range(1, self.ngroups + 1):
            d.ok("PUT", f"/api/topom/group/create/{{x}}/{gid}")
            d.ok("PUT", f"/api/topom/group/add/{{x}}/{gid}/{self.masters[gid].addr}")
            d.ok("PUT", f"/api/topom/group/add/{{x}}/{gid}/{self.replicas[gid].addr}")
            d.ok("PUT", f"/api/topom/group/resync/{{x}}/{gid}")  # SLAVEOF for the replica
        for gid in range(1, self.ngroups + 1):
            wait_until(lambda: link_up(self.replicas[gid].port), 20, what=f"group {gid} replication")
        for _ in range(self.nproxies):
            p = Proxy(self.tmp, None, {"product_name": self.product, "backend_ping_period": "1s"})
            self.proxies.append(p.start())
            d.ok("PUT", f"/api/topom/proxy/create/{{x}}/127.0.0.1:{p.admin_port}")
        per = NSLOTS // self.ngroups
        slots = [{"id": i, "group_id": min(i // per, self.ngroups - 1) + 1} for i in range(NSLOTS)]
        d.ok("PUT", "/api/topom/slots/assign/{x}", slots)
        for _ in range(self.nsentinels):
            s = Sentinel(self.tmp)
            self.sentinels.append(s)
            d.ok("PUT", f"/api/topom/sentinels/add/{{x}}/{s.addr}")
        d.ok("PUT", "/api/topom/sentinels/resync-all/{x}")
        self.ready()

    def ready(self, timeout=30):
        """Sentinels see each other and every replica; every proxy (and the
        dashboard, if running) is subscribed on every sentinel."""
        def sentinels_ready():
            for s in self.sentinels:
                if not s.alive():
                    continue
                ms = s.masters()
                for gid in range(1, self.ngroups + 1):
                    m = ms.get(self.name(gid))
                    if m is None or int(m["num-slaves"]) < 1 \
                            or int(m["num-other-sentinels"]) < len(self.live_sentinels()) - 1:
                        return False
            return True
        wait_until(sentinels_ready, timeout, interval=0.2, what="sentinels to discover each other and the replicas")
        self.wait_subscribed(timeout)

    def live_sentinels(self):
        return [s for s in self.sentinels if s.alive()]

    def wait_subscribed(self, timeout=20, daemons=None):
        want = {s.addr for s in self.live_sentinels()}
        daemons = daemons if daemons is not None else self.daemons()
        for what, log in daemons:
            wait_until(lambda: want <= set(subscriptions(log())), timeout, interval=0.1,
                       what=f"{what} subscribed to every sentinel")

    def daemons(self):
        out = [(f"proxy {p.addr}", lambda p=p: p.log_file.read_text(errors="replace")) for p in self.proxies]
        if self.dashboard is not None and self.dashboard.alive():
            out.append(("dashboard", self.dashboard.log))
        return out

    def stop(self):
        procs = [self.dashboard] + self.proxies + self.sentinels + list(self.masters.values()) \
            + list(self.replicas.values())
        for p in procs:
            if p is None:
                continue
            try:
                p.stop()
            except Exception:  # noqa: BLE001 - stop everything we can
                pass

    # -- views
    def name(self, gid):
        return f"{self.product}-{gid}"

    def group_servers(self, gid):
        """The dashboard's view: [servers...] of group gid (servers[0] is the master), and out_of_sync."""
        for g in self.dashboard.ok("GET", "/api/topom/stats/{x}")["group"]["models"]:
            if g["id"] == gid:
                return [s["server"] for s in g["servers"]], g.get("out_of_sync", False)
        raise KeyError(gid)

    def proxy_backends(self, proxy, gid):
        """The set of backend addresses proxy routes group gid's slots to."""
        r = http("GET", proxy.admin_url + "/proxy/slots", timeout=5)
        assert r.status == 200, r
        return {s.get("backend_addr", "") for s in r.json() if s.get("backend_addr_group_id") == gid}

    def sentinel_masters(self, gid):
        return {s.master_addr(self.name(gid)) for s in self.live_sentinels()}


def dump_logs(cluster):
    """Tails of every daemon's log, for assertion messages."""
    out = []
    for p in cluster.proxies:
        out.append(p.tail(2500))
    if cluster.dashboard is not None:
        out.append(cluster.dashboard.tail(2500))
    for s in cluster.sentinels:
        out.append(f"--- sentinel {s.addr}:\n" + s.log()[-1500:])
    return "\n".join(out)


def json_dumps(v):
    return json.dumps(v, indent=1, sort_keys=True)
