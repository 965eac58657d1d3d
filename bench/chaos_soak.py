#!/usr/bin/env python3
"""Chaos soak (issue 15): the quickstart topology (ZooKeeper, 2 groups of
master + replica with the module, 3 sentinels, the dashboard, 2 proxies,
HAProxy) on free ports in a scratch state dir, with checkers writing through
HAProxy while faults are injected one after the other, in random order:

  proxy      kill -9 one proxy (HAProxy routes around it; the quickstart
             starts it again)
  master     kill -9 one group's master (Sentinel fails over; the quickstart
             brings the old master back as a replica)
  dashboard  kill -9 the dashboard (the quickstart starts it again)
  zookeeper  stop ZooKeeper for longer than the session timeout, then start
             it (every ephemeral node must come back)
  migration  move a range of slots to the other group through the dashboard
  promote    a planned switchover: group/promote of a group's replica
  flood      hold 1,000 idle and half-sent connections to each proxy

A write is acknowledged when SET answered OK and WAIT 1 confirmed one replica
of its group has it (the durability a failover can keep). Every acknowledged
write is read back at the end through HAProxy: `lost` is a key gone, `wrong`
one with another value. An error is charged to the fault whose window (from
the injection to its recovery, plus a grace) holds it; errors outside every
window are `unexplained`.

    CODIS_BUILD_DIR=build python3 bench/chaos_soak.py --minutes 20 [--seed 1]
        [--faults proxy,master,dashboard,zookeeper,migration,flood]
        [--quiet-seconds 10] [--keep]

Prints one line per fault (its error window and error count) and a summary:
ops, acknowledged, errors, lost, wrong, unexplained. Exits 1 unless lost,
wrong and unexplained are all 0. Needs the quickstart's tools (redis-server,
redis-sentinel, java for ZooKeeper, haproxy) and a build.
"""

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from harness import ConnClosed, Err, RespConn, build_dir, free_port, http  # noqa: E402

SCRIPT = ROOT / "deploy" / "quickstart.sh"
PRODUCT = "codis-demo"
NET_ERRORS = (OSError, ConnClosed, socket.timeout)
PORT_NAMES = ("ZK", "G1_MASTER", "G1_REPLICA", "G2_MASTER", "G2_REPLICA", "SENTINEL1", "SENTINEL2",
              "SENTINEL3", "DASHBOARD", "PROXY1", "PROXY1_ADMIN", "PROXY2", "PROXY2_ADMIN", "HAPROXY",
              "HAPROXY_STATS")


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


class Cluster:
    """deploy/quickstart.sh on free ports in its own state dir."""

    def __init__(self, state: Path, down_after: str):
        self.state = state
        self.ports = {name: free_port() for name in PORT_NAMES}
        self.env = dict(os.environ, CODIS_QS_SKIP_DEPS="1", CODIS_QS_SKIP_BUILD="1",
                        CODIS_QS_SENTINEL_DOWN_AFTER=down_after, CODIS_BUILD_DIR=str(build_dir()),
                        CODIS_QUICKSTART_DIR=str(state))
        for name, port in self.ports.items():
            self.env[f"CODIS_QS_{name}_PORT"] = str(port)

    def run(self, *args, timeout=600):
        r = subprocess.run(["bash", str(SCRIPT), *args], env=self.env, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError(f"quickstart {' '.join(args)} failed:\n{(r.stdout + r.stderr)[-3000:]}")
        return r

    @property
    def secret(self):
        return (self.state / "admin_auth").read_text().strip()

    def api(self, method, path, body=None):
        r = http(method, f"http://127.0.0.1:{self.ports['DASHBOARD']}{path}", body, timeout=60, auth=self.secret)
        if r.status != 200:
            raise RuntimeError(f"{method} {path}: {r}")
        return r.json()

    def pid(self, rel):
        try:
            return int((self.state / rel).read_text().strip())
        except (OSError, ValueError):
            return None

    def kill(self, rel):
        pid = self.pid(rel)
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return pid


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ops = 0
        self.acked = {}   # key -> value, confirmed by WAIT
        self.errors = []  # (time, text)
        self.unconfirmed = 0

    def error(self, text):
        with self.lock:
            self.errors.append((time.monotonic(), text))


class Checker(threading.Thread):
    """Writes its own keys through HAProxy: SET, then WAIT 1 for a replica."""

    def __init__(self, n, port, stats, stop):
        super().__init__(daemon=True)
        self.n, self.port, self.stats, self.stop = n, port, stats, stop

    def run(self):
        seq = 0
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = RespConn(self.port, timeout=5)
                key, value = f"chaos:{self.n}:{seq}", f"v{seq}:{random.random()}"
                seq += 1
                r = conn.call("SET", key, value, timeout=5)
                with self.stats.lock:
                    self.stats.ops += 1
                if isinstance(r, Err):
                    self.stats.error(f"SET: {r.message}")
                    time.sleep(0.005)
                    continue
                w = conn.call("WAIT", 1, 1000, timeout=5)
                if isinstance(w, Err):
                    self.stats.error(f"WAIT: {w.message}")
                elif isinstance(w, int) and w >= 1:
                    with self.stats.lock:
                        self.stats.acked[key] = value
                else:
                    with self.stats.lock:
                        self.stats.unconfirmed += 1  # not replicated in time: not counted as durable
            except NET_ERRORS as e:
                self.stats.error(f"connection: {e!r}")
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:  # noqa: BLE001
                        pass
                conn = None
                time.sleep(0.005)


def wait_writable(port, timeout):
    """Until a SET through HAProxy answers OK."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with RespConn(port, timeout=2) as c:
                if c.call("SET", "chaos:probe", "1") == "OK" or str(c.call("PING")) == "PONG":
                    return True
        except NET_ERRORS:
            pass
        time.sleep(0.2)
    return False


# ---- faults: each returns when the cluster has recovered --------------------

def fault_proxy(c: Cluster, rng):
    n = rng.choice((1, 2))
    c.kill(f"proxy-{n}/proxy.pid")
    time.sleep(3)
    c.run("start")
    return f"proxy {n}"


def fault_master(c: Cluster, rng):
    gid = rng.choice((1, 2))
    stats = c.api("GET", "/topom/stats")
    master = next(g["servers"][0]["server"] for g in stats["group"]["models"] if g["id"] == gid)
    port = master.rsplit(":", 1)[1]
    c.kill(f"redis-{port}/redis.pid")
    # Sentinel fails over; then the quickstart makes the old master a replica.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        stats = c.api("GET", "/topom/stats")
        now = next(g["servers"][0]["server"] for g in stats["group"]["models"] if g["id"] == gid)
        if now != master:
            break
        time.sleep(0.5)
    else:
        raise RuntimeError(f"no failover of group {gid} within 120 s")
    c.run("start")
    return f"master of group {gid} ({master})"


def fault_dashboard(c: Cluster, rng):
    c.kill("dashboard/dashboard.pid")
    time.sleep(2)
    c.run("start")
    return "dashboard"


def fault_zookeeper(c: Cluster, rng, outage=30):
    pid = c.kill("zookeeper/zookeeper.pid")
    if pid is None:
        raise RuntimeError("no ZooKeeper pid file")
    time.sleep(outage)  # longer than the session timeout: every session expires
    c.run("start")
    # Every ephemeral node comes back: both proxies' /jodis nodes (jodis clients find the proxies there).
    cli = build_dir() / "tests" / "coordinator" / "coordinator_cli"
    deadline = time.monotonic() + 60
    while True:
        r = subprocess.run([str(cli), "--coordinator", "zookeeper", "--addr", f"127.0.0.1:{c.ports['ZK']}",
                            "list", f"/jodis/{PRODUCT}"], capture_output=True, text=True, timeout=30)
        names = [n for n in r.stdout.split() if n.startswith("proxy-")] if r.returncode == 0 else []
        if len(names) == 2:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"/jodis/{PRODUCT} lists {len(names)} proxies 60 s after ZooKeeper came back")
        time.sleep(1)
    return f"zookeeper down {outage}s; both /jodis nodes back"


def fault_migration(c: Cluster, rng):
    slots = c.api("GET", "/topom/slots")
    beg = rng.randrange(0, 1024 - 32)
    source = slots[beg]["backend_addr_group_id"]
    end = beg
    while end + 1 < min(1024, beg + 32) and slots[end + 1]["backend_addr_group_id"] == source:
        end += 1  # a range of one group: create-range moves only such
    target = 2 if source == 1 else 1
    c.api("PUT", f"/api/topom/slots/action/create-range/codis/{beg}/{end}/{target}")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        slots = c.api("GET", "/topom/slots")
        if all(s["backend_addr_group_id"] == target for s in slots[beg:end + 1]):
            return f"migration of slots {beg}-{end} to group {target}"
        time.sleep(0.5)
    raise RuntimeError(f"slots {beg}-{end} did not reach group {target} within 300 s")


def fault_promote(c: Cluster, rng):
    """A planned switchover: the operator promotes a group's replica."""
    gid = rng.choice((1, 2))
    stats = c.api("GET", "/topom/stats")
    servers = next(g["servers"] for g in stats["group"]["models"] if g["id"] == gid)
    replica = servers[1]["server"]
    c.api("PUT", f"/api/topom/group/promote/codis/{gid}/{replica}")
    c.api("PUT", "/api/topom/sentinels/resync-all/codis")  # the sentinels watch the new master
    return f"promote of {replica} in group {gid}"


def fault_flood(c: Cluster, rng, n=1000, hold=10):
    socks = []
    for port in (c.ports["PROXY1"], c.ports["PROXY2"]):
        for i in range(n):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=2)
                if i % 2:
                    s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\n")  # half a command, then silence
                socks.append(s)
            except OSError:
                break
    time.sleep(hold)
    for s in socks:
        s.close()
    return f"flood of {len(socks)} connections for {hold}s"


FAULTS = {"proxy": fault_proxy, "master": fault_master, "dashboard": fault_dashboard,
          "zookeeper": fault_zookeeper, "migration": fault_migration, "flood": fault_flood,
          "promote": fault_promote}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=20)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--faults", default=",".join(FAULTS))
    ap.add_argument("--checkers", type=int, default=4)
    ap.add_argument("--quiet-seconds", type=float, default=10, help="fault-free time between faults")
    ap.add_argument("--grace", type=float, default=3, help="seconds after a recovery still charged to its fault")
    ap.add_argument("--down-after", default="2s", help="Sentinel's down-after-milliseconds, as the quickstart takes it")
    ap.add_argument("--keep", action="store_true", help="leave the cluster running at the end")
    args = ap.parse_args()
    names = [f for f in args.faults.split(",") if f]
    unknown = [f for f in names if f not in FAULTS]
    if unknown:
        ap.error(f"unknown faults {unknown}; known: {', '.join(FAULTS)}")
    rng = random.Random(args.seed)
    state = Path(tempfile.mkdtemp(prefix="chaos-soak-"))
    c = Cluster(state, args.down_after)
    log(f"seed {args.seed}; starting the quickstart cluster in {state} ...")
    c.run("start")
    stats, stop = Stats(), threading.Event()
    checkers = [Checker(i, c.ports["HAPROXY"], stats, stop) for i in range(args.checkers)]
    for t in checkers:
        t.start()
    windows = []  # (name, begin, end)
    ok = True
    try:
        end_at = time.monotonic() + args.minutes * 60
        while time.monotonic() < end_at:
            time.sleep(args.quiet_seconds)
            name = rng.choice(names)
            t0 = time.monotonic()
            what = FAULTS[name](c, rng)
            if not wait_writable(c.ports["HAPROXY"], 120):
                raise RuntimeError(f"no write through HAProxy within 120 s after: {what}")
            t1 = time.monotonic()
            windows.append((what, t0, t1 + args.grace))
            errs = [e for e in stats.errors if t0 <= e[0] <= t1 + args.grace]
            span = (errs[-1][0] - errs[0][0]) if errs else 0.0
            log(f"fault: {what}: recovered in {t1 - t0:.1f}s; {len(errs)} errors over {span:.2f}s")
    except Exception as e:  # noqa: BLE001 - reported, then the verification still runs
        log(f"soak stopped early: {e}")
        ok = False
    time.sleep(args.grace)
    stop.set()
    for t in checkers:
        t.join(10)

    lost = wrong = 0
    with RespConn(c.ports["HAPROXY"], timeout=10) as conn:
        items = list(stats.acked.items())
        for i in range(0, len(items), 500):
            chunk = items[i:i + 500]
            got = conn.call("MGET", *[k for k, _ in chunk], timeout=30)
            for (k, v), g in zip(chunk, got):
                if g is None:
                    lost += 1
                elif g != v.encode():
                    wrong += 1
    unexplained = [e for e in stats.errors if not any(b <= e[0] <= end for _, b, end in windows)]
    print(f"\nchaos soak: {args.minutes} min, seed {args.seed}, faults {len(windows)}: ops={stats.ops} "
          f"acknowledged={len(stats.acked)} unconfirmed={stats.unconfirmed} errors={len(stats.errors)} "
          f"lost={lost} wrong={wrong} unexplained={len(unexplained)}")
    for what, b, end in windows:
        errs = [e for e in stats.errors if b <= e[0] <= end]
        span = (errs[-1][0] - errs[0][0]) if errs else 0.0
        kinds = sorted({text.split(":", 1)[0] + ":" + text.split(":", 1)[1][:60] for _, text in errs})
        print(f"  {what}: {len(errs)} errors, error window {span:.2f}s" + (f"  {kinds[:3]}" if kinds else ""))
    for t, text in unexplained[:10]:
        print(f"  unexplained error: {text}")
    if not args.keep:
        try:
            c.run("stop", timeout=180)
        except Exception as e:  # noqa: BLE001
            log(f"stop: {e}")
    return 0 if ok and lost == 0 and wrong == 0 and not unexplained else 1


if __name__ == "__main__":
    sys.exit(main())
