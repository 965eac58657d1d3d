"""codis-admin driving a real cluster: ZooKeeper, codis-dashboard, two
redis-servers with the codis_slots module and one codis-proxy, all built and
inspected through the CLI only (the daemons' HTTP APIs are read directly just
to check what the CLI did).

One cluster per module; tests run in file order and each leaves the cluster
as the next one expects."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from dashboard_harness import Dashboard
from harness import TEST_ADMIN_AUTH, Proxy, RedisServer, build_dir, free_port, slot_of, wait_until

PRODUCT = "codis-admin-it"


def admin_binary() -> Path:
    env = os.environ.get("CODIS_ADMIN_BIN")
    return Path(env) if env else build_dir() / "dashboard" / "admin" / "codis-admin"


def module_path() -> Path:
    return build_dir() / "server-patches" / "codis_slots.so"


class Run:
    def __init__(self, p: subprocess.CompletedProcess):
        self.rc, self.out, self.err = p.returncode, p.stdout, p.stderr

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"rc={self.rc} out={self.out[:500]!r} err={self.err[:500]!r}"


def admin(*args, timeout=30, env=None) -> Run:
    """codis-admin with the test daemons' admin secret in CODIS_ADMIN_AUTH,
    unless `env` gives the environment variables to use instead."""
    binary = admin_binary()
    if not binary.exists():
        pytest.fail(f"codis-admin not found at {binary} (set CODIS_BUILD_DIR or CODIS_ADMIN_BIN)", pytrace=False)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CODIS_ADMIN_AUTH")}
    environ.update({"CODIS_ADMIN_AUTH": TEST_ADMIN_AUTH} if env is None else env)
    return Run(subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                              env=environ))


def ok(*args, env=None) -> Run:
    r = admin(*args, env=env)
    assert r.rc == 0, f"codis-admin {' '.join(map(str, args))}: {r}"
    return r


def fails(*args, needle=None, env=None) -> Run:
    """rc 1, nothing on stdout, one line on stderr (containing needle)."""
    r = admin(*args, env=env)
    assert r.rc == 1, r
    assert r.out == "", r
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("codis-admin: "), r
    if needle:
        assert needle in r.err, r
    return r


class Cluster:
    def __init__(self, tmp, zk):
        mod = module_path()
        if not mod.exists():
            pytest.fail(f"{mod} is missing: build server-patches first", pytrace=False)
        self.servers = []
        self.proxy = self.dash = None
        try:
            self.servers = [RedisServer(tmp, extra=["--loadmodule", str(mod)]).start() for _ in range(2)]
            self.proxy = Proxy(tmp, None, {"product_name": PRODUCT}).start()
            self.dash = Dashboard(tmp, PRODUCT, zk.addr).start()
        except Exception:
            self.close()
            raise
        self.d = f"--dashboard=127.0.0.1:{self.dash.port}"
        self.p = f"--proxy=127.0.0.1:{self.proxy.admin_port}"

    def close(self):
        for x in (self.dash, self.proxy, *self.servers):
            if x is not None:
                x.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, zookeeper):
    c = Cluster(tmp_path_factory.mktemp("admin"), zookeeper)
    yield c
    c.close()


# ---------------------------------------------------------------- no daemon needed

def test_help_teaches():
    r = ok("--help")
    assert "Usage:" in r.out and "Examples" in r.out
    for flag in ("--create-group", "--group-add", "--slot-action", "--rebalance", "--proxy-status", "--fillslots"):
        assert flag in r.out, flag
    assert r.err == ""


def test_bad_flags_exit_1_with_a_reason():
    fails("--create-group", "--gid=1", needle="--dashboard=ADDR or --proxy=ADDR")
    fails("--dashboard=127.0.0.1:1", "--no-such-flag", needle="--no-such-flag")
    fails("--dashboard=127.0.0.1:1", "--create-group", needle="needs --gid")
    fails("--dashboard=127.0.0.1:1", "--create-group", "--gid=one", needle="integer")
    fails("--dashboard=127.0.0.1:1", "--slots-assign", "--beg=0", "--end=2000", "--gid=1", needle="not a slot")
    fails("--dashboard=127.0.0.1:1", "--create-group", "--gid=1", "--remove-group", needle="one action")
    fails("--proxy=127.0.0.1:1", "--create-group", "--gid=1", needle="dashboard command")
    fails("--dashboard=127.0.0.1:1", "--start", needle="proxy command")
    fails("--dashboard=127.0.0.1:1", "--log-level=loud", needle="not a level")


def test_unreachable_addresses_exit_1():
    port = free_port()
    fails(f"--dashboard=127.0.0.1:{port}", "--list-group", needle=f"127.0.0.1:{port}")
    fails(f"--proxy=127.0.0.1:{port}", "--stats", needle="Connection refused")
    fails(f"--proxy=127.0.0.1:{port}", "--shutdown", needle="Connection refused")
    fails("--dashboard=no-colon", "--list-group", needle="host:port")


# ---------------------------------------------------------------- dashboard

def test_build_groups(cluster):
    d, (r1, r2) = cluster.d, cluster.servers
    for gid, srv in ((1, r1), (2, r2)):
        assert ok(d, "--create-group", f"--gid={gid}").out == ""
        ok(d, "--group-add", "--gid", gid, "--addr", srv.addr)  # space-separated values too
    groups = ok(d, "--list-group").json()
    assert [g["id"] for g in groups] == [1, 2]
    assert [s["server"] for s in groups[0]["servers"]] == [r1.addr]

    # The dashboard's Cause comes through, on one line.
    fails(d, "--create-group", "--gid=1", needle="group-[1]")
    fails(d, "--group-add", "--gid=9", "--addr", r1.addr, needle="group-[9]")

    def polled():
        r = ok(d, "--group-status")
        return r.out if "[?]" not in r.out else None
    out = wait_until(polled, 15, what="group stats polled")
    lines = out.splitlines()
    assert lines[0].startswith("[ ] group-1 [0] " + r1.addr) and lines[0].endswith("==> NO:ONE"), out
    assert lines[1].startswith("[ ] group-2 [0] " + r2.addr), out


def test_admin_secret_sources(cluster, tmp_path):
    """The secret from --auth, --auth-file, CODIS_ADMIN_AUTH(_FILE) or the
    quickstart's file; without it (or with a wrong one) a clear error, and
    nothing changes."""
    d = cluster.d
    empty_qs = {"CODIS_QUICKSTART_DIR": str(tmp_path / "no-quickstart")}
    r = fails(d, "--create-group", "--gid=7", env=empty_qs, needle="not authorized")
    assert "--auth-file" in r.err and "CODIS_ADMIN_AUTH" in r.err, r
    fails(d, "--list-group", env={**empty_qs, "CODIS_ADMIN_AUTH": "wrong"}, needle="not authorized")
    fails(d, "--auth=wrong", "--list-group", needle="not authorized")
    assert all(g["id"] != 7 for g in ok(d, "--list-group").json())

    secret = tmp_path / "secret"
    secret.write_text(TEST_ADMIN_AUTH + "\n")
    ok(d, "--list-group", f"--auth-file={secret}", env=empty_qs)
    ok(d, "--list-group", env={**empty_qs, "CODIS_ADMIN_AUTH_FILE": str(secret)})
    ok(d, "--list-group", f"--auth={TEST_ADMIN_AUTH}", env=empty_qs)
    qs = tmp_path / "qs"
    qs.mkdir()
    (qs / "admin_auth").write_text(TEST_ADMIN_AUTH + "\n")
    ok(d, "--list-group", env={"CODIS_QUICKSTART_DIR": str(qs)})
    fails(d, "--list-group", f"--auth-file={tmp_path / 'missing'}", env=empty_qs, needle="missing")


def test_create_proxy_and_status(cluster):
    d, proxy = cluster.d, cluster.proxy
    admin_addr = f"127.0.0.1:{proxy.admin_port}"
    ok(d, "--create-proxy", f"--addr={admin_addr}")
    proxies = ok(d, "--list-proxy").json()
    assert len(proxies) == 1 and proxies[0]["admin_addr"] == admin_addr
    token = proxies[0]["token"]
    assert token == proxy.get("/api/proxy/model").json()["token"]

    def polled():
        r = ok(d, "--proxy-status")
        return r.out if r.out.startswith("[ ]") else None
    out = wait_until(polled, 15, what="proxy stats polled")
    assert f"proxy-1 [T] {token} [A] {admin_addr} [P] {proxy.addr}" in out, out
    fails(d, "--create-proxy", "--addr=127.0.0.1:1", needle="127.0.0.1:1")


def test_slots_assign_preview_then_confirm(cluster):
    d, (r1, r2), proxy = cluster.d, cluster.servers, cluster.proxy
    preview = ok(d, "--slots-assign", "--beg=0", "--end=511", "--gid=1")
    plan = preview.json()
    assert len(plan) == 512 and plan[0]["id"] == 0 and plan[511]["group_id"] == 1
    assert "--confirm" in preview.err
    assert all(s["group_id"] == 0 for s in ok(d, "--slots").json()), "a preview must change nothing"

    ok(d, "--slots-assign", "--beg=0", "--end=511", "--gid=1", "--confirm")
    slots = ok(d, "--slots-status").json()
    assert len(slots) == 1024
    assert slots[0]["backend_addr"] == r1.addr and slots[511]["backend_addr_group_id"] == 1
    assert slots[512].get("backend_addr", "") == ""


def test_rebalance(cluster):
    d, (r1, r2), proxy = cluster.d, cluster.servers, cluster.proxy
    r = ok(d, "--rebalance")
    assert r.out == "[0512,1023] => 2\ndone\n", r
    assert "--confirm" in r.err
    assert ok(d, "--slots-status").json()[600].get("backend_addr", "") == ""
    ok(d, "--rebalance", "--confirm")
    assert ok(d, "--rebalance").out == "nothing changes\n"

    table = {s["id"]: s for s in ok(cluster.p, "--slots").json()}  # pushed to the proxy
    assert table[0]["backend_addr"] == r1.addr and table[1023]["backend_addr"] == r2.addr
    keys = [f"admin:{i}" for i in range(50)]
    with proxy.conn() as c:
        for k in keys:
            assert c.call("SET", k, k) == "OK"
    with r1.conn() as c1, r2.conn() as c2:
        for k in keys:
            assert (c1 if slot_of(k) < 512 else c2).call("GET", k) == k.encode()


def test_dashboard_views(cluster):
    d = cluster.d
    o = ok(d).json()
    assert {"config", "model", "stats"} <= set(o)
    assert ok(d, "--overview").json().keys() == o.keys()
    assert ok(d, "--model").json()["product_name"] == PRODUCT
    assert ok(d, "--config").json()["product_name"] == PRODUCT
    assert ok(d, "model").json()["product_name"] == PRODUCT  # Codis's bare words
    assert len(ok(d, "--slots").json()) == 1024
    assert [g["id"] for g in ok(d, "--group").json()["models"]] == [1, 2]
    assert len(ok(d, "--proxy").json()["models"]) == 1  # --proxy without a value: the view
    assert len(ok(d, "proxy").json()["models"]) == 1
    assert ok(d, "--stats").json()["closed"] is False
    assert "  \"" in ok(d, "--model").out  # indented
    # --product names the product instead of reading it. It only feeds Codis's
    # xauth, which the admin secret supersedes (a wrong xauth fails only in
    # admin_compat_xauth mode, tests/dashboard/test_admin_security.py).
    ok(d, f"--product={PRODUCT}", "--list-group")
    ok(d, "--product=other", "--list-group")


def test_dashboard_operations(cluster):
    d, (r1, r2) = cluster.d, cluster.servers
    ok(d, "--resync-group", "--gid=1")
    ok(d, "--resync-group", "--all")
    ok(d, "--reload")
    ok(d, "--log-level=info")
    ok(d, "--reinit-proxy", "--all")
    ok(d, "--reinit-proxy", "--pid=1")
    fails(d, "--reinit-proxy", "--pid=7", needle="id = 7")
    fails(d, "--promote-server", "--gid=2", f"--addr={r2.addr}", needle="can't promote master")
    fails(d, "--remove-group", "--gid=1", needle="group-[1]")  # it still has servers and slots
    fails(d, "--group-del", "--gid=1", f"--addr=127.0.0.1:{free_port()}")


def test_slot_action_is_clear(cluster):
    r = admin(cluster.d, "--slot-action", "--create", "--sid=1", "--gid=2")
    if r.rc != 0:  # the dashboard may not offer slot migration yet
        assert r.out == "" and len(r.err.strip().splitlines()) == 1, r
        assert "slot-action --create failed" in r.err, r
        assert "does not serve /api/topom/slots/action/create" in r.err or "(PUT /api/topom/slots/action" in r.err, r
    fails(cluster.d, "--slot-action", "--create", "--sid=5000", "--gid=2", needle="not a slot")


# ---------------------------------------------------------------- proxy

def test_proxy_views(cluster):
    p, proxy = cluster.p, cluster.proxy
    model = ok(p, "--model").json()
    assert model["token"] == proxy.get("/api/proxy/model").json()["token"]
    assert model["product_name"] == PRODUCT
    assert {"config", "model", "stats", "slots"} <= set(ok(p).json())
    assert "online" in ok(p, "--stats").json()
    assert ok(p, "--config").json()["product_name"] == PRODUCT
    assert len(ok(p, "--slots").json()) == 1024
    assert ok(p, "stats").json().keys() == ok(p, "--stats").json().keys()


def test_proxy_actions(cluster, tmp_path):
    p, proxy = cluster.p, cluster.proxy
    with proxy.conn() as c:
        for i in range(20):
            c.call("GET", f"k{i}")
    assert proxy.get("/proxy/stats").json()["ops"]["total"] > 0
    ok(p, "--reset-stats")
    assert proxy.get("/proxy/stats").json()["ops"]["total"] <= 1
    ok(p, "--log-level=debug")
    ok(p, "--log-level", "info")
    ok(p, "--forcegc")
    ok(p, "--start")  # already online: a no-op, as in Codis

    # fillslots: the proxy's own table back, locked.
    table = ok(p, "--slots").json()
    f = tmp_path / "slots.json"
    f.write_text(json.dumps(table[:4]))
    ok(p, f"--fillslots={f}", "--locked")
    assert all(s.get("locked") for s in ok(p, "--slots").json()[:4])
    f.write_text(json.dumps([dict(s, locked=False) for s in table[:4]]))
    ok(p, f"--fillslots={f}")
    bad = tmp_path / "bad.json"
    bad.write_text('[{"id": 1024}]')
    fails(p, f"--fillslots={bad}", needle="invalid slot id = 1024")
    fails(p, f"--fillslots={tmp_path / 'missing.json'}", needle="missing.json")

    fails(p, "--auth=wrong", "--reset-stats", needle="not authorized")


def test_shutdowns_and_remove_proxy(cluster):
    d, p, proxy = cluster.d, cluster.p, cluster.proxy
    admin_addr = f"127.0.0.1:{proxy.admin_port}"
    ok(p, "--shutdown")
    wait_until(lambda: proxy.proc.poll() is not None, 15, what="codis-proxy exits after --shutdown")
    fails(p, "--model", needle="Connection refused")

    # The dashboard cannot reach it to take it offline: only --force removes it.
    fails(d, "--remove-proxy", f"--addr={admin_addr}", needle=admin_addr)
    ok(d, "--remove-proxy", f"--addr={admin_addr}", "--force")
    assert ok(d, "--list-proxy").json() == []
    fails(d, "--remove-proxy", f"--addr={admin_addr}", needle="no proxy")
    ok(d, "--remove-proxy", f"--addr={admin_addr}", "--force")  # nothing to do

    ok(d, "--shutdown")
    wait_until(lambda: cluster.dash.proc.poll() is not None, 15, what="codis-dashboard exits after --shutdown")
    fails(d, "--list-group")
