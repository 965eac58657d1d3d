"""The cluster keeps working while ZooKeeper restarts under it: a standalone
ZooKeeper restarted, and the leader of a 3-node ensemble restarted. The
dashboard keeps (or re-takes) its lock and answers API calls again; the proxy
serves throughout (it needs no coordinator to serve)."""

import json
import threading
import time

import pytest

from coordinator_shell import CoordinatorShell
from dashboard_harness import Dashboard, codis_server
from harness import Proxy, RespConn, key_in_slots, wait_until
from zk_harness import ZooKeeperEnsemble, ZooKeeperUnavailable


class Traffic:
    """SET/GET through the proxy in a loop; every failure is kept."""

    def __init__(self, proxy):
        self.proxy = proxy
        self.errors = []
        self.ops = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        keys = [key_in_slots(lo, lo + 99, "traffic") for lo in range(0, 1000, 100)]
        with RespConn(self.proxy.port, timeout=5) as c:
            n = 0
            while not self._stop.is_set():
                k = keys[n % len(keys)]
                try:
                    v = f"v{n}"
                    if c.call("SET", k, v) != "OK" or c.call("GET", k) != v.encode():
                        self.errors.append(f"{k}: bad reply")
                except Exception as e:  # noqa: BLE001 - every failure counts
                    self.errors.append(f"{k}: {e!r}")
                    return
                n += 1
                self.ops = n
                time.sleep(0.01)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)


def build(tmp, addr, product):
    server = codis_server(tmp).start()
    proxy = Proxy(tmp, None, {"product_name": product}).start()
    dash = Dashboard(tmp, product, addr).start()
    dash.ok("PUT", "/api/topom/group/create/{x}/1")
    dash.ok("PUT", f"/api/topom/group/add/{{x}}/1/{server.addr}")
    dash.ok("PUT", f"/api/topom/proxy/create/{{x}}/{proxy.admin_url[7:]}")
    # 1024 coordinator writes: on a loaded 2-core machine a fresh ensemble can
    # still drop the session once; assigning again is idempotent.
    def assigned():
        ok, _ = dash.api("PUT", "/api/topom/slots/assign/{x}", [{"id": i, "group_id": 1} for i in range(1024)])
        return ok or None
    wait_until(assigned, 40, interval=1, what="slots assigned")
    return server, proxy, dash


def api_works_again(dash, gid):
    def created():
        ok, _ = dash.api("PUT", f"/api/topom/group/create/{{x}}/{gid}")
        return ok or None
    wait_until(created, 40, interval=0.5, what="dashboard API after the ZooKeeper restart")
    assert gid in [g["id"] for g in dash.ok("GET", "/api/topom/stats/{x}")["group"]["models"]]


def test_zookeeper_restarted_under_running_cluster(tmp_path, zookeeper):
    product = "codis-zk-restart"
    server, proxy, dash = build(tmp_path, zookeeper.addr, product)
    shell = None
    try:
        with Traffic(proxy) as t:
            time.sleep(0.3)
            zookeeper.restart()
            api_works_again(dash, 2)
            ops = t.ops
            wait_until(lambda: t.ops > ops + 10 or t.errors, 10, what="traffic after the restart")
        assert not t.errors, t.errors[:5]
        assert dash.alive(), dash.tail()
        shell = CoordinatorShell("zookeeper", zookeeper.addr)
        lock = shell.read(f"/codis3/{product}/topom")
        assert lock is not None and json.loads(lock)["pid"] == dash.proc.pid
        # the pushed routing still works after the restart
        dash.ok("PUT", "/api/topom/slots/assign/{x}/offline", [{"id": 3, "group_id": 0}])
        assert proxy.get("/proxy/slots").json()[3].get("backend_addr", "") == ""
    finally:
        if shell:
            shell.close()
        dash.stop()
        proxy.stop()
        server.stop()


def test_ensemble_leader_restarted(tmp_path):
    try:
        ens = ZooKeeperEnsemble(3, workdir=str(tmp_path / "zk")).start()
        ens.wait_quorum()
    except ZooKeeperUnavailable as e:
        pytest.fail(f"ZooKeeper ensemble unavailable: {e}", pytrace=False)
    product = "codis-zk-ensemble"
    server = proxy = dash = None
    try:
        server, proxy, dash = build(tmp_path, ens.addr, product)
        with Traffic(proxy) as t:
            leader = ens.leader()
            ens.servers[leader].restart(60)
            ens.wait_quorum(60)
            api_works_again(dash, 2)
            ops = t.ops
            wait_until(lambda: t.ops > ops + 10 or t.errors, 10, what="traffic after the restart")
        assert not t.errors, t.errors[:5]
        assert dash.alive(), dash.tail()
        assert dash.ok("GET", "/api/topom/model")["pid"] == dash.proc.pid
    finally:
        for p in (dash, proxy, server):
            if p:
                p.stop()
        ens.close()
