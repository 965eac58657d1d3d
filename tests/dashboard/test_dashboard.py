"""codis-dashboard against real ZooKeeper, redis-server and codis-proxy.

One cluster per module (the setup costs seconds): tests run in file order and
each leaves the cluster as the next one expects (slots 0-511 -> group 1,
512-1023 -> group 2, one proxy online)."""

import json
import signal
import time

import pytest

from coordinator_shell import CoordinatorShell
from dashboard_harness import Dashboard, codis_server
from harness import Proxy, RedisServer, slot_of, key_in_slots, key_in_slot, wait_until

PRODUCT = "codis-dash-it"


class Cluster:
    def __init__(self, tmp, zk):
        self.tmp = tmp
        self.zk = zk
        # g1 master, g2 master, spare; all with the codis_slots module
        self.servers = [codis_server(tmp).start() for _ in range(3)]
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
    assert set(model) == {"token", "start_time", "admin_addr", "product_name", "pid", "pwd", "sys"}
    # The lock node: the model, then this process's identity (for a restart's takeover; Codis ignores it).
    assert {k: v for k, v in lock.items() if k in model} == model
    assert set(lock) - set(model) == {"boot_id", "pid_start"}
    assert model["admin_addr"] == f"127.0.0.1:{d.port}" and model["product_name"] == PRODUCT
    assert d.proc.pid == model["pid"]
    assert d.ok("GET", "/api/topom/xping/{x}") == "OK"
    # GET / is the web UI (or a page saying how to build it); Codis redirected it to /topom.
    r = d.get("/")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/html"), r
    r = d.get("/topom")
    assert r.status == 200 and "model" in r.json() and "config" in r.json()


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
    # Without the admin secret (Codis's xauth is not enough: test_admin_security.py).
    r = d.put(f"/api/topom/group/create/{wrong}/7", auth=None)
    assert r.status == 401 and "authentication required" in r.json()["Cause"]
    assert d.get(f"/api/topom/stats/{wrong}", auth=None).status == 401
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


def test_server_without_module_is_refused(cluster, tmp_path):
    d = cluster.dash
    plain = RedisServer(tmp_path).start()
    try:
        before = cluster.snapshot()
        cause = d.err("PUT", f"/api/topom/group/add/{{x}}/2/{plain.addr}")
        assert "codis_slots.so" in cause and "--loadmodule" in cause and plain.addr in cause, cause
        assert cluster.snapshot() == before
    finally:
        plain.stop()


def test_group_info(cluster):
    d, r1 = cluster.dash, cluster.servers[0]
    info = d.ok("GET", f"/api/topom/group/info/{r1.addr}")  # Codis: no xauth
    assert info["role"] == "master" and info["tcp_port"] == str(r1.port)
    assert "redis_version" in info and "maxmemory" in info and "used_memory" in info
    assert d.ok("GET", f"/api/topom/group/info/{{x}}/{r1.addr}")["tcp_port"] == str(r1.port)
    assert "127.0.0.1:1 is not in any group" in d.err("GET", "/api/topom/group/info/127.0.0.1:1")
    assert d.get(f"/api/topom/group/info/{'0' * 32}/{r1.addr}", auth=None).status == 401


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
    # unbalanced: owned slots get migration actions, which the executor runs
    d.ok("PUT", "/api/topom/slots/assign/{x}", [{"id": i, "group_id": 1} for i in range(512, 520)])
    plan = d.ok("PUT", "/api/topom/slots/rebalance/{x}/0")
    assert len(plan) == 8 and set(plan.values()) == {2}
    assert d.ok("PUT", "/api/topom/slots/rebalance/{x}/1") == plan
    wait_until(lambda: all(cluster.node(f"/codis3/{PRODUCT}/slots/slot-{int(s):04d}") ==
                           {"id": int(s), "group_id": 2, "action": {}} for s in plan), 30,
               what="rebalance migrations finished")
    assert d.ok("GET", "/api/topom/stats/{x}")["slot_actions"]["actions"] == []


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


def cmdstat_calls(server, cmd):
    stats = server.client().info("commandstats")
    return stats.get(f"cmdstat_{cmd}", {}).get("calls", 0)


def test_replica_groups(cluster):
    """After the promote above, group 1 is [r3, r1]: r1 replicates r3."""
    d, (r1, _, r3), proxy = cluster.dash, cluster.servers, cluster.proxy
    g = cluster.node(f"/codis3/{PRODUCT}/group/group-0001")
    assert [s["server"] for s in g["servers"]] == [r3.addr, r1.addr]
    assert "doesn't have server" in d.err("PUT", "/api/topom/group/replica-groups/{x}/1/127.0.0.1:1/1")
    assert "doesn't exist" in d.err("PUT", f"/api/topom/group/replica-groups/{{x}}/42/{r1.addr}/1")
    assert "invalid value" in d.err("PUT", f"/api/topom/group/replica-groups/{{x}}/1/{r1.addr}/yes")

    d.ok("PUT", f"/api/topom/group/replica-groups/{{x}}/1/{r1.addr}/1")
    g = cluster.node(f"/codis3/{PRODUCT}/group/group-0001")
    assert g["servers"][1]["replica_group"] is True and g["servers"][0].get("replica_group", False) is False
    table = proxy_slots(proxy)
    assert table[0]["replica_groups"] == [[r1.addr]] and table[0]["backend_addr"] == r3.addr
    assert not table[600].get("replica_groups")  # group 2 is untouched

    k = key_in_slots(0, 511, "replica-read")
    with proxy.conn() as c:
        assert c.call("SET", k, "v") == "OK"
    wait_until(lambda: r1.client().get(k) == b"v", 10, what="replicated to r1")
    before_replica, before_master = cmdstat_calls(r1, "get"), cmdstat_calls(r3, "get")
    with proxy.conn() as c:
        for _ in range(50):
            assert c.call("GET", k) == b"v"
    served = cmdstat_calls(r1, "get") - before_replica
    assert served >= 40, f"replica served {served} of 50 GETs"
    assert cmdstat_calls(r3, "get") - before_master <= 10

    # all off (Codis's replica-groups-all): reads go back to the master
    d.ok("PUT", "/api/topom/group/replica-groups-all/{x}/0")
    for gid in (1, 2):
        g = cluster.node(f"/codis3/{PRODUCT}/group/group-{gid:04d}")
        assert not any(s.get("replica_group") for s in g["servers"])
    assert not proxy_slots(proxy)[0].get("replica_groups")
    before_replica = cmdstat_calls(r1, "get")
    with proxy.conn() as c:
        for _ in range(20):
            assert c.call("GET", k) == b"v"
    assert cmdstat_calls(r1, "get") == before_replica


def test_sync_actions(cluster):
    d, (r1, _, r3) = cluster.dash, cluster.servers
    assert "doesn't exist" in d.err("PUT", "/api/topom/group/action/create/{x}/127.0.0.1:1")
    assert "action doesn't exist" in d.err("PUT", f"/api/topom/group/action/remove/{{x}}/{r1.addr}")
    d.ok("PUT", f"/api/topom/group/action/create/{{x}}/{r1.addr}")

    def action():
        return cluster.node(f"/codis3/{PRODUCT}/group/group-0001")["servers"][1]["action"]
    # the poller runs it: REPLICAOF servers[0], then "synced"
    wait_until(lambda: action().get("state") == "synced", 10, what="sync action done")
    info = r1.client().info("replication")
    assert info["role"] == "slave" and info["master_port"] == r3.port
    d.ok("PUT", f"/api/topom/group/action/remove/{{x}}/{r1.addr}")
    assert action() == {}


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


def test_self_registered_proxy_leaves_cleanly(cluster, tmp_path):
    """A proxy started with --zookeeper registers itself and is taken over by
    the dashboard; stopped cleanly, it removes its registration and the
    dashboard stops pushing to it (a killed one would hold pushes up)."""
    d = cluster.dash
    p3 = Proxy(tmp_path, None, {"product_name": PRODUCT}, extra_args=["--zookeeper", cluster.zk.addr]).start()
    cluster.extra.append(p3)
    token3 = p3.get("/api/proxy/model").json()["token"]
    def proxy_tokens():
        return [m["token"] for m in d.ok("GET", "/api/topom/stats/{x}")["proxy"]["models"]]
    wait_until(lambda: token3 in proxy_tokens(), 15, what="dashboard takes the proxy")
    d.ok("PUT", "/api/topom/slots/assign/{x}", [{"id": 10, "group_id": 2}])
    assert proxy_slots(p3)[10]["backend_addr"] == cluster.servers[1].addr
    p3.stop()  # SIGTERM
    assert cluster.node(f"/codis3/{PRODUCT}/proxy/proxy-{token3}") is None
    d.ok("PUT", "/api/topom/slots/assign/{x}", [{"id": 10, "group_id": 1}])
    assert token3 not in proxy_tokens()


def test_restarted_proxy_leaves_no_dead_registration(cluster, tmp_path):
    """A proxy killed (SIGKILL) and started again on the same admin address:
    the new run removes the old registration and its jodis node, and the
    dashboard drops it at its next poll, with no slot operation in between
    (issue 15: it showed [E] until then, and the new process was polled with
    the old token)."""
    d = cluster.dash
    p4 = Proxy(tmp_path, None, {"product_name": PRODUCT}, extra_args=["--zookeeper", cluster.zk.addr]).start()
    cluster.extra.append(p4)
    old = p4.get("/api/proxy/model").json()["token"]

    def proxy_tokens():
        return [m["token"] for m in d.ok("GET", "/api/topom/stats/{x}")["proxy"]["models"]]
    wait_until(lambda: old in proxy_tokens(), 15, what="dashboard takes the proxy")
    assert cluster.node(f"/jodis/{PRODUCT}/proxy-{old}")["token"] == old
    p4.proc.kill()
    p4.proc.wait(10)
    p4.proc = None
    p4._token = None
    p4.start()
    new = p4.get("/api/proxy/model").json()["token"]
    assert new != old
    # Its old jodis node too, at once (it would stay until the killed run's session expired).
    assert cluster.node(f"/jodis/{PRODUCT}/proxy-{old}") is None
    assert cluster.node(f"/jodis/{PRODUCT}/proxy-{new}")["token"] == new
    wait_until(lambda: old not in proxy_tokens() and new in proxy_tokens(), 10,
               what="the dashboard drops the old registration and takes the new one")
    assert cluster.node(f"/codis3/{PRODUCT}/proxy/proxy-{old}") is None
    assert "refused" not in p4.log_file.read_text()
    p4.stop()


def test_proxy_shut_down_through_its_api_leaves_no_registration(cluster, tmp_path):
    """A proxy registered through ZooKeeper, shut down with its admin API
    (codis-admin --proxy --shutdown): it removes its registration, and the
    dashboard drops it at its next poll, with no slot operation in between
    (issue 15)."""
    d = cluster.dash
    p5 = Proxy(tmp_path, None, {"product_name": PRODUCT}, extra_args=["--zookeeper", cluster.zk.addr]).start()
    cluster.extra.append(p5)
    token = p5.get("/api/proxy/model").json()["token"]

    def proxy_tokens():
        return [m["token"] for m in d.ok("GET", "/api/topom/stats/{x}")["proxy"]["models"]]
    wait_until(lambda: token in proxy_tokens(), 15, what="dashboard takes the proxy")
    assert p5.put(f"/api/proxy/shutdown/{p5.xauth}").status == 200
    wait_until(lambda: p5.proc.poll() is not None, 15, what="the proxy exits")
    assert cluster.node(f"/codis3/{PRODUCT}/proxy/proxy-{token}") is None
    def dropped():
        proxies = d.ok("GET", "/api/topom/stats/{x}")["proxy"]
        return token not in [m["token"] for m in proxies["models"]] and token not in proxies["stats"]
    wait_until(dropped, 10, what="the dashboard drops the registration and its stats (no [E] left)")


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


def test_proxy_restarts_from_zookeeper_without_dashboard(cluster, tmp_path):
    """No dashboard runs any more (the last one shut down above): a proxy
    started with --zookeeper reads groups and slots from ZooKeeper, registers
    itself and serves at once."""
    assert cluster.node(f"/codis3/{PRODUCT}/topom") is None
    expected = {}
    for sid in range(1024):
        gid = cluster.node(f"/codis3/{PRODUCT}/slots/slot-{sid:04d}")["group_id"]
        master = cluster.node(f"/codis3/{PRODUCT}/group/group-{gid:04d}")["servers"][0]["server"]
        expected[sid] = master
    cluster.proxy.stop()
    proxy = Proxy(tmp_path, None, {"product_name": PRODUCT}, extra_args=["--zookeeper", cluster.zk.addr])
    proxy.start()
    cluster.proxy = proxy
    table = proxy_slots(proxy)
    assert {sid: s["backend_addr"] for sid, s in table.items()} == expected
    token = proxy.get("/api/proxy/model").json()["token"]
    assert cluster.node(f"/codis3/{PRODUCT}/proxy/proxy-{token}")["admin_addr"] == proxy.admin_url[7:]
    by_addr = {s.addr: s for s in cluster.servers}
    with proxy.conn() as c:
        for sid in (0, 300, 700, 1023):
            k = key_in_slot(sid, "from-zk")
            assert c.call("SET", k, "v") == "OK"
            assert c.call("GET", k) == b"v"
            assert by_addr[expected[sid]].client().get(k) == b"v"
