#!/usr/bin/env python3
"""Migration soak (issue 5): 2 groups, 2 proxies, a ZooKeeper and our
dashboard. Loads N small keys and big keys (a hash, a list and a set of --big
elements), then moves SLOTS slots from group 1 to group 2 and back while
checker threads run SET/INCR/APPEND/HSET/RPUSH/SADD through BOTH proxies on a
known key population and read back through both proxies; every acknowledged
write is verified (continuously and once more at the end, through each proxy).

    CODIS_BUILD_DIR=build python3 bench/migration_soak.py [--slots 512]
        [--keys 64000] [--big 1000000] [--big-kinds hash,list,set]
        [--kill-dashboard] [--restart-proxy] [--tuned]

Reports: acknowledged writes, verified reads, client-visible errors, lost and
wrong values, the time of each move, and the checker's latency (p50/p99/max)
before and during each move. Exits non-zero if lost, wrong or errors > 0.
With --restart-proxy, proxy 1 is stopped mid-way through the first move, its
stale registration removed (proxy/remove force, as an operator does for a dead
proxy) and it is started again on the same ports with --zookeeper: the
checkers reconnect to it. Failures on that proxy's connections during the
restart window are counted separately ("restart-window errors") and allowed;
a write whose reply was lost there is resolved by reading the key back (either
outcome is accepted, anything else is lost/wrong).

The dashboard runs with default migration settings unless --tuned (the test
suite's migration_parallel_slots = 8, migration_async_numkeys = 50)."""

import argparse
import json
import random
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for d in ("tests/dashboard", "tests/integration", "tests/coordinator"):
    sys.path.insert(0, str(ROOT / d))

from coordinator_shell import CoordinatorShell  # noqa: E402
from dashboard_harness import Dashboard, codis_server  # noqa: E402
from harness import ConnClosed, Err, Proxy, RespConn, encode, http, key_in_slot, keys_in_slots, wait_until  # noqa: E402
from zk_harness import ZooKeeperServer  # noqa: E402

PRODUCT = "codis-mig-soak"
NET_ERRORS = (OSError, ConnClosed, socket.timeout)


def pipeline(conn, cmds, timeout=60):
    conn.send_raw(b"".join(encode(*c) for c in cmds))
    return [conn.read_reply(timeout=timeout) for _ in cmds]


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


class Control:
    """Shared by the checkers and the driver: stop flag, restart windows."""

    def __init__(self, nproxies):
        self.stop = threading.Event()
        self.window = [None] * nproxies  # proxy index -> [t_begin, t_end or None]
        self.grace = 1.0

    def in_window(self, i, t):
        w = self.window[i]
        return w is not None and w[0] <= t and (w[1] is None or t <= w[1] + self.grace)


class Checker(threading.Thread):
    """Owns its keys (disjoint from the other checkers'): every write goes to
    one of the proxies (alternating), its reply is checked, the acknowledged
    state is remembered; after each write a random owned key is read back
    through the other proxy and compared."""

    KINDS = ("cnt", "str", "app", "list", "set", "hash", "bighash", "bigset", "biglist")

    def __init__(self, tid, proxies, ctl, lo, hi, big, per_kind=60):
        super().__init__(daemon=True)
        self.tid, self.proxies, self.ctl = tid, proxies, ctl
        self.conns = [None] * len(proxies)
        self.next_try = [0.0] * len(proxies)
        self.big = big  # kind -> key (shared by checkers; disjoint fields/members)
        self.keys = {k: keys_in_slots(lo, hi, per_kind, f"c{tid}{k}") for k in ("cnt", "str", "app", "list", "set", "hash")}
        self.state = {}
        for kind, ks in self.keys.items():
            for k in ks:
                self.state[k] = {"cnt": 0, "str": None, "app": b"", "list": [], "set": set(), "hash": {}}[kind]
        self.bigfields = {}  # field -> value written to big["hash"]
        self.bigmembers = set()  # members added to big["set"]
        self.biglist = []  # elements pushed to big["list"] (tid 0 only)
        self.acked = self.verified = self.seq = 0
        self.errors, self.restart_errors, self.lost, self.wrong = [], [], [], []
        self.lat = []  # (t, seconds, kind) of every acknowledged write and verifying read
        self.rnd = random.Random(tid)

    # -- connections
    def conn(self, i):
        if self.conns[i] is None:
            if time.monotonic() < self.next_try[i]:
                return None
            try:
                self.conns[i] = RespConn(self.proxies[i].port, timeout=30)
            except NET_ERRORS:
                self.next_try[i] = time.monotonic() + 0.2
                return None
        return self.conns[i]

    def pick(self, prefer):
        for i in (prefer, 1 - prefer):
            c = self.conn(i)
            if c is not None:
                return i, c
        return None, None

    def fail(self, i, what, e):
        t = time.time()
        (self.restart_errors if self.ctl.in_window(i, t) else self.errors).append(f"proxy{i} {what}: {e!r}")
        if self.conns[i] is not None:
            self.conns[i].close()
        self.conns[i] = None

    def call(self, i, c, kind, *args):
        t = time.monotonic()
        r = c.call(*args)
        self.lat.append((time.time(), time.monotonic() - t, kind, i))
        return r

    # -- model
    def expected_after(self, kind, key, op):
        """The state of `key` after the write `op` (a tuple) is applied."""
        s = self.current(kind, key)
        if kind == "cnt":
            return s + 1
        if kind == "str":
            return op[2]
        if kind == "app":
            return s + op[2].encode()
        if kind in ("list", "biglist"):
            return s + [op[2].encode()]
        if kind in ("set", "bigset"):
            return s | {op[2]}
        if kind == "hash":
            return {**s, op[2]: op[3].encode()}
        if kind == "bighash":
            return op[3].encode()
        raise AssertionError(kind)

    def current(self, kind, key, field=None):
        if kind == "bighash":
            return self.bigfields.get(field)
        if kind == "bigset":
            return self.bigmembers
        if kind == "biglist":
            return self.biglist
        return self.state[key]

    def adopt(self, kind, key, value, field=None):
        if kind == "bighash":
            self.bigfields[field] = value
        elif kind == "bigset":
            self.bigmembers = value
        elif kind == "biglist":
            self.biglist = value
        else:
            self.state[key] = value

    def make_write(self, kind):
        self.seq += 1
        v = f"{self.tid}:{self.seq}"
        if kind in ("bighash", "bigset", "biglist"):
            key = self.big[kind[3:]]
        else:
            key = self.rnd.choice(self.keys[kind])
        if kind == "cnt":
            return key, ("INCR", key)
        if kind == "str":
            return key, ("SET", key, v)
        if kind == "app":
            return key, ("APPEND", key, v + ",")
        if kind in ("list", "biglist"):
            return key, ("RPUSH", key, v)
        if kind in ("set", "bigset"):
            return key, ("SADD", key, v)
        if kind == "hash":
            return key, ("HSET", key, f"f{self.seq % 40}", v)
        return key, ("HSET", key, f"w{self.tid}:{self.seq % 2000}", v)

    def reply_ok(self, kind, key, op, r):
        s = self.current(kind, key, op[2] if kind == "bighash" else None)
        if kind == "cnt":
            return r == s + 1
        if kind == "str":
            return r == "OK"
        if kind == "app":
            return r == len(s) + len(op[2])
        if kind in ("list", "biglist"):
            return isinstance(r, int) and (kind == "biglist" or r == len(s) + 1)
        if kind in ("set", "bigset"):
            return r == 1
        if kind == "hash":
            return r == (0 if op[2] in s else 1)
        return r == (0 if s is not None else 1)  # bighash

    def read(self, c, kind, key, field=None, member=None):
        """Reads what is needed to compare `key` with the model; returns a value
        comparable with the model's state."""
        if kind in ("cnt", "str", "app"):
            r = c.call("GET", key)
            if kind == "cnt":
                return int(r) if r is not None else 0
            if kind == "str":
                return r.decode() if r is not None else None
            return r or b""
        if kind == "list":
            return c.call("LRANGE", key, 0, -1)
        if kind == "biglist":  # the tail this checker pushed
            n = len(self.biglist)
            return (c.call("LRANGE", key, -n, -1) if n else []), n
        if kind == "set":
            return {m.decode() for m in c.call("SMEMBERS", key)}
        if kind == "bigset":
            return c.call("SISMEMBER", key, member)
        if kind == "hash":
            r = c.call("HGETALL", key)
            return {r[i].decode(): r[i + 1] for i in range(0, len(r), 2)}
        if kind == "bighash":
            return c.call("HGET", key, field)
        raise AssertionError(kind)

    def compare(self, kind, key, got, field=None, member=None):
        """'ok', 'lost' (an older state: an acknowledged write is missing) or 'wrong'."""
        exp = self.current(kind, key, field)
        if isinstance(got, Err):
            return "wrong"
        if kind == "cnt":
            return "ok" if got == exp else "lost" if got < exp else "wrong"
        if kind == "str":
            if got == exp:
                return "ok"
            if got is None or exp is None:
                return "lost" if got is None else "wrong"
            return "lost" if int(got.split(":")[1]) < int(exp.split(":")[1]) else "wrong"
        if kind == "app":
            return "ok" if got == exp else "lost" if exp.startswith(got) else "wrong"
        if kind == "list":
            return "ok" if got == exp else "lost" if exp[:len(got)] == got else "wrong"
        if kind == "biglist":
            tail, n = got
            if n == 0 or tail == exp[-n:]:
                return "ok"
            return "lost" if len(tail) < n else "wrong"
        if kind == "set":
            return "ok" if got == exp else "lost" if got < exp else "wrong"
        if kind == "bigset":
            return "ok" if (got == 1) == (member in exp) else "lost" if got == 0 else "wrong"
        if kind in ("hash", "bighash"):
            if got == exp:
                return "ok"
            return "lost" if got is None or (isinstance(got, dict) and len(got) < len(exp)) else "wrong"
        raise AssertionError(kind)

    def record(self, verdict, what):
        if verdict == "ok":
            self.verified += 1
        else:
            (self.lost if verdict == "lost" else self.wrong).append(what)

    def resolve(self, kind, key, op):
        """A write whose reply never came (or an error reply): read the key
        back until a proxy answers; adopt the old or the new state, anything
        else is lost/wrong."""
        field = op[2] if kind == "bighash" else None
        member = op[2] if kind == "bigset" else None
        old = self.current(kind, key, field)
        new = self.expected_after(kind, key, op)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            i, c = self.pick(self.rnd.randrange(2))
            if c is None:
                time.sleep(0.05)
                continue
            try:
                got = self.read(c, kind, key, field, member)
            except NET_ERRORS as e:
                self.fail(i, f"resolve {op[0]} {key}", e)
                continue
            for cand in (new, old):
                self.adopt(kind, key, cand, field)
                if self.compare(kind, key, got, field, member) == "ok":
                    return
            self.adopt(kind, key, old, field)
            self.record(self.compare(kind, key, got, field, member), f"resolve {op}: got {got!r}")
            return
        self.errors.append(f"resolve {op}: no proxy answered in 120 s")

    def run(self):
        kinds = [k for k in self.KINDS if not k.startswith("big") or (k[3:] in self.big and
                                                                       (k != "biglist" or self.tid == 0))]
        n = 0
        while not self.ctl.stop.is_set():
            n += 1
            kind = self.rnd.choice(kinds)
            key, op = self.make_write(kind)
            field = op[2] if kind == "bighash" else None
            i, c = self.pick(n % 2)
            if c is None:
                time.sleep(0.05)
                continue
            try:
                r = self.call(i, c, kind, *op)
            except NET_ERRORS as e:
                self.fail(i, " ".join(map(str, op[:2])), e)
                self.resolve(kind, key, op)
                continue
            if isinstance(r, Err):
                (self.restart_errors if self.ctl.in_window(i, time.time()) else self.errors).append(
                    f"proxy{i} {op[:2]}: {r!r}")
                self.resolve(kind, key, op)
                continue
            if not self.reply_ok(kind, key, op, r):
                self.wrong.append(f"proxy{i} {op}: reply {r!r}")
            self.adopt(kind, key, self.expected_after(kind, key, op), field)
            self.acked += 1
            # verifying read of a random owned key, through the other proxy
            vkind = self.rnd.choice(kinds)
            if vkind.startswith("big"):
                vkey = self.big[vkind[3:]]
                vfield = self.rnd.choice(list(self.bigfields)) if vkind == "bighash" and self.bigfields else None
                vmember = self.rnd.choice(list(self.bigmembers)) if vkind == "bigset" and self.bigmembers else None
                if (vkind == "bighash" and vfield is None) or (vkind == "bigset" and vmember is None):
                    continue
            else:
                vkey, vfield, vmember = self.rnd.choice(self.keys[vkind]), None, None
            j, c = self.pick(1 - i)
            if c is None:
                continue
            try:
                t = time.monotonic()
                got = self.read(c, vkind, vkey, vfield, vmember)
                self.lat.append((time.time(), time.monotonic() - t, "read " + vkind, j))
            except NET_ERRORS as e:
                self.fail(j, f"read {vkey}", e)
                continue
            if isinstance(got, Err):
                (self.restart_errors if self.ctl.in_window(j, time.time()) else self.errors).append(
                    f"proxy{j} read {vkey}: {got!r}")
                continue
            self.record(self.compare(vkind, vkey, got, vfield, vmember), f"proxy{j} read {vkind} {vkey}: {got!r}")

    def verify_all(self, conn, tag):
        """Every owned key, every big-key field/member/element written."""
        for kind, ks in self.keys.items():
            for k in ks:
                got = self.read(conn, kind, k)
                self.record(self.compare(kind, k, got), f"final[{tag}] {kind} {k}: {got!r}")
        if "hash" in self.big and self.bigfields:
            fs = list(self.bigfields)
            vals = conn.call("HMGET", self.big["hash"], *fs)
            for f, v in zip(fs, vals):
                self.record("ok" if v == self.bigfields[f] else "lost" if v is None else "wrong",
                            f"final[{tag}] bighash {f}: {v!r}")
        if "set" in self.big and self.bigmembers:
            ms = list(self.bigmembers)
            vals = conn.call("SMISMEMBER", self.big["set"], *ms)
            for m, v in zip(ms, vals):
                self.record("ok" if v == 1 else "lost", f"final[{tag}] bigset {m}: {v!r}")
        if "list" in self.big and self.biglist:
            got = self.read(conn, "biglist", self.big["list"])
            self.record(self.compare("biglist", self.big["list"], got), f"final[{tag}] biglist tail")


class Soak:
    def __init__(self, a):
        self.a = a
        self.tmp = Path(tempfile.mkdtemp(prefix="mig-soak-"))
        self.zk, self.servers, self.proxies, self.shell, self.dash = None, [], [], None, None
        try:
            self.zk = ZooKeeperServer(str(self.tmp / "zk")).start()
            for _ in range(2):
                self.servers.append(codis_server(self.tmp).start())
            for _ in range(2):
                self.proxies.append(Proxy(self.tmp, None, {"product_name": PRODUCT}).start())
            self.shell = CoordinatorShell("zookeeper", self.zk.addr)
            self.dash = self.new_dashboard()
        except BaseException:
            self.close()  # whatever started so far
            raise

    def new_dashboard(self):
        d = Dashboard(self.tmp, PRODUCT, self.zk.addr)
        if self.a.tuned:
            with open(d.config_file, "a") as f:
                f.write("migration_parallel_slots = 8\nmigration_async_numkeys = 50\n")
        return d.start()

    def close(self):
        for x in [self.dash] + self.proxies + self.servers:
            try:
                if x is not None:
                    x.stop()
            except Exception:  # noqa: BLE001 - best effort
                pass
        if self.shell is not None:
            self.shell.close()
        if self.zk is not None:
            self.zk.close()

    def stats(self):
        return self.dash.ok("GET", "/api/topom/stats/{x}")

    def actions_left(self, sids):
        try:
            acts = self.stats()["slot_actions"]
        except (OSError, AssertionError, ValueError):
            return None, None
        return len({a["id"] for a in acts["actions"]} & set(sids)), acts

    def restart_proxy(self, ctl, i):
        p = self.proxies[i]
        token = http("GET", p.admin_url + "/api/proxy/model", timeout=5).json()["token"]
        ctl.window[i] = [time.time(), None]
        t = time.time()
        p.stop()
        t_stop = time.time()
        # the stale registration would fail every push (and hold the migration) until removed
        self.dash.ok("PUT", f"/api/topom/proxy/remove/{{x}}/{token}/1")
        t_rm = time.time()
        p.extra_args = ["--zookeeper", self.zk.addr]
        p.start()
        t_start = time.time()
        wait_until(lambda: any(x["admin_addr"] == p.admin_url[7:] for x in self.stats()["proxy"]["models"]),
                   30, interval=0.1, what="restarted proxy taken over by the dashboard")
        ctl.window[i][1] = time.time()
        print(f"  proxy{i} restarted with --zookeeper in {time.time() - t:.2f}s (stop {t_stop - t:.2f}s, "
              f"proxy/remove {t_rm - t_stop:.2f}s, start {t_start - t_rm:.2f}s, "
              f"taken over {ctl.window[i][1] - t_start:.2f}s later)", flush=True)

    def load(self):
        a = self.a
        small = keys_in_slots(0, a.slots - 1, a.keys, "s") if a.keys else []
        big = {}
        for n, kind in enumerate(k for k in a.big_kinds.split(",") if k):
            big[kind] = key_in_slot(7 + 2 * n, f"big{kind}")
        t = time.time()
        with RespConn(self.proxies[0].port, timeout=120) as c:
            for i in range(0, len(small), 5000):
                assert all(r == "OK" for r in pipeline(c, [("SET", k, k) for k in small[i:i + 5000]]))
            cmd = {"hash": "HSET", "list": "RPUSH", "set": "SADD"}
            for kind, key in big.items():
                for base in range(0, a.big, 100_000):
                    cmds = []
                    for b in range(base, min(a.big, base + 100_000), 1000):
                        args = [cmd[kind], key]
                        for j in range(b, min(a.big, b + 1000)):
                            args += [f"f{j}", str(j)] if kind == "hash" else [f"m{j}"]
                        cmds.append(args)
                    for r in pipeline(c, cmds):
                        assert not isinstance(r, Err), r
        print(f"loaded {len(small)} small keys + {a.big}-element {'/'.join(big)} in {time.time() - t:.1f}s",
              flush=True)
        return small, big

    def move(self, ctl, dst, restart_at=None, kill_at=None):
        a = self.a
        sids = range(a.slots)
        t0 = time.time()
        self.dash.ok("PUT", f"/api/topom/slots/action/create-range/{{x}}/0/{a.slots - 1}/{dst}")
        done_restart = done_kill = False
        last_print = 0
        while True:
            left, acts = self.actions_left(sids)
            if left == 0:
                break
            if left is not None and time.time() - last_print > 2:
                last_print = time.time()
                extra = {k: v for k, v in acts.items() if k != "actions"}
                print(f"  {time.time() - t0:5.1f}s: {left} actions left, {extra}", flush=True)
            if left is not None and left <= a.slots // 2:
                if restart_at is not None and not done_restart:
                    done_restart = True
                    print(f"  restarting proxy{restart_at} at {time.time() - t0:.1f}s ({left} actions left)",
                          flush=True)
                    self.restart_proxy(ctl, restart_at)
                if kill_at and not done_kill:
                    done_kill = True
                    print(f"  killing the dashboard at {time.time() - t0:.1f}s ({left} actions left)", flush=True)
                    self.dash.stop(signal.SIGKILL)
                    self.shell.remove(f"/codis3/{PRODUCT}/topom")  # as codis-admin --remove-lock
                    self.dash = self.new_dashboard()
            if time.time() - t0 > a.timeout:
                raise TimeoutError(f"move to group {dst} not done after {a.timeout}s")
            time.sleep(0.1)
        return t0, time.time()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slots", type=int, default=512)
    ap.add_argument("--keys", type=int, default=64000)
    ap.add_argument("--big", type=int, default=1_000_000, help="elements of each big key")
    ap.add_argument("--big-kinds", default="hash,list,set", help="big keys to create (hash,list,set)")
    ap.add_argument("--checkers", type=int, default=2, help="checker threads (each uses both proxies)")
    ap.add_argument("--baseline", type=float, default=5.0, help="seconds of checker traffic before the move")
    ap.add_argument("--kill-dashboard", action="store_true", help="SIGKILL + restart the dashboard mid-way")
    ap.add_argument("--restart-proxy", action="store_true", help="restart proxy 1 (with --zookeeper) mid-way")
    ap.add_argument("--tuned", action="store_true", help="the test suite's migration settings instead of defaults")
    ap.add_argument("--timeout", type=float, default=3600)
    a = ap.parse_args()
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so every process is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    s = Soak(a)
    ctl = Control(2)
    checkers = []
    try:
        d = s.dash
        for gid, srv in ((1, s.servers[0]), (2, s.servers[1])):
            d.ok("PUT", f"/api/topom/group/create/{{x}}/{gid}")
            d.ok("PUT", f"/api/topom/group/add/{{x}}/{gid}/{srv.addr}")
        for p in s.proxies:
            d.ok("PUT", f"/api/topom/proxy/create/{{x}}/{p.admin_url[7:]}")
        d.ok("PUT", "/api/topom/slots/assign/{x}", [{"id": i, "group_id": 1 if i < 512 else 2} for i in range(1024)])
        small, big = s.load()
        checkers = [Checker(tid, s.proxies, ctl, 0, a.slots - 1, big) for tid in range(a.checkers)]
        for c in checkers:
            c.start()
        tb = time.time()
        time.sleep(a.baseline)
        phases = [("before", tb, time.time())]
        for n, (src, dst) in enumerate(((1, 2), (2, 1))):
            t0, t1 = s.move(ctl, dst, restart_at=1 if a.restart_proxy and n == 0 else None,
                            kill_at=a.kill_dashboard and n == 0)
            phases.append((f"move {src}->{dst}", t0, t1))
            print(f"moved {a.slots} slots {src} -> {dst} in {t1 - t0:.1f}s", flush=True)
        time.sleep(1)
        ctl.stop.set()
        for c in checkers:
            c.join(120)
        for i in range(2):
            with RespConn(s.proxies[i].port, timeout=120) as conn:
                for c in checkers:
                    c.verify_all(conn, f"proxy{i}")
                vals = []
                for j in range(0, len(small), 5000):
                    vals += pipeline(conn, [("GET", k) for k in small[j:j + 5000]])
                wrong_small = sum(1 for k, v in zip(small, vals) if v != k.encode())
                sizes = {}
                for kind, key in big.items():
                    sizes[kind] = conn.call({"hash": "HLEN", "list": "LLEN", "set": "SCARD"}[kind], key)
                exp = {"hash": a.big + len(set().union(*[set(c.bigfields) for c in checkers])),
                       "list": a.big + sum(len(c.biglist) for c in checkers),
                       "set": a.big + sum(len(c.bigmembers) for c in checkers)}
                for kind in big:
                    if sizes[kind] != exp[kind]:
                        checkers[0].lost.append(f"proxy{i} big {kind}: size {sizes[kind]} != {exp[kind]}")
                if wrong_small:
                    checkers[0].lost.append(f"proxy{i}: {wrong_small} small keys wrong or missing")
                print(f"final check through proxy{i}: big sizes {sizes}, wrong small keys {wrong_small}")
        for name, t0, t1 in phases:
            lat = [dt for c in checkers for (t, dt, _, _) in c.lat if t0 <= t <= t1]
            slow = sorted(((dt, kind, i, t - t0) for c in checkers for (t, dt, kind, i) in c.lat
                           if t0 <= t <= t1), reverse=True)[:3]
            print(f"latency {name:10s} ({t1 - t0:5.1f}s, {len(lat):7d} ops, {len(lat) / max(t1 - t0, 1e-9):6.0f}/s): "
                  f"p50 {pct(lat, .5) * 1e3:6.2f} ms  p99 {pct(lat, .99) * 1e3:7.2f} ms  "
                  f"p99.9 {pct(lat, .999) * 1e3:7.2f} ms  max {max(lat, default=0) * 1e3:8.2f} ms")
            by = {}
            for c in checkers:
                for (t, dt, kind, _) in c.lat:
                    if t0 <= t <= t1:
                        by.setdefault(kind, []).append(dt)
            print("    by kind: " + ", ".join(f"{k} p99 {pct(v, .99) * 1e3:.1f}/max {max(v) * 1e3:.0f} ms"
                                            for k, v in sorted(by.items())))
            print("    slowest: " + ", ".join(f"{dt * 1e3:.0f} ms {kind} via proxy{i} at +{at:.1f}s"
                                            for dt, kind, i, at in slow))
        tot = {k: sum(getattr(c, k) for c in checkers) for k in ("acked", "verified")}
        errors = [e for c in checkers for e in c.errors]
        rerrors = [e for c in checkers for e in c.restart_errors]
        lost = [e for c in checkers for e in c.lost]
        wrong = [e for c in checkers for e in c.wrong]
        print(f"acknowledged writes {tot['acked']}, verified reads {tot['verified']}, errors {len(errors)}, "
              f"restart-window errors {len(rerrors)}, lost {len(lost)}, wrong {len(wrong)}")
        for e in (errors + lost + wrong)[:20]:
            print("  ", e)
        for e in rerrors[:5]:
            print("   (restart window)", e)
        return 0 if not errors and not lost and not wrong else 1
    finally:
        ctl.stop.set()
        s.close()


if __name__ == "__main__":
    sys.exit(main())
