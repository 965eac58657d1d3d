"""codis-dashboard against real ZooKeeper, redis-server and codis-proxy.

One cluster per module (the setup costs seconds): tests run in file order and
each leaves the cluster as the next one expects (slots 0-511 -> group 1,
512-1023 -> group 2, one proxy online)."""

import json
import signal
import time

import pytest

from coordinator_shell import CoordinatorShell
from dashboard_harness import Dashboard
from harness import Proxy, RedisServer, slot_of, key_in_slots, key_in_slot, wait_until

PRODUCT = "codis-dash-it"


class Cluster:
    def __init__(self, tmp, zk):
        self.tmp = tmp
        self.zk = zk
        self.servers = [RedisServer(tmp).start() for _ in range(3)]  # g1 master, g2 master, spare
        self.proxy = Proxy(tmp, None, {"product_name": PRODUCT})
        self.proxy.start()
        self.dash = Dashboard(tmp, PRODUCT, zk.addr).start()
        self.shell = CoordinatorShell("zookeeper", zk.addr)
        self.extra = []

    def close(self):
        for p in [self.dash, *self.extra]:
            p.stop()
        self.proxy.stop()
        for s in self.servers:
            s.stop()
        self.shell.close()

    # ZooKeeper, as Codis lays it out
    def node(self, path):
        v = self.shell.read(path)
        return None if v is None else json.loads(v)

    def snapshot(self):
        """Every group/slot/proxy node's text: to prove a refused call changed nothing."""
        out = {}
        base = f"/codis3/{PRODUCT}"
        for d in ("group", "slots", "proxy"):
            for name in self.shell.list(f"{base}/{d}"):
                out[f"{d}/{name}"] = self.shell.read(f"{base}/{d}/{name}")
        return out


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, zookeeper):
    c = Cluster(tmp_path_factory.mktemp("dash"), zookeeper)
    yield c
    c.close()


def proxy_slots(proxy):
    r = proxy.get("/proxy/slots")
    assert r.status == 200, r
    return {s["id"]: s for s in r.json()}


def test_lock_node_and_model(cluster):
    d = cluster.dash
    lock = cluster.node(f"/codis3/{PRODUCT}/topom")
    model = d.ok("GET", "/api/topom/model")
    assert lock == model
    assert set(model) == {"token", "start_time", "admin_addr", "product_name", "pid", "pwd", "sys"}
    assert model["admin_addr"] == f"127.0.0.1:{d.port}" and model["product_name"] == PRODUCT
    assert d.proc.pid == model["pid"]
    assert d.ok("GET", "/api/topom/xping/{x}") == "OK"
    r = d.get("/")
    assert r.status == 200 and "model" in r.json() and "config" in r.json()  # redirected to /topom


def test_build_two_group_cluster(cluster):
    d, (r1, r2, _), proxy = cluster.dash, cluster.servers, cluster.proxy
    for gid, srv in ((1, r1), (2, r2)):
        d.ok("PUT", f"/api/topom/group/create/{{x}}/{gid}")
        d.ok("PUT", f"/api/topom/group/add/{{x}}/{gid}/{srv.addr}")
    g1 = cluster.node(f"/codis3/{PRODUCT}/group/group-0001")
    assert g1["id"] == 1 and [s["server"] for s in g1["servers"]] == [r1.addr]

    d.ok("PUT", f"/api/topom/proxy/create/{{x}}/{proxy.admin_url[7:]}")
    token = proxy.get("/api/proxy/model").json()["token"]
    p = cluster.node(f"/codis3/{PRODUCT}/proxy/proxy-{token}")
    assert p["id"] == 1 and p["token"] == token and p["admin_addr"] == proxy.admin_url[7:]

    d.ok("PUT", "/api/topom/slots/assign/{x}",
         [{"id": i, "group_id": 1 if i < 512 else 2} for i in range(1024)])
    assert cluster.node(f"/codis3/{PRODUCT}/slots/slot-0000") == {"id": 0, "group_id": 1, "action": {}}
    assert cluster.node(f"/codis3/{PRODUCT}/slots/slot-1023")["group_id"] == 2

    table = proxy_slots(proxy)
    assert table[0]["backend_addr"] == r1.addr and table[1023]["backend_addr"] == r2.addr
    keys = [f"key:{i}" for i in range(200)]
    with proxy.conn() as c:
        for k in keys:
            assert c.call("SET", k, k) == "OK"
    with r1.conn() as c1, r2.conn() as c2:
        for k in keys:
            owner, other = (c1, c2) if slot_of(k) < 512 else (c2, c1)
            assert owner.call("GET", k) == k.encode()
            assert other.call("EXISTS", k) == 0

    slots = d.ok("GET", "/api/topom/slots/{x}")
    assert len(slots) == 1024 and slots[600]["backend_addr_group_id"] == 2
    assert d.get("/topom/slots").json() == slots


def test_stats_and_metrics(cluster):
    d = cluster.dash
    token = cluster.proxy.get("/api/proxy/model").json()["token"]

    def polled():
        s = d.ok("GET", "/api/topom/stats/{x}")
        return s if token in s["proxy"]["stats"] and cluster.servers[0].addr in s["group"]["stats"] else None
    stats = wait_until(polled, 10, what="stats polled")
    stats = d.ok("GET", "/api/topom/stats/{x}")
    assert stats["closed"] is False and len(stats["slots"]) == 1024
    assert [g["id"] for g in stats["group"]["models"]] == [1, 2]
    ps = stats["proxy"]["stats"][token]
    assert "error" not in ps and ps["unixtime"] > 0 and ps["stats"]["online"] is True
    rs = stats["group"]["stats"][cluster.servers[0].addr]["stats"]
    assert rs["role"] == "master" and "used_memory" in rs and "maxmemory" in rs
    assert set(stats["slot_action"]) == {"interval", "disabled", "progress", "executor"}
    assert d.get("/topom/stats").status == 200

    m = d.get("/metrics")
    assert m.status == 200 and "text/plain" in m.headers["Content-Type"]
    assert 'codis_dashboard_group_slots{group="1"} 512' in m.text
    assert f'codis_dashboard_proxy_up{{token="{token}"' in m.text


def test_move_offline_assigned_slot(cluster):
    d, (r1, r2, _), proxy = cluster.dash, cluster.servers, cluster.proxy
    sid = 5
    d.ok("PUT", "/api/topom/slots/assign/{x}/offline", [{"id": sid, "group_id": 0}])
    assert cluster.node(f"/codis3/{PRODUCT}/slots/slot-0005")["group_id"] == 0
    assert proxy_slots(proxy)[sid].get("backend_addr", "") == ""

    d.ok("PUT", "/api/topom/slots/assign/{x}", [{"id": sid, "group_id": 2}])
    assert cluster.node(f"/codis3/{PRODUCT}/slots/slot-0005")["group_id"] == 2
    assert proxy_slots(proxy)[sid]["backend_addr"] == r2.addr
    k = key_in_slot(sid, "moved")
    with proxy.conn() as c:
        assert c.call("SET", k, "v") == "OK"
    with r2.conn() as c:
        assert c.call("GET", k) == b"v"
    # back to group 1 for the next tests
    d.ok("PUT", "/api/topom/slots/assign/{x}", [{"id": sid, "group_id": 1}])
    assert proxy_slots(proxy)[sid]["backend_addr"] == r1.addr


def test_bad_requests_change_nothing(cluster):
    d = cluster.dash
    before = cluster.snapshot()
    wrong = "0" * 32
    r = d.put(f"/api/topom/group/create/{wrong}/7")
    assert r.status == 800 and "invalid xauth" in r.json()["Cause"]
    assert "unknown" not in d.get(f"/api/topom/stats/{wrong}").text and d.get(f"/api/topom/stats/{wrong}").status == 800
    assert "doesn't exist" in d.err("PUT", "/api/topom/slots/assign/{x}", [{"id": 1, "group_id": 9}])
    assert "slot-[1024]" in d.err("PUT", "/api/topom/slots/assign/{x}", [{"id": 1024, "group_id": 1}])
    assert "slot-[-1]" in d.err("PUT", "/api/topom/slots/assign/{x}", [{"id": -1, "group_id": 1}])
    # a valid entry before a bad one: all or nothing
    assert "doesn't exist" in d.err("PUT", "/api/topom/slots/assign/{x}",
                                    [{"id": 2, "group_id": 2}, {"id": 3, "group_id": 9}])
    assert "json" in d.err("PUT", "/api/topom/slots/assign/{x}", b"[{\"id\": 1,").lower()
    assert "json" in d.err("PUT", "/api/topom/slots/assign/{x}", {"id": 1}).lower()
    assert "json" in d.err("PUT", "/api/topom/slots/assign/{x}", [{"id": "one", "group_id": 1}]).lower()
    assert "should be 0" in d.err("PUT", "/api/topom/slots/assign/{x}/offline", [{"id": 1, "group_id": 1}])
    assert "invalid gid" in d.err("PUT", "/api/topom/group/create/{x}/abc")
    assert "out of range" in d.err("PUT", "/api/topom/group/create/{x}/0")
    assert "out of range" in d.err("PUT", "/api/topom/group/create/{x}/10000")
    assert "already exists" in d.err("PUT", "/api/topom/group/create/{x}/1")
    assert "isn't empty" in d.err("PUT", "/api/topom/group/remove/{x}/1")
    assert "doesn't exist" in d.err("PUT", "/api/topom/group/remove/{x}/42")
    assert "can't remove master" in d.err("PUT", f"/api/topom/group/del/{{x}}/1/{cluster.servers[0].addr}")
    assert "already exists" in d.err("PUT", f"/api/topom/group/add/{{x}}/2/{cluster.servers[0].addr}")
    assert "not reachable" in d.err("PUT", "/api/topom/group/add/{x}/2/127.0.0.1:1")
    assert "doesn't exist" in d.err("PUT", "/api/topom/proxy/reinit/{x}/nosuchtoken")
    assert "fetch model failed" in d.err("PUT", "/api/topom/proxy/create/{x}/127.0.0.1:1")
    # an empty group can be created and removed; then the snapshot is equal again
    d.ok("PUT", "/api/topom/group/create/{x}/3")
    assert "is empty" in d.err("PUT", "/api/topom/slots/assign/{x}", [{"id": 1, "group_id": 3}])
    d.ok("PUT", "/api/topom/group/remove/{x}/3")
    assert d.get("/api/topom/nosuch").status == 404
    assert cluster.snapshot() == before


def test_rebalance(cluster):
    d = cluster.dash
    assert d.ok("PUT", "/api/topom/slots/rebalance/{x}/0") == {}
    d.ok("PUT", "/api/topom/slots/assign/{x}/offline", [{"id": 7, "group_id": 0}, {"id": 600, "group_id": 0}])
    plan = d.ok("PUT", "/api/topom/slots/rebalance/{x}/0")
    assert plan == {"7": 1, "600": 2}
    assert cluster.node(f"/codis3/{PRODUCT}/slots/slot-0007")["group_id"] == 0  # a plan changes nothing
    assert d.ok("PUT", "/api/topom/slots/rebalance/{x}/1") == plan
    assert cluster.node(f"/codis3/{PRODUCT}/slots/slot-0007")["group_id"] == 1
    assert cluster.node(f"/codis3/{PRODUCT}/slots/slot-0600")["group_id"] == 2
    # unbalanced: moving owned slots needs migration -> refused, nothing changed
    d.ok("PUT", "/api/topom/slots/assign/{x}", [{"id": i, "group_id": 1} for i in range(512, 520)])
    before = cluster.snapshot()
    assert "migrat" in d.err("PUT", "/api/topom/slots/rebalance/{x}/1")
    assert cluster.snapshot() == before
    d.ok("PUT", "/api/topom/slots/assign/{x}", [{"id": i, "group_id": 2} for i in range(512, 520)])


def test_resync_and_promote(cluster):
    d, (r1, r2, r3), proxy = cluster.dash, cluster.servers, cluster.proxy
    d.ok("PUT", f"/api/topom/group/add/{{x}}/1/{r3.addr}/dc1")
    g = cluster.node(f"/codis3/{PRODUCT}/group/group-0001")
    assert [s["server"] for s in g["servers"]] == [r1.addr, r3.addr] and g["servers"][1]["datacenter"] == "dc1"
    d.ok("PUT", "/api/topom/group/resync/{x}/1")
    assert cluster.node(f"/codis3/{PRODUCT}/group/group-0001")["out_of_sync"] is False

    def synced():
        info = r3.client().info("replication")
        return info["role"] == "slave" and info["master_port"] == r1.port and info["master_link_status"] == "up"
    wait_until(synced, 15, what="r3 replicating r1")
    assert "can't promote master" in d.err("PUT", f"/api/topom/group/promote/{{x}}/1/{r1.addr}")

    d.ok("PUT", f"/api/topom/group/promote/{{x}}/1/{r3.addr}")
    g = cluster.node(f"/codis3/{PRODUCT}/group/group-0001")
    assert [s["server"] for s in g["servers"]] == [r3.addr, r1.addr] and g["promoting"] == {}
    assert r3.client().info("replication")["role"] == "master"
    wait_until(lambda: r1.client().info("replication")["role"] == "slave", 10, what="old master follows")
    assert proxy_slots(proxy)[0]["backend_addr"] == r3.addr
    k = key_in_slots(0, 511, "promoted")
    with proxy.conn() as c:
        assert c.call("SET", k, "v") == "OK"
    with r3.conn() as c:
        assert c.call("GET", k) == b"v"


def test_dead_proxy_is_reported(cluster, tmp_path):
    d = cluster.dash
    p2 = Proxy(tmp_path, None, {"product_name": PRODUCT}).start()
    cluster.extra.append(p2)
    d.ok("PUT", f"/api/topom/proxy/create/{{x}}/{p2.admin_url[7:]}")
    token2 = p2.get("/api/proxy/model").json()["token"]
    assert proxy_slots(p2)[0]["backend_addr"] == cluster.servers[2].addr  # got the whole table
    p2.stop()
    cause = d.err("PUT", "/api/topom/slots/assign/{x}", [{"id": 9, "group_id": 2}])
    assert token2 in cause and "resync slots failed" in cause
    # stored first (Codis), and the live proxy got it
    assert cluster.node(f"/codis3/{PRODUCT}/slots/slot-0009")["group_id"] == 2
    assert proxy_slots(cluster.proxy)[9]["backend_addr"] == cluster.servers[1].addr
    assert "shutdown failed" in d.err("PUT", f"/api/topom/proxy/remove/{{x}}/{token2}/0")
    d.ok("PUT", f"/api/topom/proxy/remove/{{x}}/{token2}/1")
    assert cluster.node(f"/codis3/{PRODUCT}/proxy/proxy-{token2}") is None
    d.ok("PUT", "/api/topom/slots/assign/{x}", [{"id": 9, "group_id": 1}])


def test_standby_takes_over(cluster, tmp_path):
    first = cluster.dash
    second = Dashboard(tmp_path, PRODUCT, cluster.zk.addr).start(wait_active=False)
    cluster.extra.append(second)
    wait_until(lambda: "standby" in second.log(), 15, what="second dashboard waits as standby")
    assert not second.answers()
    first.stop(signal.SIGKILL)  # its ZooKeeper session must expire first
    second.wait_active(40)
    assert "taking over" in second.log()
    cluster.dash = second
    lock = cluster.node(f"/codis3/{PRODUCT}/topom")
    assert lock["pid"] == second.proc.pid and lock["admin_addr"] == f"127.0.0.1:{second.port}"
    # it loaded the topology and drives the proxy
    slots = second.ok("GET", "/api/topom/slots/{x}")
    assert slots[0]["backend_addr"] == cluster.servers[2].addr and slots[1023]["backend_addr_group_id"] == 2
    second.ok("PUT", "/api/topom/slots/assign/{x}", [{"id": 11, "group_id": 2}])
    assert proxy_slots(cluster.proxy)[11]["backend_addr"] == cluster.servers[1].addr
    # graceful shutdown releases the lock at once
    second.ok("PUT", "/api/topom/shutdown/{x}")
    wait_until(lambda: cluster.node(f"/codis3/{PRODUCT}/topom") is None, 10, what="lock released")
    wait_until(lambda: not second.alive(), 10, what="dashboard exits after shutdown")
