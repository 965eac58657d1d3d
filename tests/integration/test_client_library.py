"""A real client library's typical usage through the proxy: Debian's
python3-redis (redis-py) with pipelines, WATCH transactions, registered
scripts, pub/sub, scan_iter and blocking pops."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from harness import key_in_slot, slot_of, wait_until

pytestmark = pytest.mark.real_proxy


@pytest.fixture
def r(cluster):
    client = redis.Redis(host="127.0.0.1", port=cluster.proxy.port, socket_timeout=10)
    yield client
    client.close()


def test_basic_and_pipeline(r):
    assert r.ping()
    assert r.set("lib:a", 1) and r.incr("lib:a") == 2
    with r.pipeline(transaction=False) as p:
        for i in range(200):
            p.set(f"lib:k{i}", i)
        for i in range(200):
            p.get(f"lib:k{i}")
        out = p.execute()
    assert out[:200] == [True] * 200 and out[200:] == [str(i).encode() for i in range(200)]
    assert r.mget([f"lib:k{i}" for i in range(5)]) == [b"0", b"1", b"2", b"3", b"4"]
    assert r.delete(*[f"lib:k{i}" for i in range(200)]) == 200


def test_transaction_with_watch(r):
    key = "{acct:7}:balance"
    r.set(key, 100)

    def withdraw(pipe):
        balance = int(pipe.get(key))
        pipe.multi()
        pipe.set(key, balance - 30)
        pipe.rpush("{acct:7}:log", "withdraw 30")

    assert r.transaction(withdraw, key) == [True, 1]
    assert r.get(key) == b"70"
    # WATCH conflict: redis-py retries until it wins
    attempts = []

    def racy(pipe):
        attempts.append(1)
        value = int(pipe.get(key))
        if len(attempts) == 1:
            r.incr(key)  # someone else changes it after our WATCH
        pipe.multi()
        pipe.set(key, value * 2)

    r.transaction(racy, key)
    assert len(attempts) == 2 and r.get(key) == b"142"
    # a plain MULTI pipeline
    with r.pipeline() as p:
        p.incr("{acct:7}:n").incr("{acct:7}:n")
        assert p.execute() == [1, 2]


def test_registered_scripts(r):
    add = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    r.script_flush()
    # EVALSHA fails with NOSCRIPT the first time, redis-py loads it and retries
    assert add(keys=[key_in_slot(1, "s")], args=[3]) == 3
    assert add(keys=[key_in_slot(1000, "s")], args=[4]) == 4
    assert r.script_exists(add.sha) == [True]


def test_pubsub(r, cluster):
    p = r.pubsub()
    p.subscribe("news", "alerts")
    p.psubscribe("n*")
    for _ in range(3):
        assert p.get_message(timeout=5)["type"] in ("subscribe", "psubscribe")
    assert r.publish("news", "hello") == 2
    got = [p.get_message(timeout=5) for _ in range(2)]
    assert sorted(m["type"] for m in got) == ["message", "pmessage"]
    assert all(m["data"] == b"hello" for m in got)
    p.unsubscribe()
    p.punsubscribe()
    p.close()


def test_scan_iter(r):
    keys = {f"scan:{i}" for i in range(300)}
    with r.pipeline(transaction=False) as p:
        for k in keys:
            p.set(k, 1)
        p.execute()
    assert {k.decode() for k in r.scan_iter(match="scan:*", count=50)} == keys
    assert r.dbsize() >= 300


def test_blocking_pop(r, cluster):
    """BLPOP blocks until a push: the push is made only once the backend
    reports the client blocked, so the pop cannot have returned early."""
    q = "jobs"
    owner = cluster.g1 if slot_of(q) < 512 else cluster.g2
    got = []
    t = threading.Thread(target=lambda: got.append(r.blpop([q], timeout=10)))
    t.start()
    with owner.conn() as d:
        wait_until(lambda: b"blocked_clients:1" in d.call("INFO", "clients"), 5, what="BLPOP blocked on the backend")
    assert not got
    redis.Redis(host="127.0.0.1", port=cluster.proxy.port).rpush(q, "job1")
    t.join(10)
    assert got == [(q.encode(), b"job1")]
    assert r.brpop([q], timeout=1) is None
