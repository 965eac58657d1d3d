"""The ZooKeeper coordinator against real ZooKeeper servers: CRUD in Codis's
layout, ephemeral nodes, watches, a server restart and a lost session under
a connected client, and a 3-node ensemble losing its leader."""

import json
import time

import pytest

from coordinator_shell import CoordinatorError, run_cli, zk_owner
from tcp_relay import TcpRelay
from zk_harness import ZooKeeperServer, ZooKeeperUnavailable

SLOT = {"id": 7, "group_id": 1, "action": {"index": 3, "state": "pending", "target_id": 2}}


def codis_json(obj):
    return json.dumps(obj, indent=4)  # Codis stores 4-space indented JSON


def wait_until(fn, timeout=15, pause=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return
        time.sleep(pause)
    raise AssertionError(f"{what} not reached within {timeout}s")


def test_crud_in_codis_layout(zookeeper, shells):
    c = shells("zookeeper", zookeeper.addr)
    body = codis_json(SLOT)
    c.create("/codis3/crud/slots/slot-0007", body)  # parents created
    assert c.read("/codis3/crud/slots/slot-0007") == body  # byte for byte, newlines included
    assert c.list("/codis3/crud") == ["slots"]
    assert c.read("/codis3/crud") == ""  # a directory node has empty data, as Codis's mkdir
    assert c.read("/codis3/crud/slots/slot-0008") is None
    assert c.list("/codis3/crud/nothing") == []

    reply = c.raw("create /codis3/crud/slots/slot-0007 x")
    assert reply.startswith("ERR") and "/codis3/crud/slots/slot-0007" in reply and "exists" in reply

    c.update("/codis3/crud/slots/slot-0007", "v2")
    assert c.read("/codis3/crud/slots/slot-0007") == "v2"
    c.update("/codis3/crud/group/group-0001", "g1")  # update creates
    assert c.list("/codis3/crud") == ["group", "slots"]

    reply = c.raw("remove /codis3/crud/slots")
    assert reply.startswith("ERR") and "children" in reply
    c.remove("/codis3/crud/slots/slot-0007")
    c.remove("/codis3/crud/slots/slot-0007")  # absent: still ok
    assert c.list("/codis3/crud/slots") == []

    for bad in ("codis3/x", "/codis3/x/", "/codis3//x", "/codis3/../x", "/codis3/.hidden"):
        reply = c.raw(f"create {bad} x")
        assert reply.startswith("ERR invalid coordinator path"), (bad, reply)

    # A second client (and the one-shot CLI) sees the same bytes.
    r = run_cli("zookeeper", zookeeper.addr, "read", "/codis3/crud/group/group-0001")
    assert r.returncode == 0 and r.stdout == "g1"
    r = run_cli("zookeeper", zookeeper.addr, "read", "/codis3/crud/nothing")
    assert r.returncode == 3


def test_update_many(zookeeper, shells):
    c = shells("zookeeper", zookeeper.addr)
    paths = [f"/codis3/many/slots/slot-{i:04d}" for i in range(300)]  # over one multi-op chunk
    for p in paths:
        c.create(p, "old")
    c.update_many(paths, codis_json(SLOT))
    assert all(c.read(p) == codis_json(SLOT) for p in paths)
    # A missing node makes the multi-op fail: written one by one, the missing one created.
    c.update_many(paths[:2] + ["/codis3/many/slots/slot-0999"], "v3")
    assert [c.read(p) for p in paths[:3]] == ["v3", "v3", codis_json(SLOT)]
    assert c.read("/codis3/many/slots/slot-0999") == "v3"
    reply = c.raw("update-many /codis3/many/ok,/codis3/bad/ x")
    assert reply.startswith("ERR invalid coordinator path"), reply


# Digest ACLs (coordinator_auth) are in test_zookeeper_acl.py: with auth, /codis3
# itself gets the digest ACL, so they need servers of their own.


def test_ephemeral_removed_when_client_closes_or_dies(zookeeper, shells):
    owner = shells("zookeeper", zookeeper.addr)
    watcher = shells("zookeeper", zookeeper.addr)
    owner.ephemeral("/jodis/eph/proxy-a", '{"addr":"127.0.0.1:19000"}')
    assert watcher.read("/jodis/eph/proxy-a") == '{"addr":"127.0.0.1:19000"}'
    reply = watcher.raw("ephemeral /jodis/eph/proxy-a other")
    assert reply.startswith("ERR") and "exists" in reply
    owner.ephemeral("/jodis/eph/proxy-a", "again")  # its own node: fine
    owner.update("/jodis/eph/proxy-a", "online")
    owner.close()  # session closed: gone at once
    assert watcher.read("/jodis/eph/proxy-a") is None

    # A client killed with SIGKILL: gone when its session times out (2 s).
    dying = shells("zookeeper", zookeeper.addr, timeout_ms=2000)
    dying.ephemeral("/jodis/eph/proxy-b", "b")
    dying.kill()
    assert watcher.read("/jodis/eph/proxy-b") == "b"
    wait_until(lambda: watcher.read("/jodis/eph/proxy-b") is None, timeout=10,
               what="ephemeral node of a killed client removed")


def test_watches_rearm_and_stop(zookeeper, shells):
    c = shells("zookeeper", zookeeper.addr)
    writer = shells("zookeeper", zookeeper.addr)
    wc = c.watch_children("/codis3/watch/proxy")  # the directory does not exist yet
    wd = c.watch_data("/codis3/watch/topom")
    time.sleep(0.2)
    c.drain_events()

    writer.create("/codis3/watch/proxy/proxy-1", "p1")
    c.wait_event(wc)
    writer.create("/codis3/watch/proxy/proxy-2", "p2")  # re-armed after the first fire
    c.wait_event(wc)
    writer.remove("/codis3/watch/proxy/proxy-1")
    c.wait_event(wc)

    writer.create("/codis3/watch/topom", "t1")
    c.wait_event(wd)
    writer.update("/codis3/watch/topom", "t2")
    c.wait_event(wd)
    writer.remove("/codis3/watch/topom")
    c.wait_event(wd)

    c.unwatch(wd)
    c.drain_events()
    writer.create("/codis3/watch/topom", "t3")
    writer.create("/codis3/watch/proxy/proxy-3", "p3")
    c.wait_event(wc)
    time.sleep(0.5)
    assert wd not in c.drain_events()


def test_server_restart_under_connected_client(zk_factory, shells):
    zk = zk_factory()
    c = shells("zookeeper", zk.addr, timeout_ms=10000)
    other = shells("zookeeper", zk.addr, timeout_ms=10000)
    c.create("/codis3/restart/slots/slot-0000", "s0")
    c.ephemeral("/jodis/restart/proxy-x", "x")
    wd = c.watch_data("/codis3/restart/slots/slot-0000")

    zk.stop()
    t0 = time.monotonic()
    reply = c.raw("read /codis3/restart/slots/slot-0000", timeout=20)
    assert reply.startswith("ERR") and "not connected" in reply, reply  # an error, not a hang
    assert time.monotonic() - t0 < 15
    zk.start()

    assert c.retry(lambda: c.read("/codis3/restart/slots/slot-0000")) == "s0"
    c.wait_event(wd, timeout=15)  # told about the reconnect
    # The session survived the restart (or was replaced and the node re-created).
    wait_until(lambda: other.retry(lambda: other.read("/jodis/restart/proxy-x")) == "x",
               what="ephemeral node back after restart")
    c.drain_events()
    other.update("/codis3/restart/slots/slot-0000", "s1")
    c.wait_event(wd)  # watches armed again
    c.update("/codis3/restart/slots/slot-0001", "s1")


def test_lost_session_recreates_ephemerals(zk_factory, shells):
    """The server forgets everything (data dir wiped): the client's session is
    expired on reconnect; it opens a new one, re-creates its ephemeral node and
    re-arms its watches."""
    zk = zk_factory()
    c = shells("zookeeper", zk.addr, timeout_ms=4000)
    c.create("/codis3/expire/topom", "persistent")
    c.ephemeral("/jodis/expire/proxy-y", "y")
    wc = c.watch_children("/jodis/expire")
    zk.stop()
    zk.wipe_data()
    zk.start()

    def ephemeral_back():
        try:
            return c.read("/jodis/expire/proxy-y") == "y"
        except CoordinatorError:
            return False

    wait_until(ephemeral_back, timeout=30, what="ephemeral re-created on a new session")
    assert c.read("/codis3/expire/topom") is None  # the wiped server lost it, as expected
    assert "new session" in c.stderr()
    c.wait_event(wc)
    c.drain_events()
    other = shells("zookeeper", zk.addr)
    other.create("/jodis/expire/proxy-z", "z")
    c.wait_event(wc)  # the watch works on the new session


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


def test_remove_if_unchanged(zookeeper, shells):
    c = shells("zookeeper", zookeeper.addr)
    holder = shells("zookeeper", zookeeper.addr)
    holder.ephemeral("/codis3/rmif/topom", "v1")
    assert c.remove_if("/codis3/rmif/topom", "v0") is False  # other data: kept
    assert c.read("/codis3/rmif/topom") == "v1"
    assert c.remove_if("/codis3/rmif/topom", "v1") is True  # another session's ephemeral node
    assert c.read("/codis3/rmif/topom") is None
    assert c.remove_if("/codis3/rmif/topom", "v1") is False  # absent
    c.create("/codis3/rmif/dir/child", "x")
    reply = c.raw("remove-if /codis3/rmif/dir ")
    assert reply.startswith("ERR") and "children" in reply, reply


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
