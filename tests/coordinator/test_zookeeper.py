"""The ZooKeeper coordinator against real ZooKeeper servers, what only
ZooKeeper has: a 3-node ensemble losing its leader, the harness's errors.
The cases shared by every store are in test_coordinators.py; digest ACLs
(coordinator_auth) in test_zookeeper_acl.py."""

import time

import pytest

from coordinator_shell import run_cli
from zk_harness import ZooKeeperServer, ZooKeeperUnavailable


def test_ensemble_leader_restart(zk_factory, shells):
    ens = zk_factory(ensemble=3)
    ens.wait_quorum()
    c = shells("zookeeper", ens.addr, timeout_ms=10000)
    c.create("/codis3/ens/topom", "t")
    c.ephemeral("/jodis/ens/proxy-e", "e")
    wd = c.watch_data("/codis3/ens/topom")

    leader = ens.leader()
    ens.servers[leader].stop()
    # The two others elect a new leader; the client keeps working.
    c.retry(lambda: c.update("/codis3/ens/topom", "t2"), timeout=30)
    assert c.read("/codis3/ens/topom") == "t2"
    c.wait_event(wd)
    ens.servers[leader].start()
    ens.wait_quorum()
    assert c.retry(lambda: c.read("/jodis/ens/proxy-e")) == "e"  # same session throughout
    r = run_cli("zookeeper", ens.servers[leader].addr, "read", "/codis3/ens/topom")
    assert r.returncode == 0 and r.stdout == "t2", r.stderr


def test_unreachable_zookeeper_fails_fast():
    r = run_cli("zookeeper", "127.0.0.1:1", "read", "/x", extra=("--timeout", "1500"), timeout=20)
    assert r.returncode == 1
    assert "no session within 1500 ms" in r.stderr and "127.0.0.1:1" in r.stderr


def test_harness_reports_missing_java(tmp_path):
    t0 = time.monotonic()
    with pytest.raises(ZooKeeperUnavailable, match="java"):
        ZooKeeperServer(str(tmp_path), java=str(tmp_path / "no-java")).start(timeout=5)
    assert time.monotonic() - t0 < 5
