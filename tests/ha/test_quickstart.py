"""deploy/quickstart.sh as a new user runs it (without the apt and build
steps): every part on free ports in a temporary state directory, the whole
path checked (HAProxy -> proxies -> groups with replicas, slots, sentinels,
the web UI URL), a second start that changes nothing, stop (no process it
started is left), start again (the same cluster, data kept), stop."""

import base64
import json
import os
import stat
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from dashboard_harness import topom_xauth
from harness import REPO_ROOT, RespConn, build_dir, free_port, http, key_in_slots

SCRIPT = REPO_ROOT / "deploy" / "quickstart.sh"
PRODUCT = "codis-demo"


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def pids_in(state: Path) -> dict:
    """{pidfile: pid} of every pidfile under the state directory."""
    out = {}
    for f in state.glob("*/*.pid"):
        try:
            out[str(f.relative_to(state))] = int(f.read_text().strip())
        except (OSError, ValueError):
            pass
    return out


class QuickStart:
    def __init__(self, tmp: Path):
        self.state = tmp / "qs"
        self.ports = {name: free_port() for name in (
            "ZK", "G1_MASTER", "G1_REPLICA", "G2_MASTER", "G2_REPLICA", "SENTINEL1", "SENTINEL2",
            "SENTINEL3", "DASHBOARD", "PROXY1", "PROXY1_ADMIN", "PROXY2", "PROXY2_ADMIN", "HAPROXY",
            "HAPROXY_STATS", "PROXY1_TLS", "PROXY2_TLS", "HAPROXY_TLS")}
        self.env = dict(os.environ, CODIS_QS_SKIP_DEPS="1", CODIS_QS_SKIP_BUILD="1", CODIS_QS_SENTINEL_DOWN_AFTER="1s",
                        CODIS_BUILD_DIR=str(build_dir()), CODIS_QUICKSTART_DIR=str(self.state))
        for name, port in self.ports.items():
            self.env[f"CODIS_QS_{name}_PORT"] = str(port)
        self.seen_pids = {}

    def run(self, *args, timeout=240):
        t0 = time.monotonic()
        r = subprocess.run(["bash", str(SCRIPT), *args], env=self.env, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        self.seen_pids.update(pids_in(self.state))
        return r, time.monotonic() - t0

    @property
    def secret(self) -> str:
        """The admin secret the quickstart generated (and keeps across runs)."""
        return (self.state / "admin_auth").read_text().strip()

    def dash(self, path):
        r = http("GET", f"http://127.0.0.1:{self.ports['DASHBOARD']}{path}", timeout=10, auth=self.secret)
        assert r.status == 200, r
        return r.json()

    def kill_leftovers(self):
        for pid in set(self.seen_pids.values()) | set(pids_in(self.state).values()):
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


@pytest.fixture
def qs(tmp_path):
    q = QuickStart(tmp_path)
    try:
        yield q
    finally:
        try:
            q.run("stop", timeout=120)
        finally:
            q.kill_leftovers()


def test_quickstart_start_again_and_stop(qs):
    r, first = qs.run("start")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    # progress, then what to do
    steps = re.findall(r"(?m)^\[(\d)/9\] ", r.stdout)
    assert steps == [str(i) for i in range(1, 10)], r.stdout
    p = qs.ports
    assert f"redis-cli -p {p['HAPROXY']}" in r.stdout
    assert f"http://127.0.0.1:{p['DASHBOARD']}/" in r.stdout
    assert f"redis-cli -p {p['PROXY1']}" in r.stdout and f"redis-cli -p {p['PROXY2']}" in r.stdout
    assert f"{SCRIPT.relative_to(REPO_ROOT)} stop" in r.stdout or "quickstart.sh stop" in r.stdout
    assert str(qs.state) in r.stdout  # where the logs are
    # the admin secret: generated, root only, said where, never printed
    secret_file = qs.state / "admin_auth"
    assert str(secret_file) in r.stdout and qs.secret not in out
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600 and stat.S_IMODE(qs.state.stat().st_mode) == 0o700
    assert len(qs.secret) >= 40
    dash_url = f"http://127.0.0.1:{p['DASHBOARD']}"
    assert http("GET", dash_url + "/topom", auth=None).status == 401
    assert http("PUT", dash_url + f"/api/topom/group/create/{topom_xauth(PRODUCT)}/9", auth=None).status == 401
    assert http("GET", f"http://127.0.0.1:{p['PROXY1_ADMIN']}/proxy/model", auth=None).status == 401

    # a SET/GET through HAProxy, for keys of both groups
    with RespConn(p["HAPROXY"]) as c:
        for lo, hi in ((0, 511), (512, 1023)):
            k = key_in_slots(lo, hi, "qs-test")
            assert c.call("SET", k, "v") == "OK"
            assert c.call("GET", k) == b"v"

    # TLS: the printed redis-cli line works, through HAProxy and on each proxy's TLS port
    ca = qs.state / "tls" / "ca.crt"
    tls_line = f"redis-cli --tls --cacert {ca} -p {p['HAPROXY_TLS']}"
    assert tls_line in r.stdout, r.stdout
    k = key_in_slots(0, 1023, "qs-tls")
    for port in (p["HAPROXY_TLS"], p["PROXY1_TLS"], p["PROXY2_TLS"]):
        got = subprocess.run(["redis-cli", "--tls", "--cacert", str(ca), "-p", str(port), "SET", k, str(port)],
                             capture_output=True, text=True, timeout=30)
        assert got.stdout.strip() == "OK", (port, got)
    with RespConn(p["HAPROXY"]) as c:
        assert c.call("GET", k) == str(p["PROXY2_TLS"]).encode()

    # every slot assigned: 0-511 to group 1, 512-1023 to group 2
    slots = qs.dash(f"/api/topom/slots/{topom_xauth(PRODUCT)}")
    assert len(slots) == 1024
    for s in slots:
        gid = 1 if s["id"] < 512 else 2
        want = p["G1_MASTER"] if gid == 1 else p["G2_MASTER"]
        assert (s["backend_addr_group_id"], s["backend_addr"]) == (gid, f"127.0.0.1:{want}"), s

    # groups: master + replica, and the replica replicates
    stats = qs.dash("/topom/stats")
    groups = {g["id"]: [s["server"] for s in g["servers"]] for g in stats["group"]["models"]}
    assert groups == {1: [f"127.0.0.1:{p['G1_MASTER']}", f"127.0.0.1:{p['G1_REPLICA']}"],
                      2: [f"127.0.0.1:{p['G2_MASTER']}", f"127.0.0.1:{p['G2_REPLICA']}"]}
    for master, replica in (("G1_MASTER", "G1_REPLICA"), ("G2_MASTER", "G2_REPLICA")):
        with RespConn(p[replica]) as c:
            info = c.call("INFO", "replication").decode()
        assert "role:slave" in info and f"master_port:{p[master]}" in info, info
    assert len(stats["proxy"]["models"]) == 2

    # every sentinel monitors both groups' masters
    assert sorted(stats["sentinels"]["model"]["servers"]) == sorted(
        f"127.0.0.1:{p[f'SENTINEL{i}']}" for i in (1, 2, 3))
    assert not stats["sentinels"]["model"].get("out_of_sync")
    for i in (1, 2, 3):
        with RespConn(p[f"SENTINEL{i}"]) as c:
            masters = {}
            for m in c.call("SENTINEL", "MASTERS"):
                fields = dict(zip(m[::2], m[1::2]))
                masters[fields[b"name"].decode()] = int(fields[b"port"])
        assert masters == {f"{PRODUCT}-1": p["G1_MASTER"], f"{PRODUCT}-2": p["G2_MASTER"]}

    # the UI URL answers
    r_ui = http("GET", f"http://127.0.0.1:{p['DASHBOARD']}/", timeout=10)
    assert r_ui.status == 200, r_ui

    # status: everything up
    r, _ = qs.run("status")
    assert r.returncode == 0 and "NOT answering" not in r.stdout, r.stdout

    # start again: nothing restarted, nothing set up twice
    pids = pids_in(qs.state)
    assert len(pids) == 12, pids  # zk, 4 redis, 3 sentinels, dashboard, 2 proxies, haproxy
    r, again = qs.run("start")
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    assert pids_in(qs.state) == pids
    assert r.stdout.count("already running") == 12, r.stdout
    for word in ("created", "added", "assigned to", "removed", "sync action", " is up "):
        assert word not in r.stdout, f"{word!r} on the second start:\n{r.stdout}"
    assert again < 60, f"the second start took {again:.0f}s"
    stats = qs.dash("/topom/stats")
    assert len(stats["group"]["models"]) == 2 and len(stats["proxy"]["models"]) == 2
    assert len(stats["sentinels"]["model"]["servers"]) == 3
    print(f"\nquickstart: first start {first:.1f}s, second start {again:.1f}s")

    # a Sentinel failover, then start again: the former replica is group 1's
    # master now, and the old master comes back as its replica
    os.kill(pids["redis-" + str(p["G1_MASTER"]) + "/redis.pid"], signal.SIGKILL)
    k1 = key_in_slots(0, 511, "qs-failover")
    deadline = time.monotonic() + 60
    while True:
        try:
            with RespConn(p["HAPROXY"]) as c:
                if c.call("SET", k1, "after") == "OK":
                    break
        except Exception:  # noqa: BLE001 - errors are expected until the switch
            pass
        assert time.monotonic() < deadline, "no write to group 1 succeeded within 60s of killing its master"
        time.sleep(0.2)
    r, _ = qs.run("start")
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    assert f"1 = 127.0.0.1:{p['G1_REPLICA']} + replica :{p['G1_MASTER']}" in r.stdout, r.stdout
    with RespConn(p["G1_MASTER"]) as c:
        info = c.call("INFO", "replication").decode()
    assert "role:slave" in info and f"master_port:{p['G1_REPLICA']}" in info, info
    with RespConn(p["HAPROXY"]) as c:
        assert c.call("GET", k1) == b"after"

    # a slot migrated (slot 112 held the quickstart's old check key of group
    # 1), then start again: it leaves the move alone and checks each group
    # with a key of a slot the group owns now (issue 15: this exited 1)
    dash = f"http://127.0.0.1:{p['DASHBOARD']}"
    r = http("PUT", dash + f"/api/topom/slots/action/create/{topom_xauth(PRODUCT)}/112/2", auth=qs.secret)
    assert r.status == 200, r
    deadline = time.monotonic() + 60
    while qs.dash("/topom/slots")[112]["backend_addr_group_id"] != 2 or qs.dash("/topom/slots")[112].get("action"):
        assert time.monotonic() < deadline, qs.dash("/topom/slots")[112]
        time.sleep(0.2)
    r, _ = qs.run("start")
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    assert "end-to-end check: ok" in r.stdout and "assigned to" not in r.stdout, r.stdout
    assert qs.dash("/topom/slots")[112]["backend_addr_group_id"] == 2
    pids = pids_in(qs.state)

    # stop: every process is gone
    def stop_and_check(pids):
        r, _ = qs.run("stop")
        assert r.returncode == 0, r.stdout + r.stderr
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(pid) for pid in pids.values()):
            time.sleep(0.1)
        assert not [name for name, pid in pids.items() if alive(pid)]
        r, _ = qs.run("status")
        assert r.returncode != 0 and "running (pid" not in r.stdout, r.stdout
    stop_and_check(pids)

    # start after stop: the same cluster comes back (data kept, replicas and
    # proxies set up again, the old proxies' registrations dropped)
    r, third = qs.run("start")
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    assert "already exist" in r.stdout and "already assigned" in r.stdout, r.stdout
    with RespConn(p["HAPROXY"]) as c:
        assert c.call("GET", key_in_slots(0, 511, "qs-test")) == b"v"
        assert c.call("GET", key_in_slots(512, 1023, "qs-test")) == b"v"
    stats = qs.dash("/topom/stats")
    assert len(stats["proxy"]["models"]) == 2 and len(stats["group"]["models"]) == 2
    pids = pids_in(qs.state)
    assert len(pids) == 12, pids
    print(f"quickstart: start after stop {third:.1f}s")
    stop_and_check(pids)


def test_quickstart_on_etcd(tmp_path):
    """CODIS_QS_COORDINATOR=etcd: the same cluster with one etcd member in
    place of ZooKeeper (deploy/configs/etcd/etcd.conf.yml), the topology in
    etcd, status and stop covering it."""
    q = QuickStart(tmp_path)
    q.ports.update(ETCD=free_port(), ETCD_PEER=free_port())
    q.env.update(CODIS_QS_COORDINATOR="etcd", CODIS_QS_ETCD_PORT=str(q.ports["ETCD"]),
                 CODIS_QS_ETCD_PEER_PORT=str(q.ports["ETCD_PEER"]))
    try:
        r, _ = q.run("start")
        assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
        assert "starting etcd" in r.stdout and re.search(rf"etcd: +127\.0\.0\.1:{q.ports['ETCD']}\n", r.stdout), r.stdout
        assert not any("zookeeper" in name for name in q.seen_pids), q.seen_pids
        with RespConn(q.ports["HAPROXY"]) as c:
            k = key_in_slots(512, 1023, "qs-etcd")
            assert c.call("SET", k, "v") == "OK" and c.call("GET", k) == b"v"
        # the lock and the slots are keys in etcd
        got = http("POST", f"http://127.0.0.1:{q.ports['ETCD']}/v3/kv/range", auth=None,
                   body={"key": base64.b64encode(f"/codis3/{PRODUCT}/slots/slot-1023".encode()).decode()})
        slot = json.loads(base64.b64decode(got.json()["kvs"][0]["value"]))
        assert slot["group_id"] == 2
        r, _ = q.run("status")
        assert f"etcd 127.0.0.1:{q.ports['ETCD']}: running" in r.stdout, r.stdout
        etcd_pid = q.seen_pids["etcd/etcd.pid"]
    finally:
        q.run("stop", timeout=120)
        q.kill_leftovers()
    assert not alive(etcd_pid)
