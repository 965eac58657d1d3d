"""The ZooKeeper coordinator against real ZooKeeper servers: CRUD in Codis's
layout, ephemeral nodes, watches, a server restart and a lost session under
a connected client, and a 3-node ensemble losing its leader."""

import json
import time

import pytest

from coordinator_shell import CoordinatorError, run_cli
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
