"""Online slot migration end to end: real ZooKeeper, 2 groups of redis-server
with codis_slots, 2 codis-proxy, our codis-dashboard.

Writers keep doing SET/INCR/HSET through both proxies while the dashboard
moves slots from group 1 to group 2; every acknowledged write is checked
afterwards and no client may see an error. Tests run in file order on one
cluster (slots 0-511 on group 1, 512-1023 on group 2 at the start)."""

import json
import os
import random
import signal
import threading
import time

import pytest

from coordinator_shell import CoordinatorShell
from dashboard_harness import Dashboard, codis_server
from harness import Err, Proxy, encode, keys_in_slots, key_in_slot, slot_of, wait_until

PRODUCT = "codis-mig-it"
BIG_FIELDS = 100_000


class Cluster:
    def __init__(self, tmp, zk):
        self.tmp = tmp
        self.zk = zk
        self.servers = [codis_server(tmp).start() for _ in range(2)]
        self.proxies = [Proxy(tmp, None, {"product_name": PRODUCT}).start() for _ in range(2)]
        self.shell = CoordinatorShell("zookeeper", zk.addr)
        self.dash = self.new_dashboard()

    def new_dashboard(self):
        d = Dashboard(self.tmp, PRODUCT, self.zk.addr)
        with open(d.config_file, "a") as f:
            f.write("migration_parallel_slots = 8\nmigration_async_numkeys = 50\n")
            # CODIS_MIGRATION_METHOD=sync runs the suite with SLOTSMGRTTAGSLOT / SLOTSMGRTTAGONE
            f.write(f'migration_method = "{os.environ.get("CODIS_MIGRATION_METHOD", "semi-async")}"\n')
        return d.start()

    def close(self):
        self.dash.stop()
        for p in self.proxies:
            p.stop()
        for s in self.servers:
            s.stop()
        self.shell.close()

    def node(self, path):
        v = self.shell.read(path)
        return None if v is None else json.loads(v)

    def slot_node(self, sid):
        return self.node(f"/codis3/{PRODUCT}/slots/slot-{sid:04d}")

    def actions(self):
        return self.dash.ok("GET", "/api/topom/stats/{x}")["slot_actions"]["actions"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, zookeeper):
    c = Cluster(tmp_path_factory.mktemp("mig"), zookeeper)
    yield c
    c.close()


def pipeline(conn, cmds):
    conn.send_raw(b"".join(encode(*c) for c in cmds))
    return [conn.read_reply(timeout=30) for _ in cmds]


def slotsinfo(server, sid, db=0):
    with server.conn(db) as c:
        r = c.call("SLOTSINFO", sid, 1)
    return dict((int(a), int(b)) for a, b in r).get(sid, 0)


def wait_actions_done(c, sids, timeout):
    def done():
        acts = {a["id"] for a in c.actions()}
        return not (acts & set(sids))
    wait_until(done, timeout, interval=0.2, what=f"slot actions {min(sids)}..{max(sids)} finished")


class Writer(threading.Thread):
    """Owns disjoint keys; every write's reply is checked at once, every
    acknowledged write is remembered and verified at the end."""

    def __init__(self, proxy, tid, counters, strings, big):
        super().__init__(daemon=True)
        self.proxy, self.tid = proxy, tid
        self.counters = {k: 0 for k in counters}
        self.strings = {k: None for k in strings}
        self.big = big
        self.fields = {}
        self.errors = []
        self.ops = 0
        self.stop = threading.Event()

    def run(self):
        rnd = random.Random(self.tid)
        try:
            with self.proxy.conn(timeout=30) as c:
                while not self.stop.is_set():
                    k = rnd.choice(list(self.counters))
                    r = c.call("INCR", k)
                    if r != self.counters[k] + 1:
                        self.errors.append(f"INCR {k}: {r!r}, expected {self.counters[k] + 1}")
                    else:
                        self.counters[k] = r
                    k = rnd.choice(list(self.strings))
                    v = f"{self.tid}:{self.ops}"
                    r = c.call("SET", k, v)
                    if r != "OK":
                        self.errors.append(f"SET {k}: {r!r}")
                    else:
                        self.strings[k] = v
                    f = f"w{self.tid}:{self.ops % 500}"
                    r = c.call("HSET", self.big, f, self.ops)
                    if isinstance(r, Err):
                        self.errors.append(f"HSET {self.big} {f}: {r!r}")
                    else:
                        self.fields[f] = str(self.ops).encode()
                    k = rnd.choice(list(self.strings))
                    if self.strings[k] is not None:
                        r = c.call("GET", k)
                        if r != self.strings[k].encode():
                            self.errors.append(f"GET {k}: {r!r}, expected {self.strings[k]!r}")
                    self.ops += 1
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.errors.append(f"exception: {e!r}")

    def verify(self, conn):
        bad = []
        for k, v in self.counters.items():
            r = conn.call("GET", k)
            if (r or b"0") != str(v).encode():
                bad.append(f"{k}: {r!r} != {v}")
        for k, v in self.strings.items():
            if v is not None and conn.call("GET", k) != v.encode():
                bad.append(f"{k}: != {v}")
        for f, v in self.fields.items():
            if conn.call("HGET", self.big, f) != v:
                bad.append(f"{self.big}.{f} != {v}")
        return bad


def test_setup_cluster_and_data(cluster):
    d = cluster.dash
    for gid, srv in ((1, cluster.servers[0]), (2, cluster.servers[1])):
        d.ok("PUT", f"/api/topom/group/create/{{x}}/{gid}")
        d.ok("PUT", f"/api/topom/group/add/{{x}}/{gid}/{srv.addr}")
    for p in cluster.proxies:
        d.ok("PUT", f"/api/topom/proxy/create/{{x}}/{p.admin_url[7:]}")
    d.ok("PUT", "/api/topom/slots/assign/{x}",
         [{"id": i, "group_id": 1 if i < 512 else 2} for i in range(1024)])
    # small keys in slots 0-63 (0-47 migrate below), a few in db 1, a big hash
    cluster.small = keys_in_slots(0, 63, 3000, "s")
    with cluster.proxies[0].conn(timeout=30) as c:
        assert all(r == "OK" for r in pipeline(c, [("SET", k, k) for k in cluster.small]))
        assert c.call("SELECT", 1) == "OK"
        cluster.db1 = keys_in_slots(0, 47, 200, "d1")
        assert all(r == "OK" for r in pipeline(c, [("SET", k, "db1") for k in cluster.db1]))
    cluster.big = key_in_slot(5, "big")
    with cluster.proxies[1].conn(timeout=60) as c:
        cmds = []
        for base in range(0, BIG_FIELDS, 1000):
            args = ["HSET", cluster.big]
            for i in range(base, base + 1000):
                args += [f"f{i}", str(i)]
            cmds.append(args)
        assert sum(pipeline(c, cmds)) == BIG_FIELDS
    assert slotsinfo(cluster.servers[0], 5) >= 1
    assert slotsinfo(cluster.servers[0], slot_of(cluster.db1[0]), db=1) >= 1


def test_action_api(cluster):
    d = cluster.dash
    d.ok("PUT", "/api/topom/slots/action/disabled/{x}/1")
    assert d.ok("GET", "/api/topom/stats/{x}")["slot_action"]["disabled"] is True
    d.ok("PUT", "/api/topom/slots/action/create/{x}/100/2")
    assert cluster.slot_node(100)["action"] == {"index": 1, "state": "pending", "target_id": 2}
    assert "already exists" in d.err("PUT", "/api/topom/slots/action/create/{x}/100/2")
    assert "already in group-[1]" in d.err("PUT", "/api/topom/slots/action/create/{x}/101/1")
    assert "doesn't exist" in d.err("PUT", "/api/topom/slots/action/create/{x}/101/9")
    assert "invalid slot range" in d.err("PUT", "/api/topom/slots/action/create-range/{x}/5/4/2")
    assert "invalid sid" in d.err("PUT", "/api/topom/slots/action/create/{x}/abc/2")
    time.sleep(0.5)  # disabled: nothing moves
    assert cluster.slot_node(100)["action"]["state"] == "pending"
    d.ok("PUT", "/api/topom/slots/action/remove/{x}/100")
    assert cluster.slot_node(100) == {"id": 100, "group_id": 1, "action": {}}
    assert "doesn't exist" in d.err("PUT", "/api/topom/slots/action/remove/{x}/100")
    d.ok("PUT", "/api/topom/slots/action/interval/{x}/2000000")
    assert d.ok("GET", "/api/topom/stats/{x}")["slot_action"]["interval"] == 1000000
    d.ok("PUT", "/api/topom/slots/action/interval/{x}/0")
    d.ok("PUT", "/api/topom/slots/action/disabled/{x}/0")


def test_migrate_under_writes(cluster):
    d, (g1, g2) = cluster.dash, cluster.servers
    writers = []
    for tid, p in enumerate(cluster.proxies):
        writers.append(Writer(p, tid, keys_in_slots(0, 40, 40, f"cnt{tid}"),
                              keys_in_slots(0, 40, 40, f"str{tid}"), cluster.big))
    for w in writers:
        w.start()
    time.sleep(0.5)
    t0 = time.time()
    d.ok("PUT", "/api/topom/slots/action/create-range/{x}/0/31/2")
    assert {a["state"] for a in cluster.actions()} <= {"pending", "preparing", "prepared", "migrating", "finished"}
    wait_actions_done(cluster, range(32), 60)
    took = time.time() - t0
    time.sleep(0.5)
    for w in writers:
        w.stop.set()
    for w in writers:
        w.join(30)
    for w in writers:
        assert not w.errors, w.errors[:5]
        assert w.ops > 10
    for sid in range(32):
        assert cluster.slot_node(sid) == {"id": sid, "group_id": 2, "action": {}}
        assert slotsinfo(g1, sid) == 0 and slotsinfo(g1, sid, db=1) == 0
    for p in cluster.proxies:
        table = {s["id"]: s for s in p.get("/proxy/slots").json()}
        assert table[0]["backend_addr"] == g2.addr and not table[0].get("migrate_from")
        assert table[40]["backend_addr"] == g1.addr
    with cluster.proxies[1].conn(timeout=30) as c:
        for w in writers:
            assert w.verify(c) == []
        vals = pipeline(c, [("GET", k) for k in cluster.small])
        assert vals == [k.encode() for k in cluster.small]
        assert c.call("HLEN", cluster.big) == BIG_FIELDS + len(set().union(*[w.fields for w in writers]))
        assert c.call("HGET", cluster.big, "f99999") == b"99999"
        assert c.call("SELECT", 1) == "OK"
        assert pipeline(c, [("GET", k) for k in cluster.db1]) == [b"db1"] * len(cluster.db1)
    with g2.conn() as c:
        assert c.call("HLEN", cluster.big) >= BIG_FIELDS
        assert c.call("TTL", cluster.big) == -1
    print(f"migrated 32 slots in {took:.1f}s, writer ops {[w.ops for w in writers]}")


def test_dashboard_killed_mid_migration(cluster):
    d, (g1, g2) = cluster.dash, cluster.servers
    w = Writer(cluster.proxies[0], 7, keys_in_slots(32, 47, 30, "cntk"), keys_in_slots(32, 47, 30, "strk"),
               key_in_slot(33, "bigk"))
    w.start()
    d.ok("PUT", "/api/topom/slots/action/interval/{x}/100000")  # slow: 100 ms between batches
    d.ok("PUT", "/api/topom/slots/action/create-range/{x}/32/47/2")
    wait_until(lambda: any(a["state"] == "migrating" for a in cluster.actions()), 20, interval=0.05,
               what="an action migrating")
    d.stop(signal.SIGKILL)
    states = [cluster.slot_node(s)["action"].get("state") for s in range(32, 48)]
    assert any(states), states  # killed mid-way
    cluster.shell.remove(f"/codis3/{PRODUCT}/topom")  # as codis-admin --remove-lock
    cluster.dash = cluster.new_dashboard()
    wait_actions_done(cluster, range(32, 48), 60)
    w.stop.set()
    w.join(30)
    assert not w.errors, w.errors[:5]
    for sid in range(32, 48):
        assert cluster.slot_node(sid) == {"id": sid, "group_id": 2, "action": {}}
        assert slotsinfo(g1, sid) == 0 and slotsinfo(g1, sid, db=1) == 0
    with cluster.proxies[1].conn(timeout=30) as c:
        assert w.verify(c) == []
        vals = pipeline(c, [("GET", k) for k in cluster.small])
        assert vals == [k.encode() for k in cluster.small]
    assert "resync" in cluster.dash.log() or "action" in cluster.dash.log()


class ReconnectingCounter(threading.Thread):
    """INCR on its own counters through one proxy that is going to be
    restarted: reconnects after a failure; an INCR whose reply was lost is
    resolved by reading the counter through the other proxy (either outcome
    is fine, nothing else). Failures are counted, not fatal."""

    def __init__(self, proxy, other, counters):
        super().__init__(daemon=True)
        self.proxy, self.other = proxy, other
        self.counters = {k: 0 for k in counters}
        self.failures, self.bad, self.ops = [], [], 0
        self.stop = threading.Event()

    def resolve(self, k):
        with self.other.conn(timeout=30) as c:
            r = int(c.call("GET", k) or 0)
        if r not in (self.counters[k], self.counters[k] + 1):
            self.bad.append(f"{k}: {r} after an unacknowledged INCR, expected {self.counters[k]} or +1")
        self.counters[k] = r

    def run(self):
        rnd = random.Random(11)
        c = None
        while not self.stop.is_set():
            if c is None:
                try:
                    c = self.proxy.conn(timeout=30)
                except OSError:
                    time.sleep(0.05)
                    continue
            k = rnd.choice(list(self.counters))
            try:
                r = c.call("INCR", k)
            except Exception as e:  # noqa: BLE001 - the restart closes the connection
                self.failures.append(repr(e))
                c.close()
                c = None
                self.resolve(k)
                continue
            if isinstance(r, Err):
                self.failures.append(repr(r))
                self.resolve(k)
                continue
            if r != self.counters[k] + 1:
                self.bad.append(f"INCR {k}: {r!r}, expected {self.counters[k] + 1}")
            self.counters[k] = r
            self.ops += 1
        if c is not None:
            c.close()


def test_proxy_restarted_mid_migration(cluster):
    """Proxy 0 is stopped while slots are migrating, its stale registration
    removed (proxy/remove force), and it starts again on the same ports with
    --zookeeper: it loads the in-flight states from the coordinator, the
    dashboard takes it over, the actions finish. Proxy 1's clients see no
    error; no acknowledged write is lost through either proxy."""
    d, (g1, g2) = cluster.dash, cluster.servers
    p0, p1 = cluster.proxies
    more = keys_in_slots(48, 63, 2000, "rp")
    with p1.conn(timeout=30) as c:
        assert all(r == "OK" for r in pipeline(c, [("SET", k, k) for k in more]))
    w1 = Writer(p1, 21, keys_in_slots(48, 63, 30, "cntr"), keys_in_slots(48, 63, 30, "strr"),
                key_in_slot(50, "bigr"))
    w0 = ReconnectingCounter(p0, p1, keys_in_slots(48, 63, 30, "cntp"))
    w1.start()
    w0.start()
    d.ok("PUT", "/api/topom/slots/action/interval/{x}/200000")  # slow: 200 ms between batches
    d.ok("PUT", "/api/topom/slots/action/create-range/{x}/48/63/2")
    wait_until(lambda: any(a["state"] == "migrating" for a in cluster.actions()), 20, interval=0.05,
               what="an action migrating")
    token = p0.get("/api/proxy/model").json()["token"]
    p0.stop()
    states = [cluster.slot_node(s)["action"].get("state") for s in range(48, 64)]
    assert any(states), states  # stopped mid-way
    d.ok("PUT", f"/api/topom/proxy/remove/{{x}}/{token}/1")
    p0.extra_args = ["--zookeeper", cluster.zk.addr]
    p0.start()
    d.ok("PUT", "/api/topom/slots/action/interval/{x}/0")
    wait_actions_done(cluster, range(48, 64), 60)
    # it registered in the coordinator at start: the transitions after that pushed to it too
    assert any(p["admin_addr"] == p0.admin_url[7:] and p["token"] != token
               for p in d.ok("GET", "/api/topom/stats/{x}")["proxy"]["models"])
    time.sleep(0.3)
    for w in (w0, w1):
        w.stop.set()
    for w in (w0, w1):
        w.join(30)
    assert not w1.errors, w1.errors[:5]
    assert w1.ops > 10 and w0.ops > 10
    assert not w0.bad, w0.bad[:5]
    for sid in range(48, 64):
        assert cluster.slot_node(sid) == {"id": sid, "group_id": 2, "action": {}}
        assert slotsinfo(g1, sid) == 0
    for p in (p0, p1):
        table = {s["id"]: s for s in p.get("/proxy/slots").json()}
        assert table[50]["backend_addr"] == g2.addr and not table[50].get("migrate_from")
        assert table[100]["backend_addr"] == g1.addr
    for p in (p0, p1):
        with p.conn(timeout=30) as c:
            assert w1.verify(c) == []
            vals = pipeline(c, [("GET", k) for k in w0.counters])
            assert vals == [str(v).encode() if v else None for v in w0.counters.values()]
            assert pipeline(c, [("GET", k) for k in more]) == [k.encode() for k in more]
    print(f"proxy restart: writer ops {w1.ops}/{w0.ops}, proxy0 failures {len(w0.failures)}")
