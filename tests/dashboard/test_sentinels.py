"""Sentinels through the dashboard API, against a real Sentinel (Debian's
redis-server in sentinel mode: `redis-server sentinel.conf --sentinel`, the
same code as redis-sentinel; tests/ha/sentinel_harness.py). Failover
following itself is tested in tests/ha/test_sentinel_failover.py."""

import json
import os
import sys

import pytest

from coordinator_shell import CoordinatorShell
from dashboard_harness import Dashboard, codis_server
from harness import Proxy

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ha"))
from sentinel_harness import Sentinel  # noqa: E402  (shared with tests/ha)

PRODUCT = "codis-sentinel-it"


@pytest.fixture(scope="module")
def env(tmp_path_factory, zookeeper):
    tmp = tmp_path_factory.mktemp("sentinel")
    server = codis_server(tmp).start()
    proxy = Proxy(tmp, None, {"product_name": PRODUCT}).start()
    sentinel = Sentinel(tmp)
    dash = Dashboard(tmp, PRODUCT, zookeeper.addr).start()
    shell = CoordinatorShell("zookeeper", zookeeper.addr)
    try:
        dash.ok("PUT", "/api/topom/group/create/{x}/1")
        dash.ok("PUT", f"/api/topom/group/add/{{x}}/1/{server.addr}")
        dash.ok("PUT", f"/api/topom/proxy/create/{{x}}/{proxy.admin_url[7:]}")
        yield dash, server, proxy, sentinel, shell, tmp
    finally:
        shell.close()
        for p in (dash, sentinel, proxy, server):
            p.stop()


def test_sentinels(env):
    dash, server, proxy, sentinel, shell, tmp = env
    node = lambda: json.loads(shell.read(f"/codis3/{PRODUCT}/sentinel") or "null")  # noqa: E731

    dash.ok("PUT", f"/api/topom/sentinels/add/{{x}}/{sentinel.addr}")
    assert node() == {"servers": [sentinel.addr], "out_of_sync": True}
    assert "already exists" in dash.err("PUT", f"/api/topom/sentinels/add/{{x}}/{sentinel.addr}")
    assert "not reachable" in dash.err("PUT", "/api/topom/sentinels/add/{x}/127.0.0.1:1")
    assert "FLUSHCONFIG" in dash.err("PUT", f"/api/topom/sentinels/add/{{x}}/{server.addr}")  # not a sentinel
    assert dash.ok("GET", "/api/topom/stats/{x}")["sentinels"]["model"]["servers"] == [sentinel.addr]

    dash.ok("PUT", "/api/topom/sentinels/resync-all/{x}")
    assert node() == {"servers": [sentinel.addr], "out_of_sync": False}
    masters = sentinel.masters()
    assert masters[f"{PRODUCT}-1"]["port"] == str(server.port)
    assert masters[f"{PRODUCT}-1"]["quorum"] == "2"
    assert masters[f"{PRODUCT}-1"]["down-after-milliseconds"] == "30000"
    monitored = dash.ok("GET", f"/api/topom/sentinels/info/{sentinel.addr}/monitored")
    assert monitored["masters"][f"{PRODUCT}-1"]["ip"] == "127.0.0.1"
    info = dash.ok("GET", f"/api/topom/sentinels/info/{sentinel.addr}")
    assert info["sentinel_masters"] == "1" and info["tcp_port"] == str(sentinel.port)
    assert dash.ok("GET", f"/api/topom/sentinels/info/{{x}}/{sentinel.addr}")["sentinel_masters"] == "1"

    # promote: the group leaves the sentinels (Codis) until resync-all registers the new master
    replica = codis_server(tmp).start()
    try:
        dash.ok("PUT", f"/api/topom/group/add/{{x}}/1/{replica.addr}")
        assert node()["out_of_sync"] is True
        dash.ok("PUT", "/api/topom/sentinels/resync-all/{x}")
        dash.ok("PUT", f"/api/topom/group/promote/{{x}}/1/{replica.addr}")
        assert f"{PRODUCT}-1" not in sentinel.masters() and node()["out_of_sync"] is True
        dash.ok("PUT", "/api/topom/sentinels/resync-all/{x}")
        assert sentinel.masters()[f"{PRODUCT}-1"]["port"] == str(replica.port)
    finally:
        replica.stop()

    assert "not found" in dash.err("PUT", "/api/topom/sentinels/del/{x}/127.0.0.1:1/0")
    dash.ok("PUT", f"/api/topom/sentinels/del/{{x}}/{sentinel.addr}/0")
    assert node() == {"out_of_sync": True}
    assert f"{PRODUCT}-1" not in sentinel.masters()
