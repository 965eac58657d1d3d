"""ZooKeeper down for longer than the session timeout, then started again
(issue 15): the dashboard and a proxy registered through ZooKeeper lose their
sessions. Every ephemeral node comes back on their new sessions and stays:
the proxy's /jodis node and the dashboard's lock; the proxy's registration
(persistent) is still there; the dashboard still owns the cluster and
changes it; both say so in /metrics. Before, the /jodis node was gone for
good ("taken by another session; not re-created"): the restarted server
brought the old sessions back until they expired there, holding the nodes.

ZooKeeper runs with tickTime 150 ms, which caps every session timeout at
3 s (20 ticks), so an outage past it is quick to stage."""

import re

import pytest

from coordinator_shell import CoordinatorError, run_cli, zk_owner
from dashboard_harness import Dashboard, codis_server
from harness import Proxy, key_in_slot, wait_until
from zk_harness import ZooKeeperServer, ZooKeeperUnavailable

PRODUCT = "codis-ha-outage"


def metric(text, name, role="coordinator"):
    m = re.search(rf'^{name}{{role="{role}"}} (\d+)$', text, re.M)
    assert m, f"{name} not in\n{text}"
    return int(m.group(1))


def owner(zk, path):
    try:
        return zk_owner(zk.addr, path)
    except CoordinatorError:
        return None  # not serving yet


def test_zookeeper_down_past_session_timeout(tmp_path):
    try:
        zk = ZooKeeperServer(str(tmp_path / "zk"), tick_ms=150).start()
    except ZooKeeperUnavailable as e:
        pytest.fail(f"ZooKeeper unavailable: {e}", pytrace=False)
    server = codis_server(tmp_path).start()
    dash = proxy = None
    try:
        dash = Dashboard(tmp_path, PRODUCT, zk.addr).start()
        dash.ok("PUT", "/api/topom/group/create/{x}/1")
        dash.ok("PUT", f"/api/topom/group/add/{{x}}/1/{server.addr}")
        proxy = Proxy(tmp_path, None, {"product_name": PRODUCT}, extra_args=["--zookeeper", zk.addr]).start()
        token = proxy.get("/api/proxy/model").json()["token"]
        wait_until(lambda: token in [m["token"] for m in dash.ok("GET", "/api/topom/stats/{x}")["proxy"]["models"]],
                   15, what="the dashboard takes the proxy over")
        jodis = f"/jodis/{PRODUCT}/proxy-{token}"
        lock = f"/codis3/{PRODUCT}/topom"
        registration = f"/codis3/{PRODUCT}/proxy/proxy-{token}"
        before = {p: owner(zk, p) for p in (jodis, lock)}
        assert None not in before.values()
        dash_token = dash.ok("GET", "/api/topom/model")["token"]

        zk.stop()
        wait_until(lambda: "over the session timeout" in dash.log()
                   and "over the session timeout" in proxy.log_file.read_text(), 20,
                   what="both give their sessions up")
        zk.start()

        def back():
            return all(owner(zk, p) not in (None, before[p]) for p in (jodis, lock))
        wait_until(back, 30, what="the /jodis node and the lock held by the new sessions")
        r = run_cli("zookeeper", zk.addr, "read", registration)
        assert r.returncode == 0 and r.stdout, r.stderr
        assert proxy.alive() and dash.alive()
        assert dash.ok("GET", "/api/topom/model")["token"] == dash_token  # the same dashboard owns it

        for text in (proxy.get("/metrics").text, dash.get("/metrics").text):
            assert metric(text, "codis_coordinator_session_losses_total") >= 1
            assert metric(text, "codis_coordinator_ephemerals_recreated_total") >= 1
            assert metric(text, "codis_coordinator_ephemerals_pending") == 0
        assert "re-created" in proxy.log_file.read_text() and "re-created" in dash.log()

        # The dashboard still drives the cluster through the new session.
        def assigned():
            ok, _ = dash.api("PUT", "/api/topom/slots/assign/{x}", [{"id": 5, "group_id": 1}])
            return ok
        wait_until(assigned, 20, interval=0.5, what="a slot assigned after the outage")
        with proxy.conn() as c:
            k = key_in_slot(5, "after-outage")
            assert c.call("SET", k, "v") == "OK"
        assert server.client().get(k) == b"v"
    finally:
        for p in (proxy, dash):
            if p:
                p.stop()
        server.stop()
        zk.close()
