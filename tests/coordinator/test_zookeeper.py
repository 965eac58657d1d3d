"""The ZooKeeper coordinator against real ZooKeeper servers, what only
ZooKeeper has: a 3-node ensemble losing its leader, the harness's errors.
The cases shared by every store are in test_coordinators.py; digest ACLs
(coordinator_auth) in test_zookeeper_acl.py."""

import time

import pytest

from coordinator_shell import CoordinatorError, run_cli, zk_owner
from tcp_relay import TcpRelay
from zk_harness import ZooKeeperServer, ZooKeeperUnavailable
from harness import wait_until  # tests/integration (on the path through zk_harness)


def test_outage_past_session_timeout_recreates_ephemerals(zk_factory, shells):
    """ZooKeeper stopped for longer than the session timeout, then started
    again with its data (issue 15). The client gives its session up and starts
    a new one; the restarted server brings the old session back until it
    expires there, still holding our node. The client replaces that node on
    its new session (it was gone for good before: "taken by another session;
    not re-created"), and says so in health()."""
    zk = zk_factory(tick_ms=150)  # the server caps session timeouts at 20 ticks: 3 s
    c = shells("zookeeper", zk.addr, timeout_ms=3000)
    c.ephemeral("/jodis/outage/proxy-a", "a")
    c.create("/codis3/outage/proxy/proxy-a", "registration")
    before = zk_owner(zk.addr, "/jodis/outage/proxy-a")
    assert before not in (None, "0x0")
    assert c.health() == {"session_losses": 0, "recreated": 0, "pending": 0}
    zk.stop()
    wait_until(lambda: "over the session timeout" in c.stderr(), 20, what="the client gives its session up")
    zk.start()

    def owner():
        try:
            return zk_owner(zk.addr, "/jodis/outage/proxy-a")
        except CoordinatorError:
            return None
    wait_until(lambda: owner() not in (None, before), 20, what="the node held by the client's new session")
    assert c.retry(lambda: c.read("/jodis/outage/proxy-a")) == "a"
    assert c.read("/codis3/outage/proxy/proxy-a") == "registration"  # persistent: kept by the server
    h = c.health()  # a loaded machine may lose a 3 s session once more: at least one
    assert h["session_losses"] >= 1 and h["recreated"] >= 1 and h["pending"] == 0, h
    assert "still held by our lost session" in c.stderr() and "re-created" in c.stderr()


def test_node_taken_meanwhile_is_left_alone(zk_factory, shells):
    """The client is cut off (ZooKeeper keeps running) until the server
    expires its session. Another client creating the node meanwhile with our
    data (a run of ours) is waited for, with retries, until it goes; one with
    other data took the node for good: left alone, and logged."""
    zk = zk_factory(tick_ms=150)
    relay = TcpRelay(zk.port)
    try:
        c = shells("zookeeper", relay.addr, timeout_ms=3000)
        other = shells("zookeeper", zk.addr, timeout_ms=3000)
        c.ephemeral("/jodis/taken/proxy-same", "same")
        c.ephemeral("/jodis/taken/proxy-other", "mine")
        relay.cut()
        wait_until(lambda: other.read("/jodis/taken/proxy-same") is None, 20, what="the server expires the session")
        other.ephemeral("/jodis/taken/proxy-same", "same")
        other.ephemeral("/jodis/taken/proxy-other", "theirs")
        relay.restore()
        wait_until(lambda: "taken by another client" in c.stderr(), 30, what="the client finds the taken node")
        wait_until(lambda: "cannot re-create ephemeral node /jodis/taken/proxy-same yet" in c.stderr(), 10,
                   what="the client retrying the node held with its data")
        h = c.health()
        assert h["session_losses"] >= 1 and h["recreated"] == 0 and h["pending"] == 1, h
        other.close()  # its nodes go: ours comes back at a retry, the other one is not ours any more
        wait_until(lambda: c.health()["pending"] == 0, 20, what="the node re-created once free")
        assert c.health()["recreated"] >= 1
        assert c.read("/jodis/taken/proxy-same") == "same"
        assert c.read("/jodis/taken/proxy-other") is None
    finally:
        relay.close()


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
