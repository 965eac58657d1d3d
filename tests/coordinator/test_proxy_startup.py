"""codis-proxy with a coordinator: it registers itself, loads the groups and
slots stored there (Codis 3.2 layout) and serves at once, with no dashboard
running; a slot stored mid-migration is routed as docs/design.md §7.1 says."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))

from harness import Proxy, RedisServer, Status, key_in_slot  # noqa: E402

PRODUCT = "codis-it"


def _cli():
    build = Path(os.environ.get("CODIS_BUILD_DIR", HERE.parent.parent / "build"))
    return build / "tests" / "coordinator" / "coordinator_cli"


def _write(kind, addr, path, value):
    r = subprocess.run([str(_cli()), "--coordinator", kind, "--addr", addr, "update", path, json.dumps(value)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def _read(kind, addr, path):
    r = subprocess.run([str(_cli()), "--coordinator", kind, "--addr", addr, "read", path],
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout


def _list(kind, addr, path):
    r = subprocess.run([str(_cli()), "--coordinator", kind, "--addr", addr, "list", path],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def _store_cluster(kind, addr, g1, g2):
    """Groups 1 and 2; slots 0 and 1023 assigned, slot 600 (group 2) "preparing"
    a move to group 1; every other slot has no node (offline)."""
    base = f"/codis3/{PRODUCT}"
    for gid, server in ((1, g1), (2, g2)):
        _write(kind, addr, f"{base}/group/group-{gid:04d}",
               {"id": gid, "servers": [{"server": server.addr, "datacenter": "", "action": {},
                                        "replica_group": False}], "promoting": {}, "out_of_sync": False})
    _write(kind, addr, f"{base}/slots/slot-0000", {"id": 0, "group_id": 1, "action": {}})
    _write(kind, addr, f"{base}/slots/slot-1023", {"id": 1023, "group_id": 2, "action": {}})
    _write(kind, addr, f"{base}/slots/slot-0600",
           {"id": 600, "group_id": 2, "action": {"index": 1, "state": "preparing", "target_id": 1}})


@pytest.fixture
def servers(tmp_path):
    made = [RedisServer(tmp_path).start(), RedisServer(tmp_path).start()]
    yield made
    for s in made:
        s.stop()


@pytest.mark.parametrize("kind", ["zookeeper", "etcd", "filesystem"])
def test_proxy_serves_routing_from_coordinator(kind, request, tmp_path, servers):
    g1, g2 = servers
    if kind == "filesystem":
        addr = str(tmp_path / "coord")
    else:
        addr = request.getfixturevalue(kind).addr
    flag = [f"--{kind}", addr]
    _store_cluster(kind, addr, g1, g2)
    proxy = Proxy(tmp_path, None, {"product_name": PRODUCT}, extra_args=flag).start()
    try:
        k1, k2 = key_in_slot(0, "c"), key_in_slot(1023, "c")
        with proxy.conn() as c:
            assert c.call("SET", k1, "one") == Status("OK")
            assert c.call("SET", k2, "two") == Status("OK")
            r = c.call("SET", key_in_slot(5, "c"), "x")   # no mapping stored: offline
            assert "not served" in r.message
        with g1.conn() as d:
            assert d.call("GET", k1) == b"one"
        with g2.conn() as d:
            assert d.call("GET", k2) == b"two"
        # registered: a proxy node and an ephemeral jodis node, named by its token
        token = json.loads(proxy.get("/proxy/model").body)["token"]
        assert _list(kind, addr, f"/codis3/{PRODUCT}/proxy") == [f"proxy-{token}"]
        assert _list(kind, addr, f"/jodis/{PRODUCT}") == [f"proxy-{token}"]
        rc, body = _read(kind, addr, f"/codis3/{PRODUCT}/proxy/proxy-{token}")
        assert rc == 0 and json.loads(body)["proxy_addr"] == proxy.addr
        # slot 600 stored as "preparing": held (locked, routed to the target) until the next push
        s600 = json.loads(proxy.get("/proxy/slots").body)[600]
        assert s600.get("locked") is True
        assert s600["backend_addr"] == g1.addr and s600["migrate_from"] == g2.addr
    finally:
        proxy.stop()
    assert _list(kind, addr, f"/jodis/{PRODUCT}") == []      # ephemeral: gone with the proxy
    # a clean stop (SIGTERM) also removes the proxy node, so no dashboard waits for it
    assert _list(kind, addr, f"/codis3/{PRODUCT}/proxy") == []


def test_proxy_registration_survives_etcd_restart_and_lost_lease(etcd_factory, tmp_path, servers):
    """The proxy's jodis node (bound to its lease) is there again after etcd
    restarts, and after the lease is lost (revoked, as an expiry would)."""
    g1, g2 = servers
    etcd = etcd_factory()
    _store_cluster("etcd", etcd.addr, g1, g2)
    proxy = Proxy(tmp_path, None, {"product_name": PRODUCT}, extra_args=["--etcd", etcd.addr]).start()
    try:
        token = json.loads(proxy.get("/proxy/model").body)["token"]
        jodis = f"/jodis/{PRODUCT}/proxy-{token}"
        assert json.loads(etcd.get(jodis))["addr"] == proxy.addr

        etcd.restart()
        assert json.loads(etcd.get(jodis))["addr"] == proxy.addr

        old = etcd.lease_of(jodis)
        etcd.revoke(old)
        deadline = time.monotonic() + 15
        while etcd.lease_of(jodis) in (None, old) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert etcd.lease_of(jodis) not in (None, old), "jodis node not re-created on a new lease"
        assert json.loads(etcd.get(jodis))["token"] == token
        with proxy.conn() as c:  # and it still serves
            assert c.call("SET", key_in_slot(0, "c"), "v") == Status("OK")
    finally:
        proxy.stop()
    assert etcd.get(jodis) is None


def test_jodis_registration_on_etcd(etcd_factory, tmp_path, servers):
    """jodis_name = "etcd": the proxy keeps its topology in the coordinator it
    was started with (a directory here) and registers its jodis node, bound
    to a lease, in etcd."""
    g1, g2 = servers
    etcd = etcd_factory()
    coord = str(tmp_path / "coord")
    _store_cluster("filesystem", coord, g1, g2)
    proxy = Proxy(tmp_path, None, {"product_name": PRODUCT, "jodis_name": "etcd", "jodis_addr": etcd.addr},
                  extra_args=["--filesystem", coord]).start()
    try:
        token = json.loads(proxy.get("/proxy/model").body)["token"]
        jodis = f"/jodis/{PRODUCT}/proxy-{token}"
        assert json.loads(etcd.get(jodis))["addr"] == proxy.addr
        assert etcd.lease_of(jodis) not in (None, "0")
        assert _list("filesystem", coord, f"/jodis/{PRODUCT}") == []  # not in the topology's store
    finally:
        proxy.stop()
    assert etcd.get(jodis) is None
