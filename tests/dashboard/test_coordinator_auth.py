"""A whole cluster with coordinator_auth (ZooKeeper digest ACLs): a dashboard
with coordinator_auth and a proxy with --zookeeper/--zookeeper-auth build and
serve a cluster; every node they create carries the digest ACL (the jodis
node also world-readable); clients without the credentials, or with a wrong
password, are refused with a clear error and no crash."""

import base64
import hashlib
import json
import subprocess

import pytest

from coordinator_shell import run_cli
from dashboard_harness import Dashboard, codis_server
from harness import Proxy, Status, key_in_slot, wait_until
from zk_harness import ZooKeeperServer, ZooKeeperUnavailable

AUTH = "codis:Cluster-Pa55word"
PRODUCT = "codis-acl"


def digest_entry(auth, perms="cdrwa"):
    user = auth.split(":", 1)[0]
    return f"digest:{user}:" + base64.b64encode(hashlib.sha1(auth.encode()).digest()).decode() + f"={perms}"


OURS = [digest_entry(AUTH)]
OURS_PUBLIC = sorted([digest_entry(AUTH), "world:anyone=r"])


def cli(zk, *args, auth=AUTH):
    return run_cli("zookeeper", zk, *args, extra=("--auth", auth) if auth else ())


def acl(zk, path):
    r = cli(zk, "acl", path)
    assert r.returncode == 0, (path, r.stderr)
    return sorted(r.stdout.split())


def exited(proc, timeout=20):
    try:
        proc.wait(timeout)
        return True
    except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired
        return False


def test_cluster_with_coordinator_auth(tmp_path, zookeeper):
    z = zookeeper.addr
    server = codis_server(tmp_path).start()
    dash = proxy = None
    try:
        dash = Dashboard(tmp_path, PRODUCT, z, extra_config=f'coordinator_auth = "{AUTH}"\n').start()
        # The proxy registers in ZooKeeper and hands itself to the dashboard.
        proxy = Proxy(tmp_path, None, {"product_name": PRODUCT},
                      extra_args=["--zookeeper", z, "--zookeeper-auth", AUTH]).start()
        token = proxy.model()["token"]
        wait_until(lambda: [p["token"] for p in dash.ok("GET", "/api/topom/stats/{x}")["proxy"]["models"]] == [token],
                   20, what="proxy taken over by the dashboard")
        dash.ok("PUT", "/api/topom/group/create/{x}/1")
        dash.ok("PUT", f"/api/topom/group/add/{{x}}/1/{server.addr}")
        dash.ok("PUT", "/api/topom/slots/assign/{x}", [{"id": i, "group_id": 1} for i in range(1024)])

        # The proxy got its slots and serves them.
        wait_until(lambda: proxy.get("/proxy/slots").json()[1023].get("backend_addr") == server.addr, 20,
                   what="slots pushed to the proxy")
        with proxy.conn() as c:
            assert c.call("SET", key_in_slot(5, "acl"), "v") == Status("OK")

        # Every node carries the digest ACL; the jodis node is also world-readable.
        base = f"/codis3/{PRODUCT}"
        for path in ("/codis3", base, f"{base}/topom", f"{base}/group/group-0001", f"{base}/slots",
                     f"{base}/slots/slot-0000", f"{base}/slots/slot-1023", f"{base}/proxy/proxy-{token}"):
            assert acl(z, path) == OURS, path
        for path in ("/jodis", f"/jodis/{PRODUCT}", f"/jodis/{PRODUCT}/proxy-{token}"):
            assert acl(z, path) == OURS_PUBLIC, path

        # Without the credentials, or with a wrong password: refused, nothing changes.
        for auth in (None, "codis:Wr0ng-Pa55word"):
            r = cli(z, "read", f"{base}/topom", auth=auth)
            assert r.returncode == 1 and "refused access" in r.stderr, r.stderr
            r = cli(z, "remove", f"{base}/proxy/proxy-{token}", auth=auth)
            assert r.returncode == 1 and "refused access" in r.stderr, r.stderr
            r = cli(z, "update", f"{base}/slots/slot-0000", '{"id":0,"group_id":9}', auth=auth)
            assert r.returncode == 1 and "refused access" in r.stderr, r.stderr
            r = cli(z, "read", f"/jodis/{PRODUCT}/proxy-{token}", auth=auth)  # client discovery
            assert r.returncode == 0 and json.loads(r.stdout)["addr"] == proxy.addr, r.stderr
        assert json.loads(cli(z, "read", f"{base}/slots/slot-0000").stdout)["group_id"] == 1
        assert cli(z, "read", f"{base}/proxy/proxy-{token}").returncode == 0

        # A second dashboard or a proxy with a wrong password: a clear error at
        # start, no crash, and the password in no log.
        bad_dash = Dashboard(tmp_path, PRODUCT, z, extra_config='coordinator_auth = "codis:Wr0ng-Pa55word"\n')
        bad_dash.start(wait_active=False)
        try:
            assert exited(bad_dash.proc), bad_dash.tail()
            assert bad_dash.proc.returncode not in (0, -6, -11), bad_dash.proc.returncode  # no abort/segfault
            out = bad_dash.tail(20000)
            assert "refused access" in out and "does not match" in out, out
            assert "Wr0ng-Pa55word" not in out
        finally:
            bad_dash.stop()
        bad_proxy = Proxy(tmp_path, None, {"product_name": PRODUCT})
        bad_proxy.write_files()
        r = subprocess.run([str(bad_proxy.binary), "--config", str(bad_proxy.config_file), "--zookeeper", z,
                            "--zookeeper-auth", "codis:Wr0ng-Pa55word"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 1, (r.returncode, r.stderr)
        assert "refused access" in r.stderr and "Wr0ng-Pa55word" not in r.stderr, r.stderr
        assert dash.alive() and proxy.alive()
        assert "Cluster-Pa55word" not in dash.tail(10**6) and "Cluster-Pa55word" not in proxy.tail(10**6)
    finally:
        for p in (proxy, dash, server):
            if p:
                p.stop()


def test_jodis_registration_with_jodis_auth(tmp_path):
    """jodis_name/jodis_addr/jodis_auth (proxy.toml): the proxy registers its
    jodis node in that ZooKeeper, with jodis_auth's digest ACL and world READ;
    jodis_compatible puts it at Codis 2's path. It goes with the proxy."""
    # A server of its own: /jodis must not belong to another test's user yet.
    try:
        zk = ZooKeeperServer(str(tmp_path / "zk")).start()
    except ZooKeeperUnavailable as e:
        pytest.fail(f"ZooKeeper unavailable: {e}", pytrace=False)
    try:
        jodis_case(tmp_path, zk.addr)
    finally:
        zk.close()


def jodis_case(tmp_path, z):
    jodis_auth = "jodis:Jodis-Pa55word"
    for compatible, path_of in ((False, lambda t: f"/jodis/codis-jodis/proxy-{t}"),
                                (True, lambda t: f"/zk/codis/db_codis-jodis/proxy-{t}")):
        proxy = Proxy(tmp_path, None, {"product_name": "codis-jodis", "jodis_name": "zookeeper", "jodis_addr": z,
                                       "jodis_auth": jodis_auth, "jodis_compatible": compatible},
                      extra_args=["--zookeeper", z, "--zookeeper-auth", AUTH]).start()
        try:
            path = path_of(proxy.model()["token"])
            wait_until(lambda: cli(z, "read", path, auth=None).returncode == 0, 20, what=f"{path} registered")
            assert json.loads(cli(z, "read", path, auth=None).stdout)["addr"] == proxy.addr  # anyone reads it
            r = cli(z, "acl", path, auth=jodis_auth)
            assert sorted(r.stdout.split()) == sorted([digest_entry(jodis_auth), "world:anyone=r"]), r.stderr
            r = cli(z, "remove", path, auth=AUTH)  # the coordinator's user is not jodis's
            assert r.returncode == 1 and "refused access" in r.stderr, r.stderr
            assert "Jodis-Pa55word" not in proxy.tail(10**6)
        finally:
            proxy.stop()
        assert cli(z, "read", path, auth=None).returncode == 3  # gone with the proxy's session
