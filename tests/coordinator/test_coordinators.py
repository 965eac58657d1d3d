"""The shared cases of the coordinator, run against each store: ZooKeeper,
etcd and the filesystem (`store`), and the cases that stop or wipe a server
against ZooKeeper and etcd (`server_store`): CRUD in Codis's layout,
update_many, ephemeral nodes, watches, a server restart and a lost session
(etcd: lease) under a connected client."""

import json
import time

from coordinator_shell import CoordinatorError, run_cli
from harness import wait_until  # tests/integration (on the path through zk_harness)

SLOT = {"id": 7, "group_id": 1, "action": {"index": 3, "state": "pending", "target_id": 2}}
# What the client logs when its session (lease) was lost and replaced.
NEW_SESSION_LOG = {"zookeeper": "new session", "etcd": "granting a new one"}


def codis_json(obj):
    return json.dumps(obj, indent=4)  # Codis stores 4-space indented JSON


def test_crud_in_codis_layout(store, shells):
    c = shells(store.name, store.addr)
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
    r = run_cli(store.name, store.addr, "read", "/codis3/crud/group/group-0001")
    assert r.returncode == 0 and r.stdout == "g1"
    r = run_cli(store.name, store.addr, "read", "/codis3/crud/nothing")
    assert r.returncode == 3


def test_update_many(store, shells):
    c = shells(store.name, store.addr)
    paths = [f"/codis3/many/slots/slot-{i:04d}" for i in range(300)]  # over one multi-op / transaction chunk
    for p in paths:
        c.create(p, "old")
    c.update_many(paths, codis_json(SLOT))
    assert all(c.read(p) == codis_json(SLOT) for p in paths)
    # A missing node is created (ZooKeeper: the multi-op fails, then one by one).
    c.update_many(paths[:2] + ["/codis3/many/slots/slot-0999"], "v3")
    assert [c.read(p) for p in paths[:3]] == ["v3", "v3", codis_json(SLOT)]
    assert c.read("/codis3/many/slots/slot-0999") == "v3"
    reply = c.raw("update-many /codis3/many/ok,/codis3/bad/ x")
    assert reply.startswith("ERR invalid coordinator path"), reply


def test_ephemeral_removed_when_client_closes_or_dies(store, shells):
    owner = shells(store.name, store.addr)
    watcher = shells(store.name, store.addr)
    owner.ephemeral("/jodis/eph/proxy-a", '{"addr":"127.0.0.1:19000"}')
    assert watcher.read("/jodis/eph/proxy-a") == '{"addr":"127.0.0.1:19000"}'
    reply = watcher.raw("ephemeral /jodis/eph/proxy-a other")
    assert reply.startswith("ERR") and "exists" in reply
    owner.ephemeral("/jodis/eph/proxy-a", "again")  # its own node: fine
    owner.update("/jodis/eph/proxy-a", "online")
    owner.close()  # session closed (etcd: lease revoked): gone at once
    assert watcher.read("/jodis/eph/proxy-a") is None

    # A client killed with SIGKILL: gone when its session times out (etcd: its
    # lease expires; 2 s), or at once (filesystem: the process is dead).
    dying = shells(store.name, store.addr, timeout_ms=2000)
    dying.ephemeral("/jodis/eph/proxy-b", "b")
    dying.kill()
    if store.server:  # the session (lease) outlives its client for a while
        assert watcher.read("/jodis/eph/proxy-b") == "b"
    wait_until(lambda: watcher.read("/jodis/eph/proxy-b") is None, timeout=10,
               what="ephemeral node of a killed client removed")


def test_watches_rearm_and_stop(store, shells):
    c = shells(store.name, store.addr)
    writer = shells(store.name, store.addr)
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


def test_server_restart_under_connected_client(server_store, shells):
    zk = server_store.server
    c = shells(server_store.name, server_store.addr, timeout_ms=10000)
    other = shells(server_store.name, server_store.addr, timeout_ms=10000)
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
    # The session (lease) survived the restart (or was replaced and the node re-created).
    wait_until(lambda: other.retry(lambda: other.read("/jodis/restart/proxy-x")) == "x",
               what="ephemeral node back after restart")
    c.drain_events()
    other.update("/codis3/restart/slots/slot-0000", "s1")
    c.wait_event(wd)  # watches armed again
    c.update("/codis3/restart/slots/slot-0001", "s1")


def test_lost_session_recreates_ephemerals(server_store, shells):
    """The server forgets everything (data dir wiped): the client's session
    (etcd: lease) is gone on reconnect; it opens a new one, re-creates its
    ephemeral node and re-arms its watches."""
    zk = server_store.server
    c = shells(server_store.name, server_store.addr, timeout_ms=4000)
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
    assert NEW_SESSION_LOG[server_store.name] in c.stderr()
    c.wait_event(wc)
    c.drain_events()
    other = shells(server_store.name, server_store.addr)
    other.create("/jodis/expire/proxy-z", "z")
    c.wait_event(wc)  # the watch works on the new session


def test_remove_if_unchanged(store, shells):
    """What the dashboard takes a dead run's lock with (docs/design.md §4.2): one atomic step."""
    c = shells(store.name, store.addr)
    holder = shells(store.name, store.addr)
    holder.ephemeral("/codis3/rmif/topom", "v1")
    assert c.remove_if("/codis3/rmif/topom", "v0") is False  # other data: kept
    assert c.read("/codis3/rmif/topom") == "v1"
    assert c.remove_if("/codis3/rmif/topom", "v1") is True  # another client's ephemeral node
    assert c.read("/codis3/rmif/topom") is None
    assert c.remove_if("/codis3/rmif/topom", "v1") is False  # absent
    c.create("/codis3/rmif/dir/child", "x")
    reply = c.raw("remove-if /codis3/rmif/dir ")
    assert reply.startswith("ERR") and "children" in reply, reply
