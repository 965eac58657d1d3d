"""The per-slot index stays equal to the keyspace (SCAN + client-side
hashing) under a randomized mixed workload across dbs, on a master and its
replicas, through DEBUG RELOAD, full syncs, SWAPDB, FLUSHDB and eviction."""

import random
import time

import pytest
import redis

from conftest import assert_index_matches, wait_replica

DBS = [0, 1, 2, 3]


def key_pool():
    names = [f"k{i}" for i in range(60)]
    names += [f"{{tag{j}}}:{i}" for j in range(6) for i in range(8)]
    names += [f"s{i}" for i in range(10)] + [f"l{i}" for i in range(10)] + [f"h{i}" for i in range(10)]
    return names


def run_ops(master, rng, n):
    clients = {db: master.client(db) for db in DBS}
    names = key_pool()
    sets = [k for k in names if k.startswith("s")]
    for _ in range(n):
        db = rng.choice(DBS)
        c = clients[db]
        k, k2 = rng.choice(names), rng.choice(names)
        op = rng.random()
        try:
            if op < 0.25:
                if rng.random() < 0.15:
                    c.set(k, "v", px=rng.randint(1, 150))
                elif rng.random() < 0.1:
                    c.set(k, "v", px=100000)
                else:
                    c.set(k, "v" * rng.randint(1, 40))
            elif op < 0.32:
                rng.choice([c.delete, c.unlink, c.getdel])(k)
            elif op < 0.36:
                c.expire(k, 0) if rng.random() < 0.5 else c.pexpire(k, rng.randint(1, 100))
            elif op < 0.41:
                c.rename(k, k2)
            elif op < 0.45:
                c.execute_command("COPY", k, k2, "DB", rng.choice(DBS), "REPLACE")
            elif op < 0.48:
                c.move(k, rng.choice(DBS))
            elif op < 0.52:
                payload = c.dump(k)
                if payload is not None:
                    c.restore(k2, rng.choice([0, 100000]), payload, replace=True)
            elif op < 0.62:
                s = rng.choice(sets)
                c.sadd(s, *[str(rng.randint(0, 5)) for _ in range(rng.randint(1, 3))])
            elif op < 0.67:
                c.spop(rng.choice(sets), rng.randint(1, 4))
            elif op < 0.71:
                dst = rng.choice(sets)
                rng.choice([c.sunionstore, c.sinterstore, c.sdiffstore])(dst, [rng.choice(sets), rng.choice(sets)])
            elif op < 0.78:
                lk = f"l{rng.randint(0, 9)}"
                if rng.random() < 0.5:
                    c.rpush(lk, "a", "b")
                else:
                    c.lpop(lk, 2)
            elif op < 0.85:
                hk = f"h{rng.randint(0, 9)}"
                if rng.random() < 0.5:
                    c.hset(hk, mapping={"f1": 1, "f2": 2})
                else:
                    c.hdel(hk, "f1", "f2")
            elif op < 0.88:
                c.execute_command("ZUNIONSTORE", f"z{rng.randint(0, 3)}", 2, k, k2)
            elif op < 0.89:
                c.swapdb(rng.choice(DBS), rng.choice(DBS))
            elif op < 0.895:
                c.flushdb()
            elif op < 0.897:
                c.flushall()
            else:
                c.incr(f"n{rng.randint(0, 20)}")
        except redis.ResponseError:
            pass  # WRONGTYPE, no such key for RENAME, ...


def checkpoint(master, replicas, where):
    time.sleep(0.2)  # every short TTL of the workload has passed
    for db in DBS:
        list(master.client(db).scan_iter(count=1000))  # the master deletes expired keys it meets
    for r in replicas:
        wait_replica(master.client(), len(replicas))
    n = assert_index_matches(master, DBS, f"master {where}")
    for r in replicas:
        assert_index_matches(r, DBS, f"replica {r.port} {where}")
    return n


@pytest.mark.timeout(120)
def test_randomized_workload_master_and_replicas(make_redis):
    rng = random.Random(20240611)
    master = make_redis()
    r1 = make_redis()
    r1.make_replica_of(master)
    replicas = [r1]
    total = 0
    for step in range(8):
        run_ops(master, rng, 700)
        total += checkpoint(master, replicas, f"step {step}")
        if step == 1:
            master.client().execute_command("DEBUG", "RELOAD")
            checkpoint(master, replicas, "after DEBUG RELOAD")
        if step == 3:
            # A new replica loads everything with a full sync.
            r2 = make_redis()
            r2.make_replica_of(master)
            replicas.append(r2)
            checkpoint(master, replicas, "after new replica")
        if step == 5:
            # An existing replica with divergent data goes through a full sync
            # (flush + load).
            c1 = r1.client()
            c1.replicaof("no", "one")
            c1.mset({f"junk{i}": i for i in range(50)})
            r1.make_replica_of(master)
            checkpoint(master, replicas, "after replica resync")
    assert total > 100  # the workload really kept keys around


def test_eviction_keeps_index(make_redis):
    s = make_redis(args=["--maxmemory-policy", "allkeys-random"])
    c = s.client()
    used = c.info("memory")["used_memory"]
    c.config_set("maxmemory", used + 2_000_000)
    pipe = c.pipeline(transaction=False)
    for i in range(40000):
        pipe.set(f"evict:{i}", "x" * 100)
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    assert c.info("stats")["evicted_keys"] > 0
    c.config_set("maxmemory", 0)
    assert_index_matches(s, [0])
    assert c.execute_command("SLOTSCHECK") == b"OK"


def test_swapdb_and_flush(make_redis):
    s = make_redis()
    a, b = s.client(0), s.client(9)
    a.mset({f"a{i}": i for i in range(30)})
    b.mset({f"b{i}": i for i in range(10)})
    a.swapdb(0, 9)
    assert_index_matches(s, [0, 9])
    assert sum(n for _, n in a.execute_command("SLOTSINFO")) == 10
    a.flushdb()
    assert a.execute_command("SLOTSINFO") == []
    assert sum(n for _, n in b.execute_command("SLOTSINFO")) == 30
    a.flushall()
    assert b.execute_command("SLOTSINFO") == []
    a.execute_command("FLUSHALL", "ASYNC")
    assert_index_matches(s, [0, 9])
