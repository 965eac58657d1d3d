"""Many concurrent clients: replies never cross sessions, counts add up."""

from __future__ import annotations

import threading

import pytest

from harness import Status, encode, keys_in_slots

pytestmark = pytest.mark.real_proxy


@pytest.mark.timeout(120)
def test_concurrent_pipelined_clients(cluster):
    nthreads, rounds, batch = 16, 20, 50
    counters = keys_in_slots(0, 1023, 8, "ctr")
    errors = []

    def worker(t):
        try:
            with cluster.proxy.conn(timeout=30) as c:
                for r in range(rounds):
                    cmds, expect = [], []
                    for j in range(batch):
                        k = f"own:{t}:{j}"
                        v = f"{t}-{r}-{j}"
                        cmds += [encode("SET", k, v), encode("GET", k),
                                 encode("INCR", counters[(t + j) % len(counters)]),
                                 encode("MGET", k, counters[0], f"own:{t}:{(j + 1) % batch}")]
                        expect += [Status("OK"), v.encode(), None, "mget"]
                    c.send_raw(b"".join(cmds))
                    for idx, e in enumerate(expect):
                        got = c.read_reply()
                        if e is None:
                            ok = isinstance(got, int)
                        elif e == "mget":
                            ok = isinstance(got, list) and len(got) == 3 and got[0] == expect[idx - 2]
                        else:
                            ok = got == e
                        if not ok:
                            errors.append(f"thread {t} round {r} #{idx}: got {got!r} want {e!r}")
                            return
        except Exception as ex:  # noqa: BLE001
            errors.append(f"thread {t}: {ex!r}")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(nthreads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(100)
    assert not errors, errors[:5]
    total = 0
    for k in counters:
        own = cluster.backend_for(k)
        with own.conn() as c:
            total += int(c.call("GET", k) or 0)
    assert total == nthreads * rounds * batch


@pytest.mark.timeout(60)
def test_many_connections(cluster):
    conns = [cluster.proxy.conn() for _ in range(200)]
    try:
        for i, c in enumerate(conns):
            c.send("SET", f"mc:{i}", i)
        for c in conns:
            assert c.read_reply() == Status("OK")
        for i, c in enumerate(conns):
            c.send("GET", f"mc:{(i + 1) % len(conns)}")
        for i, c in enumerate(conns):
            assert c.read_reply() == str((i + 1) % len(conns)).encode()
    finally:
        for c in conns:
            c.close()
