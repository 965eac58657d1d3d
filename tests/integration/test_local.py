"""Proxy-local commands, SELECT, and stock Redis tools through the proxy."""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from harness import (REDIS_BENCHMARK, REDIS_CLI, ConnClosed, Err, Status, _set_pdeathsig,
                     encode, key_in_slots, keys_in_slots)

pytestmark = pytest.mark.real_proxy

A = key_in_slots(0, 511, "loc")
B = key_in_slots(512, 1023, "loc")


def test_ping_echo_time_readonly(cluster):
    with cluster.proxy.conn() as pc:
        assert pc.call("PING") == Status("PONG")
        assert pc.call("ping", "hello") == b"hello"
        assert pc.call("ECHO", "e\r\n\x00") == b"e\r\n\x00"
        assert pc.call("ECHO") == Err("ERR wrong number of arguments for 'echo' command")
        t = pc.call("TIME")
        assert isinstance(t, list) and len(t) == 2, t
        assert abs(int(t[0]) - time.time()) < 5 and 0 <= int(t[1]) < 1_000_000
        assert pc.call("READONLY") == Status("OK")
        assert pc.call("READWRITE") == Status("OK")
        assert pc.call("PING") == Status("PONG")


def test_command_count_and_info(cluster):
    with cluster.proxy.conn() as pc:
        n = pc.call("COMMAND", "COUNT")
        assert isinstance(n, int) and n > 50, n
        info = pc.call("COMMAND", "INFO", "get", "mset")
        assert isinstance(info, list) and len(info) == 2, info
        assert info[0][0] == b"get" and info[0][1] == 2, info[0]
        assert info[1][0] == b"mset" and info[1][1] == -3, info[1]
        assert pc.call("PING") == Status("PONG")


def test_info_has_proxy_section_and_merged_keyspace(cluster):
    with cluster.proxy.conn() as pc:
        keys = keys_in_slots(0, 1023, 30, "info")
        for k in keys:
            pc.call("SET", k, "v")
        info = pc.call("INFO")
        assert isinstance(info, bytes), info
        text = info.decode()
        assert "# Keyspace" in text, text[:500]
        m = re.search(r"^db0:keys=(\d+)", text, re.M)
        assert m and int(m.group(1)) == 30, f"merged keyspace should count 30 keys: {text[-400:]}"
        assert pc.call("SELECT", 3) == Status("OK")
        for k in keys[:5]:
            pc.call("SET", k, "v")
        text = pc.call("INFO").decode()
        m3 = re.search(r"^db3:keys=(\d+)", text, re.M)
        assert m3 and int(m3.group(1)) == 5, f"merged keyspace should count 5 keys in db3: {text[-400:]}"
        assert pc.call("PING") == Status("PONG")


def test_hello(cluster):
    with cluster.proxy.conn() as pc:
        r = pc.call("HELLO", 2)
        assert isinstance(r, list) and len(r) % 2 == 0, r
        d = dict(zip(r[0::2], r[1::2]))
        assert d.get(b"proto") == 2, d
        r3 = pc.call("HELLO", 3)
        assert isinstance(r3, Err) and r3.message.startswith("NOPROTO"), r3
        assert pc.call("PING") == Status("PONG")   # still RESP2


def test_slotsmapping(cluster):
    with cluster.proxy.conn() as pc:
        allm = pc.call("SLOTSMAPPING")
        assert isinstance(allm, list) and len(allm) == 1024, allm[:3] if isinstance(allm, list) else allm

        def flat(x):
            if isinstance(x, list):
                for y in x:
                    yield from flat(y)
            elif isinstance(x, bytes):
                yield x.decode()
            else:   # Codis answers with status strings; accept bulk too
                yield str(x)
        for slot, owner in ((0, cluster.g1), (511, cluster.g1), (512, cluster.g2), (1023, cluster.g2)):
            entry = list(flat(allm[slot]))
            assert int(entry[0]) == slot, entry
            assert owner.addr in entry, (slot, entry)
            one = list(flat(pc.call("SLOTSMAPPING", slot)))
            assert owner.addr in one, (slot, one)


def test_quit(cluster):
    with cluster.proxy.conn() as pc:
        assert pc.call("QUIT") == Status("OK")
        assert pc.wait_closed(3), "proxy did not close the connection after QUIT"
    # pipelined: replies before QUIT are delivered, nothing after it runs
    a = key_in_slots(512, 1023, "quit")
    with cluster.proxy.conn() as pc:
        pc.send_raw(b"".join(encode(*c) for c in [("SET", a, "1"), ("GET", a), ("QUIT",), ("SET", a, "2")]))
        assert [pc.read_reply() for _ in range(3)] == [Status("OK"), b"1", Status("OK")]
        assert pc.wait_closed(3)
        assert pc.pending_bytes() == b""
    with cluster.backend_for(a).conn() as c:
        assert c.call("GET", a) == b"1"


def test_select_routes_to_backend_db(cluster):
    with cluster.proxy.conn() as pc:
        assert pc.call("SELECT", 3) == Status("OK")
        assert pc.call("MSET", A, "in3", B, "in3") == Status("OK")
        assert pc.call("SELECT", 16) == Err("ERR DB index is out of range")
        r = pc.call("SELECT", "abc")
        assert isinstance(r, Err) and r.message.startswith("ERR"), r
        assert pc.call("SELECT", -1) == Err("ERR DB index is out of range")
        assert pc.call("GET", A) == b"in3"          # still db 3 after the errors
        assert pc.call("SELECT", 15) == Status("OK")
        assert pc.call("GET", A) is None
        assert pc.call("SET", A, "in15") == Status("OK")
        assert pc.call("SELECT", 0) == Status("OK")
        assert pc.call("MGET", A, B) == [None, None]
    for key, own in ((A, cluster.g1), (B, cluster.g2)):
        with own.conn(3) as c:
            assert c.call("GET", key) == b"in3"
        with own.conn(0) as c:
            assert c.call("EXISTS", key) == 0
    with cluster.g1.conn(15) as c:
        assert c.call("GET", A) == b"in15"
    # a second connection starts in db 0 whatever the first one selected
    with cluster.proxy.conn() as p2:
        assert p2.call("GET", A) is None
    for g in (cluster.g1, cluster.g2):
        g.conn().call("FLUSHALL")


def _cli(port, *args, input=None, timeout=30):
    return subprocess.run([REDIS_CLI, "-h", "127.0.0.1", "-p", str(port), *map(str, args)],
                          input=input, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=_set_pdeathsig)


def test_redis_cli(cluster):
    port = cluster.proxy.port
    r = _cli(port, "PING")
    assert r.returncode == 0 and r.stdout.strip() == "PONG", r
    r = _cli(port, "SET", A, "from-cli")
    assert r.stdout.strip() == "OK", r
    assert _cli(port, "GET", A).stdout.strip() == "from-cli"
    r = _cli(port, "-n", 2, "SET", B, "db2")
    assert r.stdout.strip() == "OK", r
    with cluster.g2.conn(2) as c:
        assert c.call("GET", B) == b"db2"
    script = f"SET {B} piped\nGET {B}\nINCR {B}\nMGET {A} {B}\nHSET {A} f v\nDEL {B}\nGET {B}\n"
    with cluster.direct.conn() as dc:
        dc.call("SET", A, "from-cli")
    rp = _cli(port, input=script)
    rd = _cli(cluster.direct.port, input=script)
    assert rp.returncode == 0, rp
    assert rp.stdout == rd.stdout and rp.stdout.startswith("OK\npiped\n"), (rp.stdout, rd.stdout)
    r = _cli(port, "CONFIG", "SET", "save", "")
    assert "not allowed" in r.stdout, r
    # --pipe mass insertion (raw protocol)
    payload = "".join(f"*3\r\n$3\r\nSET\r\n${len(k)}\r\n{k}\r\n$1\r\n1\r\n"
                      for k in keys_in_slots(0, 1023, 1000, "pipe"))
    r = _cli(port, "--pipe", input=payload)
    assert r.returncode == 0 and "errors: 0, replies: 1000" in r.stdout, r
    assert _cli(port, "EXISTS", *keys_in_slots(0, 1023, 1000, "pipe")).stdout.strip() == "1000"


def _bench(port, *extra):
    cmd = [REDIS_BENCHMARK, "-h", "127.0.0.1", "-p", str(port), "-t",
           "get,set,incr,lpush,rpop,sadd,hset,mset", "-n", "20000", "-c", "20", "-q", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, preexec_fn=_set_pdeathsig)


@pytest.mark.timeout(150)
@pytest.mark.parametrize("pipeline", [None, 16])
def test_redis_benchmark(cluster, pipeline):
    # the pipelined run also spreads keys (-r) so both groups get traffic
    r = _bench(cluster.proxy.port, *(["-P", str(pipeline), "-r", "100000"] if pipeline else []))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    lines = [l for l in out.replace("\r", "\n").split("\n") if "requests per second" in l]
    names = {l.split(":")[0].strip().split()[0] for l in lines}
    assert {"SET", "GET", "INCR", "LPUSH", "RPOP", "SADD", "HSET", "MSET"} <= names, out
    errors = [l for l in out.replace("\r", "\n").split("\n") if re.search(r"error|ERR", l, re.I)]
    assert not errors, "redis-benchmark reported errors:\n" + "\n".join(errors[:20])
    if pipeline:  # the traffic really went through to both groups
        for g in (cluster.g1, cluster.g2):
            with g.conn() as c:
                assert c.call("DBSIZE") > 1000
