"""Read-from-replica: a pushed slot with replica_groups sends read-only
commands to a replica and everything else to the master."""

from __future__ import annotations

import time

import pytest

from harness import Status, key_in_slot, two_group_slots

pytestmark = pytest.mark.real_proxy


def _calls(server, name: str) -> int:
    with server.conn() as c:
        info = c.call("INFO", "commandstats").decode()
    for line in info.splitlines():
        if line.startswith(f"cmdstat_{name}:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


def test_reads_go_to_replica_writes_to_master(make_redis, make_proxy):
    master, other = make_redis(extra=("--repl-diskless-sync-delay", "0")), make_redis()
    replica = make_redis(extra=("--replicaof", "127.0.0.1", str(master.port)))
    slots = two_group_slots(master.addr, other.addr)
    for s in slots:
        if s["backend_addr"] == master.addr:
            s["replica_groups"] = [[replica.addr]]
    proxy = make_proxy(slots)
    key = key_in_slot(100, "rr")  # group 1, which has the replica
    with proxy.conn() as c:
        assert c.call("SET", key, "v") == Status("OK")
        deadline = time.monotonic() + 10
        with replica.conn() as r:
            while r.call("GET", key) != b"v":
                assert time.monotonic() < deadline, "replica never caught up"
                time.sleep(0.05)
        gets_before = _calls(replica, "get")
        for _ in range(5):
            assert c.call("GET", key) == b"v"
        assert _calls(replica, "get") == gets_before + 5
        assert _calls(master, "set") == 1           # the write went to the master (a replica would refuse it)
        assert _calls(master, "get") == 0           # reads never reached the master
        counter = key_in_slot(101, "w")             # also group 1
        assert c.call("INCR", counter) == 1         # a write still works (on the master)
    with master.conn() as m:
        assert m.call("GET", counter) == b"1"


def test_replica_reads_off_when_primary_only(make_redis, make_proxy):
    master, other = make_redis(extra=("--repl-diskless-sync-delay", "0")), make_redis()
    replica = make_redis(extra=("--replicaof", "127.0.0.1", str(master.port)))
    slots = two_group_slots(master.addr, other.addr)
    for s in slots:
        if s["backend_addr"] == master.addr:
            s["replica_groups"] = [[replica.addr]]
    proxy = make_proxy(slots, config={"backend_primary_only": True})
    key = key_in_slot(100, "rr")
    with proxy.conn() as c:
        assert c.call("SET", key, "v") == Status("OK")
        assert c.call("GET", key) == b"v"
    assert _calls(replica, "get") == 0
